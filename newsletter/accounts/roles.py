"""The one role model: which role may do what, for the console, the API and the CLI alike.

`ALLOWED` says which roles may take each kind of action; `ENDPOINTS` says which kind of action each console
page and API operation is. The API's token check and the console's guard both consult `may_use_endpoint`
before any view runs, so an editor meets the same refusal (403) in both; the README's role table and
`tests/test_roles.py` are checked against these two tables. The CLI runs with the operator's shell access
and may do everything (its actor is the operating-system user, recorded in the activity log).

An endpoint that is not listed is public (the subscription API, the document, sign-in): `tests/test_roles.py`
fails when an endpoint behind a token or a session is missing here, so no new action goes unclassified.
"""

from __future__ import annotations

from enum import StrEnum

from newsletter.models import EditorRole


class Action(StrEnum):
    """Kinds of action, each allowed to a set of roles."""

    CONTENT = "content"  # articles, sections, feeds: read and write
    EDITIONS = "editions"  # build, edit, preview, test, send, schedule, pause, resume, cancel, reopen
    SUBSCRIBER_COUNTS = "subscriber_counts"  # counts, lookup of one exact address, import, confirmed-only export
    SUBSCRIBER_LIST = "subscriber_list"  # every subscriber with their address, in pages
    EXPORT_ALL = "export_all"  # the export with pending and unsubscribed readers
    ERASE = "erase"  # erasure on request
    SUPPRESSION_ADD = "suppression_add"  # stop mail to an address
    SUPPRESSION_LIST = "suppression_list"  # see the suppression list
    SUPPRESSION_REMOVE = "suppression_remove"  # mail an address again (lifts a complaint)
    ACTIVITY = "activity"  # read the activity log
    OWN_ACCOUNT = "own_account"  # one's own password, 2FA, sessions and language
    ACCOUNTS = "accounts"  # create editors, change roles, revoke, sign anyone out everywhere
    SETTINGS = "settings"  # the publication's settings


EVERYONE = frozenset(EditorRole)
ADMINS = frozenset({EditorRole.ADMIN})

ALLOWED: dict[Action, frozenset[EditorRole]] = {
    Action.CONTENT: EVERYONE,
    Action.EDITIONS: EVERYONE,
    Action.SUBSCRIBER_COUNTS: EVERYONE,
    Action.SUBSCRIBER_LIST: ADMINS,
    Action.EXPORT_ALL: ADMINS,
    Action.ERASE: ADMINS,
    Action.SUPPRESSION_ADD: EVERYONE,
    Action.SUPPRESSION_LIST: ADMINS,
    Action.SUPPRESSION_REMOVE: ADMINS,
    Action.ACTIVITY: EVERYONE,
    Action.OWN_ACCOUNT: EVERYONE,
    Action.ACCOUNTS: ADMINS,
    Action.SETTINGS: ADMINS,
}

_EDITION_API = (
    "list_editions build_editions show_edition edit_edition preview_edition preview_edition_text test_send "
    "send_edition schedule_edition unschedule_edition cancel_edition reopen_edition unpublish_edition "
    "publish_edition pause_send resume_send retry_failed"
)
_EDITION_CONSOLE = (
    "this_week build_week edition_show edition_preview edition_editorial edition_test edition_send_confirm "
    "edition_send edition_schedule edition_cancel edition_unschedule edition_reopen sending_page "
    "sending_progress sending_control"
)


def _each(prefix: str, names: str, action: Action) -> dict[str, Action]:
    return {f"{prefix}.{name}": action for name in names.split()}


ENDPOINTS: dict[str, Action] = {
    **_each("api", "list_articles create_article show_article update_article delete_article", Action.CONTENT),
    **_each("api", "list_sections replace_sections", Action.CONTENT),
    **_each("api", _EDITION_API, Action.EDITIONS),
    **_each("api", "list_stories show_story update_story link_stories unlink_article", Action.EDITIONS),
    **_each("api", "show_week send_the_week", Action.EDITIONS),
    **_each("api", "export_subscribers", Action.SUBSCRIBER_COUNTS),
    **_each("api", "list_subscribers", Action.SUBSCRIBER_LIST),
    **_each("api", "erase_subscriber erase_subscriber_by_email", Action.ERASE),
    **_each("api", "add_suppression", Action.SUPPRESSION_ADD),
    **_each("api", "list_suppressions", Action.SUPPRESSION_LIST),
    **_each("api", "remove_suppression", Action.SUPPRESSION_REMOVE),
    **_each("console", "articles_list article_new article_edit article_delete articles_upload", Action.CONTENT),
    **_each("console", "articles_fetch sections_page sections_save", Action.CONTENT),
    **_each("console", _EDITION_CONSOLE, Action.EDITIONS),
    **_each("console", "subscribers_page subscribers_lookup subscribers_import", Action.SUBSCRIBER_COUNTS),
    **_each("console", "subscribers_export", Action.SUBSCRIBER_COUNTS),
    **_each("console", "subscribers_erase", Action.ERASE),
    **_each("console", "suppression_list", Action.SUPPRESSION_LIST),
    **_each("console", "suppression_remove suppression_restore", Action.SUPPRESSION_REMOVE),
    **_each("console", "activity_page", Action.ACTIVITY),
    **_each("console", "two_factor sign_out end_session", Action.OWN_ACCOUNT),
    **_each("console", "editors_page editors_create editors_role editors_revoke editors_sign_out", Action.ACCOUNTS),
}
"""Every endpoint behind a token or a session, by the kind of action it is."""


def may(role: str, action: Action) -> bool:
    return role in ALLOWED[action]


def may_use_endpoint(role: str, endpoint: str | None) -> bool:
    """May this role use this endpoint? Unlisted endpoints are public ones (see the module's note)."""
    action = ENDPOINTS.get(endpoint or "")
    return action is None or may(role, action)


def admin_only_endpoints() -> list[str]:
    return sorted(name for name, action in ENDPOINTS.items() if ALLOWED[action] == ADMINS)
