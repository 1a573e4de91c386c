"""A mail server's inbox for tests: an aiosmtpd handler that keeps every message."""

import email
from email.message import Message
from typing import Any


class Mailbox:
    """An aiosmtpd handler keeping every message; refuses the addresses in `refuse`."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.raw: list[bytes] = []  # each message's bytes as they came over the wire
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        self.raw.append(envelope.original_content)
        return "250 Message accepted"
