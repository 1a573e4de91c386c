"""What every mail transport offers the sender, and the errors it reports.

Adding a transport is one module implementing `Transport` and one line in `transport_for`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from alerter.delivery.message import Mailing


class DeliveryError(Exception):
    """The mail service did not take the mailing."""


class Rejected(DeliveryError):
    """Refused for good (a 4xx other than 429): sending it again would be refused again."""


class Throttled(DeliveryError):
    """Too many requests: not taken, try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DeliveryError):
    """A server error or a broken connection: the service may or may not have taken it."""


@dataclass(frozen=True)
class SendBatch:
    """A group of requests the mail service holds until `send_at` and can still cancel until
    `cancel_by`: what turns a request whose answer was lost into one that can be undone."""

    id: str
    send_at: datetime
    cancel_by: datetime


class Transport(Protocol):
    name: str
    # Recipients in one request: SendGrid takes 1,000 personalizations; the others send one
    # email at a time, so that the ledger is marked after each.
    max_recipients: int

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        """Send to every recipient, or raise a DeliveryError having sent none of them."""
        ...

    def open_batch(self, now: datetime) -> SendBatch | None:
        """A new cancellable batch, or None when this transport has no need of one (the
        outbox rewrites the same file; SMTP cannot take a message back)."""
        ...

    def cancel_batch(self, batch_id: str) -> None:
        """Make sure nothing sent in this batch is delivered; Rejected when it is too late."""
        ...

    @property
    def requests(self) -> int:
        """Requests made to the mail service so far, for reports and benchmarks."""
        ...
