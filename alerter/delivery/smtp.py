"""SMTP delivery (a relay, or a local Mailpit while developing), one email at a time.

SMTP cannot take a message back, so a sender killed between the server's answer and the
ledger's mark may send that one email again; its Message-ID is the same both times, which lets
the receiving side treat the copies as one."""

import smtplib
from datetime import datetime
from urllib.parse import unquote, urlsplit

from alerter.delivery.message import Mailing, to_mime
from alerter.delivery.transport import Rejected, SendBatch, Unavailable

TIMEOUT_SECONDS = 60


class SmtpTransport:
    name = "smtp"
    max_recipients = 1  # the ledger is marked after each email
    cancel_limit = 0

    def __init__(self, url: str, mail_from: str, reply_to: str = "") -> None:
        """`url`: smtp://[user:password@]host[:port], smtps:// for TLS from the start, or
        smtp+starttls:// to upgrade the connection."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError(
                f"ALERTER_SMTP_URL {url!r}: expected smtp://, smtps:// or smtp+starttls://host"
            )
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password or "")
        self.mail_from = mail_from
        self.reply_to = reply_to
        self.requests = 0

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        try:
            with self._connect() as connection:
                for recipient in mailing.recipients:
                    self.requests += 1
                    email = mailing.expand(recipient)
                    token = recipient.message_token
                    connection.send_message(to_mime(email, self.mail_from, token, self.reply_to))
        except smtplib.SMTPRecipientsRefused as error:
            # The server's answers without the addresses, which must not reach the logs.
            answers = "; ".join(
                f"{code} {reply.decode(errors='replace')}"
                for code, reply in error.recipients.values()
            )
            raise Rejected(f"the SMTP server refused the recipient: {answers}") from None
        except smtplib.SMTPResponseException as error:
            message = f"the SMTP server answered {error.smtp_code}: {error.smtp_error!r}"
            if 500 <= error.smtp_code < 600:
                raise Rejected(message) from None
            raise Unavailable(message) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise Unavailable(f"SMTP server {self.host}:{self.port}: {error}") from None

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=TIMEOUT_SECONDS
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
            if self.scheme == "smtp+starttls":
                connection.starttls()
        if self.username:
            connection.login(self.username, self.password)
        return connection

    def open_batch(self, now: datetime) -> SendBatch | None:
        return None

    def cancel_batch(self, batch_id: str) -> None:
        raise AssertionError("SMTP opens no batches")

    def release_batch(self, batch_id: str) -> None:
        raise AssertionError("SMTP opens no batches")
