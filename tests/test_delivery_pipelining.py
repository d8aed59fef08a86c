"""Writing a message and the next envelope in one go: every byte in order, within the socket's timeout."""

from __future__ import annotations

import socket
import time

import pytest

from newsletter.delivery.pipelining import send_all


class TrickleSocket:
    """Takes at most `step` bytes a call, as the socket of a relay that reads slowly does."""

    def __init__(self, step: int, timeout: float | None = 5.0):
        self.step = step
        self.received = bytearray()
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def settimeout(self, value):
        self._timeout = value

    def sendmsg(self, buffers):
        room = self.step
        for buffer in buffers:
            part = bytes(buffer[:room])
            self.received += part
            room -= len(part)
            if not room:
                break
        return self.step - room


@pytest.mark.parametrize("step", [1, 7, 999, 1000, 1001, 1003, 5000])
def test_every_byte_goes_out_in_order_whatever_each_call_takes(step):
    chunks = [b"a" * 1000, b"", b".\r\n", b"MAIL FROM:<x@example.org>\r\n"]
    sock = TrickleSocket(step)

    send_all(sock, chunks)

    assert bytes(sock.received) == b"".join(chunks)
    assert sock.gettimeout() == 5.0


def test_the_timeout_bounds_the_whole_write_not_each_call():
    class Stalled(TrickleSocket):
        def sendmsg(self, buffers):
            time.sleep(0.05)
            return super().sendmsg(buffers)

    sock = Stalled(step=1, timeout=0.2)
    started = time.monotonic()

    with pytest.raises(socket.timeout):
        send_all(sock, [b"x" * 100])

    assert time.monotonic() - started < 1
    assert sock.gettimeout() == 0.2
