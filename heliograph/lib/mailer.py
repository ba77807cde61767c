"""Sending mail: through the SMTP server named by ``smtp.server``, or, when that
is empty (the development default), by writing each message as a ``.eml`` file
into ``heliograph.mail_folder`` (its text as written, so a link in it can be
opened from the file as is).

:func:`send_mail` raises :class:`MailerError` when the message could not be
handed over, so a caller can tell the user and skip what depends on the mail.
"""

from __future__ import annotations

import collections.abc as c
import logging
import smtplib
import typing as t
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

__all__ = ["MailerError", "send_mail"]

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 10.0


class MailerError(Exception):
    """The message could not be sent."""


def _transfer_encoding(body: str, *, eight_bit: bool) -> str | None:
    """``7bit`` for ASCII text (so a link stays one line, as written, never
    quoted-printable with ``=`` breaks); for other text ``8bit`` when
    ``eight_bit`` (a file), else None: the library's choice, safe for any
    mail server."""
    short = all(len(line) <= 998 for line in body.splitlines())
    if body.isascii() and short:
        return "7bit"
    return "8bit" if eight_bit and short else None


def _message(
    config: c.Mapping[str, t.Any], to: str, subject: str, body: str, *, eight_bit: bool = False
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = str(config.get("smtp.mail_from") or "heliograph@localhost")
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="heliograph")
    cte = _transfer_encoding(body, eight_bit=eight_bit)
    if cte is None:
        message.set_content(body)
    else:
        message.set_content(body, cte=cte)
    return message


def _host_port(server: str) -> tuple[str, int]:
    host, sep, port = server.rpartition(":")
    if sep and port.isdigit() and host:
        return host.strip("[]"), int(port)
    return server, 25


def send_mail(config: c.Mapping[str, t.Any], to: str, subject: str, body: str) -> None:
    """Send a plain-text message to ``to`` as configured (``smtp.*``)."""
    server = str(config.get("smtp.server") or "").strip()
    message = _message(config, to, subject, body, eight_bit=not server)
    if not server:
        _write_to_folder(config, message)
        return
    host, port = _host_port(server)
    try:
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
            if config.get("smtp.starttls"):
                smtp.starttls()
            user = config.get("smtp.user")
            if user:
                smtp.login(str(user), str(config.get("smtp.password") or ""))
            smtp.send_message(message)
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        log.warning("could not send mail through %s: %s", server, exc)
        raise MailerError(f"the mail server {server} did not take the message: {exc}") from exc


def _write_to_folder(config: c.Mapping[str, t.Any], message: EmailMessage) -> None:
    folder = Path(str(config.get("heliograph.mail_folder") or "mail"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(bytes(message))
    except OSError as exc:
        raise MailerError(f"could not write the message into {str(folder)!r}: {exc}") from exc
    log.info("mail to %s written to %s", message["To"], path)
