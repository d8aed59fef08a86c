"""Typed SQLAlchemy models, one module per part of the flow."""
from .bounces import BounceEvent, BounceKind
from .content import Article, Edition
from .delivery import Delivery
from .editors import ActivityEntry, Editor, EditorRole
from .health import Heartbeat
from .subscribers import Consent, Subscriber, SubscriberLanguage, Suppression
from .types import utcnow

__all__ = [
    "ActivityEntry",
    "EditorRole",
    "Article",
    "BounceEvent",
    "BounceKind",
    "Consent",
    "Delivery",
    "Edition",
    "Editor",
    "Heartbeat",
    "Subscriber",
    "SubscriberLanguage",
    "Suppression",
    "utcnow",
]
