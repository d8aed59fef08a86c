"""Typed SQLAlchemy models, one module per part of the flow."""

from newsletter.models.bounces import BounceEvent, BounceKind
from newsletter.models.content import Article, Edition
from newsletter.models.delivery import Delivery
from newsletter.models.editors import ActivityEntry, ConsoleSession, Editor, EditorRole
from newsletter.models.health import Heartbeat
from newsletter.models.mailboxes import MailboxMail
from newsletter.models.stories import Story
from newsletter.models.subscribers import Consent, Subscriber, SubscriberLanguage, Suppression
from newsletter.models.types import utcnow

__all__ = [
    "ActivityEntry",
    "EditorRole",
    "Article",
    "BounceEvent",
    "BounceKind",
    "Consent",
    "ConsoleSession",
    "Delivery",
    "Edition",
    "Editor",
    "Heartbeat",
    "MailboxMail",
    "Story",
    "Subscriber",
    "SubscriberLanguage",
    "Suppression",
    "utcnow",
]
