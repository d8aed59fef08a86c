"""Typed SQLAlchemy models, one module per part of the flow."""
from .content import Article, Edition
from .delivery import Delivery
from .editors import ActivityEntry, Editor, EditorRole
from .subscribers import Consent, Subscriber, SubscriberLanguage, Suppression
from .types import utcnow

__all__ = [
    "ActivityEntry",
    "EditorRole",
    "Article",
    "Consent",
    "Delivery",
    "Edition",
    "Editor",
    "Subscriber",
    "SubscriberLanguage",
    "Suppression",
    "utcnow",
]
