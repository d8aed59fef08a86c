"""The recorder's inbox: outcomes handed over in batches, a full batch at once, the rest at close."""

import threading
import time

from newsletter.delivery.inbox import BatchInbox


def test_a_full_batch_is_taken_at_once_without_waiting_for_the_window():
    inbox = BatchInbox(batch_size=3, batch_seconds=30)
    for item in range(4):
        inbox.put(item)
    started = time.monotonic()
    assert inbox.take() == ([0, 1, 2], False)
    assert time.monotonic() - started < 5


def test_a_partial_batch_waits_for_the_window_and_gathers_what_came_meanwhile():
    inbox = BatchInbox(batch_size=100, batch_seconds=0.3)
    inbox.put("first")
    threading.Timer(0.05, inbox.put, args=("second",)).start()
    started = time.monotonic()
    assert inbox.take() == (["first", "second"], False)
    assert time.monotonic() - started >= 0.25


def test_a_taker_waiting_for_the_first_item_is_woken_by_it():
    inbox = BatchInbox(batch_size=100, batch_seconds=0.01)
    threading.Timer(0.1, inbox.put, args=("late",)).start()
    assert inbox.take() == (["late"], False)


def test_close_hands_over_the_rest_at_once_then_says_it_was_the_last():
    inbox = BatchInbox(batch_size=2, batch_seconds=30)
    for item in range(3):
        inbox.put(item)
    inbox.close()
    started = time.monotonic()
    assert inbox.take() == ([0, 1], False)
    assert inbox.take() == ([2], True)
    assert inbox.take() == ([], True)
    assert time.monotonic() - started < 5


def test_close_wakes_a_taker_waiting_for_a_batch():
    inbox = BatchInbox(batch_size=100, batch_seconds=30)
    inbox.put("only")
    threading.Timer(0.1, inbox.close).start()
    started = time.monotonic()
    assert inbox.take() == (["only"], True)
    assert time.monotonic() - started < 5
