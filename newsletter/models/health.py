"""Heartbeats: each worker and scheduler process writes when it last did its rounds, for /readyz and /metrics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from newsletter.core.extensions import Model
from newsletter.models.types import UTCDateTime, utcnow


class Heartbeat(Model):
    """The last sign of life of one process (`role` is worker or scheduler), with its state in `detail`.

    Kept in the database, not in memory, so every web process (gunicorn workers on any machine) reads the same.
    """

    __tablename__ = "heartbeats"

    process: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), index=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    interval_seconds: Mapped[int] = mapped_column(default=60)
    detail: Mapped[str] = mapped_column(Text, default="")
