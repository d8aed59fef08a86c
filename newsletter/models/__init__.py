"""Typed SQLAlchemy models, one module per part of the flow."""
from .content import Article, Edition
from .delivery import Delivery
from .editors import Editor
from .subscribers import Consent, Subscriber, SubscriberLanguage, Suppression
from .types import utcnow

__all__ = [
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
