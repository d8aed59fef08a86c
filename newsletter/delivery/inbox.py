"""A hand-over from many threads to one that takes what they give in batches, woken once a batch.

The recorder stores outcomes every `batch_seconds` or `batch_size` rows, whichever comes first. Taken from a
`queue.Queue` one item at a time with a timeout, it was woken by every sender's every message: some 2,000
thread switches a second in each worker process, each one taking the interpreter lock from the senders. Here
a put wakes the taker only for the first item (it was waiting for one) and for a full batch.
"""

from __future__ import annotations

import logging
import threading
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class BatchInbox(Generic[T]):
    def __init__(self, batch_size: int, batch_seconds: float):
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self._items: list[T] = []
        self._closed = False
        self._changed = threading.Condition()

    def put(self, item: T) -> None:
        with self._changed:
            if self._closed:  # nothing will take it: say so rather than keep it in silence
                log.warning("an item was handed over after the inbox closed; it is not taken")
            self._items.append(item)
            if len(self._items) in (1, self.batch_size):
                self._changed.notify()

    def close(self) -> None:
        """No more items will come: the taker gets the rest at once, then an empty batch marked last."""
        with self._changed:
            self._closed = True
            self._changed.notify()

    def take(self) -> tuple[list[T], bool]:
        """Wait for an item, then up to `batch_seconds` for a full batch; returns (batch, whether it is the last
        one: closed, and nothing left)."""
        with self._changed:
            self._changed.wait_for(lambda: self._items or self._closed)
            if len(self._items) < self.batch_size and not self._closed:
                self._changed.wait_for(
                    lambda: len(self._items) >= self.batch_size or self._closed, timeout=self.batch_seconds
                )
            batch, self._items = self._items[: self.batch_size], self._items[self.batch_size :]
            return batch, self._closed and not self._items
