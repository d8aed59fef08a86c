"""SMTP pipelining (RFC 2920) on an smtplib connection, within a message and from one message to the next.

smtplib sends each command and waits for its reply: four round trips a message. Here MAIL, RCPT and DATA go
in one write, and the next message's three commands can follow the content in the same write, since a group
may begin with message content: the relay answers the content and then those commands, and the next message
starts with its replies already on their way.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from newsletter.delivery.canonical import wire_form

WhileWaiting: TypeAlias = Callable[[], object] | None  # work done while the relay reads the content


class Envelope(NamedTuple):
    sender: str
    recipient: str

    def ascii(self) -> bool:
        return (self.sender + self.recipient).isascii()

    def commands(self) -> bytes:
        return f"MAIL FROM:<{self.sender}>\r\nRCPT TO:<{self.recipient}>\r\nDATA\r\n".encode("ascii")


def _data_chunks(message: bytes) -> list[bytes]:
    """CRLF line ends, dot-stuffed, terminated: what goes after DATA (a message built in that form as it is,
    not copied)."""
    if getattr(message, "transparent", False) and message.endswith(b"\r\n"):
        return [message, b".\r\n"]
    return [_data_bytes(message)]


def _data_bytes(message: bytes) -> bytes:
    message = wire_form(message)
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def pipelined_send(
    connection: smtplib.SMTP,
    envelope: Envelope,
    message: bytes,
    content_starting: Callable[[], object] = lambda: None,
    *,
    announced: bool = False,
    following: Envelope | None = None,
    while_waiting: WhileWaiting = None,
) -> None:
    """RFC 2920: MAIL, RCPT and DATA in one write, then the content: two round trips instead of four. With
    `following`, the next message's MAIL, RCPT and DATA go in the content's write; with `announced`, this
    message's went with the previous content and only their replies are read: one round trip a message.
    `while_waiting` runs once the content is written, before its reply is read (it must not raise)."""
    envelope_from, recipient = envelope
    if not announced:
        connection.send(envelope.commands())
    mail, rcpt, data = _pipelined_replies(connection)
    if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        connection.send(b".\r\n")
        connection.getreply()
    if mail[0] != 250:
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], envelope_from)
    if rcpt[0] not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    if data[0] != 354:
        raise smtplib.SMTPDataError(data[0], data[1])
    content_starting()
    _write(connection, [*_data_chunks(message), following.commands() if following else b""])
    if while_waiting is not None:
        while_waiting()
    code, text = connection.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, text)


def _pipelined_replies(connection: smtplib.SMTP) -> list[tuple[int, bytes]]:
    """The replies to MAIL, RCPT and DATA; after a 421 the server closes, so that 421 stands for the rest."""
    replies: list[tuple[int, bytes]] = []
    while len(replies) < 3:
        replies.append(connection.getreply())
        if replies[-1][0] == 421:
            replies.extend([replies[-1]] * (3 - len(replies)))
    return replies


def _write(connection: smtplib.SMTP, chunks: list[bytes]) -> None:
    """`connection.send` of the chunks joined, without joining them: a plain socket takes them in one
    `sendmsg` (no copy of a 33 KiB message), a TLS one joined. Errors as smtplib's: the connection is closed."""
    sock = connection.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("please run connect() first")
    try:
        if isinstance(sock, ssl.SSLSocket) or not hasattr(sock, "sendmsg"):
            sock.sendall(b"".join(chunks))
        else:
            send_all(sock, chunks)
    except OSError:
        connection.close()
        raise smtplib.SMTPServerDisconnected("Server not connected") from None


def send_all(sock: socket.socket, chunks: list[bytes]) -> None:
    """`sendall` for several buffers: `sendmsg` may take only part of them, so the rest is sent until all is
    out, within the socket's timeout for the whole (as `sendall`), not for each call."""
    timeout = sock.gettimeout()
    deadline = None if timeout is None else time.monotonic() + timeout
    views = [memoryview(chunk) for chunk in chunks if chunk]
    try:
        while views:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out")
                sock.settimeout(left)
            sent = sock.sendmsg(views)
            while views and sent >= len(views[0]):
                sent -= len(views.pop(0))
            if sent:
                views[0] = views[0][sent:]
    finally:
        sock.settimeout(timeout)
