"""When an account is locked by failed sign-ins: an activity-log entry, and an email to the account's owner
through the delivery ledger's transactional mail (sent by the worker like a confirmation, retried alike).

The email says when and that the lock lifts by itself; it names no address the guesses came from (they may
be spoofed) and carries no link (a phishing look-alike could not be told apart).
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from newsletter.accounts import activity
from newsletter.core import mail_templates as rendering
from newsletter.core.extensions import db
from newsletter.core.settings import Settings
from newsletter.delivery.compose import build_message
from newsletter.delivery.ledger import enqueue_transactional
from newsletter.models import Editor
from newsletter.models.delivery import DeliveryKind

THROTTLE_ACTOR = activity.Actor(name="sign-in throttle", channel="console")


def account_locked(editor: Editor, settings: Settings) -> None:
    """Record the lock and queue the notice (to editors with an e-mail address) in one commit each."""
    activity.record(THROTTLE_ACTOR, "account_locked", editor.name, f"{editor.failed_sign_ins} failed attempts")
    if not editor.email:
        return
    locale = editor.console_language or "en"
    publication = settings.site.publication_name
    with force_locale(locale):
        subject = _("Your %(publication)s console account is locked for a while", publication=publication)
        html, text = rendering.render_email(
            "account_locked", subject=subject, publication=publication, locale=locale, name=editor.name
        )
        message = build_message(
            mail_from=settings.mail.mail_from, to=editor.email, subject=subject, text=text, html=html
        )
    enqueue_transactional(None, message, DeliveryKind.ACCOUNT_LOCKED, recipient=editor.email)
    db.session.commit()
