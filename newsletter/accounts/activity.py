"""The activity log: who built, edited, sent, scheduled, paused, cancelled, erased or changed an account, and when.

Callers record after the service succeeded: the console views name the signed-in editor, the API's
after-request hook (`newsletter.api.audit`) the token's editor, the CLI wrapper (`newsletter.cli.audit`)
the operating-system user. No subscriber's address is ever written here (only ids), as in the logs.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from newsletter.core.extensions import db
from newsletter.models import ActivityEntry, Editor

ACTIONS = {
    "build": _l("Build"),
    "edit": _l("Edition edited"),
    "send": _l("Send"),
    "test_send": _l("Test send"),
    "schedule": _l("Schedule"),
    "unschedule": _l("Unschedule"),
    "reopen": _l("Reopen"),
    "pause": _l("Pause"),
    "resume": _l("Resume"),
    "cancel": _l("Cancellation"),
    "erase": _l("Erasure"),
    "article_create": _l("New article"),
    "article_edit": _l("Article edited"),
    "article_delete": _l("Article deleted"),
    "articles_import": _l("Articles imported"),
    "articles_fetch": _l("Feeds fetched"),
    "subscribers_import": _l("Subscribers imported"),
    "subscribers_export": _l("Subscribers exported"),
    "suppression_add": _l("Added to the suppression list"),
    "suppression_remove": _l("Removed from the suppression list"),
    "suppression_restore": _l("Readers of a wave of bounces given back"),
    "sections_set": _l("Sections changed"),
    "story_edit": _l("Story edited"),
    "story_link": _l("Translations linked"),
    "story_unlink": _l("Translation unlinked"),
    "week_send": _l("Week sent"),
    "account_create": _l("Account created"),
    "account_password": _l("Password changed"),
    "account_2fa_on": _l("Two-factor sign-in turned on"),
    "account_2fa_off": _l("Two-factor sign-in turned off"),
    "account_role": _l("Role changed"),
    "account_revoke": _l("Account revoked"),
    "account_locked": _l("Account locked after failed sign-ins"),
    "account_sign_out": _l("Signed out everywhere"),
}


@dataclass(frozen=True)
class Actor:
    """Who acted and through what: the console, the API, the CLI or the scheduler."""

    name: str
    channel: str
    editor_id: int | None = None


def editor_actor(editor: Editor, channel: str) -> Actor:
    return Actor(name=editor.name, channel=channel, editor_id=editor.id)


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(name=f"{user} (CLI)"[:200], channel="cli")


def record(actor: Actor, action: str, subject: str = "", detail: str = "") -> ActivityEntry:
    """Append one entry in its own commit (the action itself is already committed by its service)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown activity {action!r}")
    entry = ActivityEntry(
        editor_id=actor.editor_id,
        actor=actor.name[:200],
        channel=actor.channel,
        action=action,
        subject=subject[:300],
        detail=detail[:2000],
    )
    db.session.add(entry)
    db.session.commit()
    return entry


def recent(limit: int = 200, offset: int = 0) -> list[ActivityEntry]:
    query = select(ActivityEntry).order_by(ActivityEntry.at.desc(), ActivityEntry.id.desc())
    return list(db.session.scalars(query.limit(limit).offset(offset)))


def describe(entry: ActivityEntry) -> str:
    return str(ACTIONS.get(entry.action, entry.action))
