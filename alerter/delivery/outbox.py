"""The embedded mail backend: each email becomes an .eml file in the outbox folder."""

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alerter.delivery.message import Email, to_mime


class OutboxTransport:
    def __init__(self, folder: Path, mail_from: str) -> None:
        self.folder = folder
        self.mail_from = mail_from

    def send(self, email: Email, key: str | None = None) -> Path:
        """Write the email; the file appears complete or not at all. With a `key` (a ledger
        row's id) the file name is fixed, so sending the same delivery again replaces the file
        instead of adding a second: a retry after a crash cannot duplicate it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = (
            f"{email.kind}-{key}"
            if key
            else (f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{email.kind}-{uuid.uuid4().hex[:12]}")
        )
        path = self.folder / f"{name}.eml"
        draft = path.with_suffix(".part")
        draft.write_bytes(to_mime(email, self.mail_from).as_bytes())
        os.replace(draft, path)
        return path
