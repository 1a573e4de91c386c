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

    def send(self, email: Email) -> Path:
        """Write the email; the file appears complete or not at all."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{email.kind}-{uuid.uuid4().hex[:12]}.eml"
        draft = path.with_suffix(".part")
        draft.write_bytes(to_mime(email, self.mail_from).as_bytes())
        os.replace(draft, path)
        return path
