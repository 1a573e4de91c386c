"""SendGrid's v3 Mail Send API, through the official sendgrid library.

Members who get the same content share one request (up to 1,000 personalizations), each with
their own substitutions, List-Unsubscribe header and the ledger row's id in custom_args. Digest
requests go in a batch scheduled a few minutes ahead: a sender that died before recording
SendGrid's answer leaves a batch that can still be cancelled, which is what makes resending
safe."""

import json
import time
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.error import URLError

import sendgrid
from python_http_client import exceptions as http_errors

from alerter.delivery.message import Mailing
from alerter.delivery.transport import Rejected, SendBatch, Throttled, Unavailable

# SendGrid refuses to cancel a batch later than 10 minutes before its send_at.
CANCEL_CUTOFF = timedelta(minutes=10)
MAX_PERSONALIZATIONS = 1000
TIMEOUT_SECONDS = 60
DEFAULT_RETRY_AFTER = 5.0


class SendGridTransport:
    name = "sendgrid"
    max_recipients = MAX_PERSONALIZATIONS

    def __init__(
        self, api_key: str, base_url: str, mail_from: str, *, cancel_window: timedelta
    ) -> None:
        """`cancel_window`: how long after a batch opens it can still be cancelled; its
        emails go out that long plus SendGrid's ten-minute cut-off later."""
        self.client = sendgrid.SendGridAPIClient(api_key=api_key, host=base_url.rstrip("/"))
        name, address = parseaddr(mail_from)
        self.sender = {"email": address, **({"name": name} if name else {})}
        self.cancel_window = cancel_window
        self.requests = 0

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        if len(mailing.recipients) > MAX_PERSONALIZATIONS:
            raise ValueError(f"SendGrid takes at most {MAX_PERSONALIZATIONS} recipients a request")
        self._call(self.client.client.mail.send, request_body(mailing, self.sender, batch))

    def open_batch(self, now: datetime) -> SendBatch:
        answer = self._call(self.client.client.mail.batch, None)
        send_at = now + self.cancel_window + CANCEL_CUTOFF
        return SendBatch(str(answer["batch_id"]), send_at, send_at - CANCEL_CUTOFF)

    def cancel_batch(self, batch_id: str) -> None:
        self._call(
            self.client.client.user.scheduled_sends, {"batch_id": batch_id, "status": "cancel"}
        )

    def _call(self, endpoint: Any, body: dict[str, Any] | None) -> dict[str, Any]:
        """POST to the endpoint; SendGrid's refusals become DeliveryErrors with its reasons."""
        self.requests += 1
        try:
            response = endpoint.post(request_body=body, timeout=TIMEOUT_SECONDS)
        except http_errors.HTTPError as error:
            raise _error_for(error) from None
        except (TimeoutError, URLError, ConnectionError) as error:
            raise Unavailable(f"SendGrid could not be reached: {error}") from None
        payload = response.body
        return json.loads(payload) if payload else {}


def request_body(
    mailing: Mailing, sender: dict[str, str], batch: SendBatch | None
) -> dict[str, Any]:
    """The Mail Send request for a mailing: one personalization per recipient."""
    body: dict[str, Any] = {
        "from": sender,
        "subject": mailing.subject,
        "content": [
            {"type": "text/plain", "value": mailing.text},
            {"type": "text/html", "value": mailing.html},
        ],
        "personalizations": [
            {
                "to": [{"email": recipient.to}],
                "substitutions": recipient.substitutions(),
                **({"headers": recipient.headers} if recipient.headers else {}),
                **({"custom_args": {"delivery_id": recipient.key}} if recipient.key else {}),
            }
            for recipient in mailing.recipients
        ],
        "categories": [mailing.kind],
    }
    if batch is not None:
        body["batch_id"] = batch.id
        body["send_at"] = int(batch.send_at.timestamp())
    return body


def _error_for(error: http_errors.HTTPError) -> Exception:
    status = int(error.status_code)
    reason = f"SendGrid answered {status}: {_reasons(error.body)}"
    if status == 429:
        return Throttled(reason, _retry_after(error.headers))
    if status >= 500:
        return Unavailable(reason)
    return Rejected(reason)


def _reasons(body: bytes | str | None) -> str:
    """SendGrid's error messages ("errors": [{"message", "field"}]) in one line."""
    try:
        errors = json.loads(body or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        return str(body or "")[:300]
    parts = [
        f"{e.get('message', '')}" + (f" ({e['field']})" if e.get("field") else "")
        for e in errors
        if isinstance(e, dict)
    ]
    return "; ".join(parts) or "no reason given"


def _retry_after(headers: Any) -> float:
    """Seconds to wait: Retry-After, else the rate limit's reset time, else a default."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    reset = headers.get("X-RateLimit-Reset") if headers is not None else None
    if reset is not None:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    return DEFAULT_RETRY_AFTER
