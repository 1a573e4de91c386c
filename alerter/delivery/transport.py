"""What every mail transport offers the sender, and the errors it reports.

Adding a transport is one module implementing `Transport` and one line in `transport_for`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from alerter.delivery.message import Mailing


class DeliveryError(Exception):
    """The mail service did not take the mailing, or cannot say whether it did."""


class Rejected(DeliveryError):
    """Refused for good (a 4xx other than 429): sending it again would be refused again."""


class Throttled(DeliveryError):
    """Too many requests: not taken, try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DeliveryError):
    """Not taken for now: the service answered with an error of its own, or could not be
    reached before the request went. SMTP, which cannot take a message back, also reports a
    connection lost mid-message this way (its fixed Message-ID makes a resent copy the same)."""


class InDoubt(DeliveryError):
    """The service may have taken it: the connection was lost or timed out after the request
    went, or the answer is not one the service documents (a gateway's 502 or 504). Only
    cancelling its batch makes sure it is not delivered."""


class TooManyCancelled(DeliveryError):
    """The service holds as many cancelled batches as it allows at one time: one must be
    released (once its send time has passed) before another can be cancelled."""


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
    # Batches the service lets be cancelled at one time (SendGrid: 10); 0 without batches.
    cancel_limit: int

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        """Send to every recipient, or raise a DeliveryError: InDoubt when it may have been
        taken, any other when none of them was."""
        ...

    def open_batch(self, now: datetime) -> SendBatch | None:
        """A new cancellable batch, or None when this transport has no need of one (the
        outbox rewrites the same file; SMTP cannot take a message back)."""
        ...

    def cancel_batch(self, batch_id: str) -> None:
        """Make sure nothing sent in this batch is delivered; Rejected when it is too late,
        TooManyCancelled when the service holds its limit of cancelled batches."""
        ...

    def release_batch(self, batch_id: str) -> None:
        """Delete a cancelled batch's cancellation once its send time has passed (its emails
        were discarded then), so that it no longer counts against `cancel_limit`."""
        ...

    @property
    def requests(self) -> int:
        """Requests made to the mail service so far, for reports and benchmarks."""
        ...
