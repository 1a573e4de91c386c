"""The embedded mail backend: each email becomes an .eml file in the outbox folder."""

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alerter.delivery.message import Mailing, to_mime
from alerter.delivery.transport import SendBatch


class OutboxTransport:
    name = "outbox"
    # Writing a file again replaces it, so a whole claim can be written before it is marked.
    max_recipients = 1000
    cancel_limit = 0

    def __init__(self, folder: Path, mail_from: str, reply_to: str = "") -> None:
        self.folder = folder
        self.mail_from = mail_from
        self.reply_to = reply_to
        self.requests = 0

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        """Write one file per recipient; each appears complete or not at all. A recipient with
        a ledger key gets a fixed file name, so sending the same delivery again replaces the
        file instead of adding a second: a retry after a crash cannot duplicate it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for recipient in mailing.recipients:
            self.requests += 1
            email = mailing.expand(recipient)
            name = (
                f"{email.kind}-{recipient.key}"
                if recipient.key
                else f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{email.kind}-{uuid.uuid4().hex[:12]}"
            )
            path = self.folder / f"{name}.eml"
            draft = path.with_suffix(".part")
            message = to_mime(email, self.mail_from, recipient.message_token, self.reply_to)
            draft.write_bytes(message.as_bytes())
            os.replace(draft, path)

    def open_batch(self, now: datetime) -> SendBatch | None:
        return None

    def cancel_batch(self, batch_id: str) -> None:
        raise AssertionError("the outbox opens no batches")

    def release_batch(self, batch_id: str) -> None:
        raise AssertionError("the outbox opens no batches")
