"""SendGrid's v3 Mail Send API, through the official sendgrid library.

Members who get the same content share one request (up to 1,000 personalizations), each with
their own substitutions, List-Unsubscribe header and the ledger row's id in custom_args. Each
digest request goes in a batch of its own, scheduled a few minutes ahead: a request whose
outcome is unknown (the sender died, the connection was lost, a gateway answered) can then be
cancelled, and cancelling it withdraws nothing else.

SendGrid's answers are read strictly: an answer it documents for Mail Send (202; 400, 401,
403, 404, 405, 413 or 500 with its error body; 429) says what happened. Anything else, and a
connection lost after the request went, is in doubt."""

import http.client
import json
import time
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.error import URLError

import sendgrid
from python_http_client import exceptions as http_errors

from alerter.delivery.message import Mailing
from alerter.delivery.transport import (
    DeliveryError,
    InDoubt,
    Rejected,
    SendBatch,
    Throttled,
    TooManyCancelled,
    Unavailable,
)

# SendGrid refuses to cancel a batch later than 10 minutes before its send_at, and holds at
# most 10 batches paused or cancelled at one time.
CANCEL_CUTOFF = timedelta(minutes=10)
CANCEL_LIMIT = 10
MAX_PERSONALIZATIONS = 1000
TIMEOUT_SECONDS = 60
DEFAULT_RETRY_AFTER = 5.0
# The error statuses SendGrid's API description gives for Mail Send, each with a JSON body of
# {"errors": [...]}; 429 is SendGrid's rate limit.
DOCUMENTED_ERRORS = {400, 401, 403, 404, 405, 413, 500}
TOO_MANY_CANCELLED = "more than 10 different batches"
NO_FIELD = (None, "", "null")  # SendGrid's error bodies say "field": null, or "null"


class SendGridTransport:
    name = "sendgrid"
    max_recipients = MAX_PERSONALIZATIONS
    cancel_limit = CANCEL_LIMIT

    def __init__(
        self,
        api_key: str,
        base_url: str,
        mail_from: str,
        *,
        cancel_window: timedelta,
        reply_to: str = "",
    ) -> None:
        """`cancel_window`: how long after a batch opens it can still be cancelled; its
        emails go out that long plus SendGrid's ten-minute cut-off later."""
        self.client = sendgrid.SendGridAPIClient(api_key=api_key, host=base_url.rstrip("/"))
        name, address = parseaddr(mail_from)
        self.sender = {"email": address, **({"name": name} if name else {})}
        self.reply_to = reply_to
        self.cancel_window = cancel_window
        self.requests = 0

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        if len(mailing.recipients) > MAX_PERSONALIZATIONS:
            raise ValueError(f"SendGrid takes at most {MAX_PERSONALIZATIONS} recipients a request")
        self._call(
            self.client.client.mail.send.post,
            request_body(mailing, self.sender, batch, self.reply_to),
        )

    def open_batch(self, now: datetime) -> SendBatch:
        try:
            answer = self._call(self.client.client.mail.batch.post, None)
        except InDoubt as error:  # an id SendGrid made but nobody uses costs nothing
            raise Unavailable(str(error)) from None
        send_at = now + self.cancel_window + CANCEL_CUTOFF
        return SendBatch(str(answer["batch_id"]), send_at, send_at - CANCEL_CUTOFF)

    def cancel_batch(self, batch_id: str) -> None:
        scheduled = self.client.client.user.scheduled_sends
        try:
            self._call(scheduled.post, {"batch_id": batch_id, "status": "cancel"})
        except Rejected as refused:
            if TOO_MANY_CANCELLED in str(refused):
                raise TooManyCancelled(str(refused)) from None
            # A cancel whose answer was lost, asked again, may be refused as already done.
            if self._status_of(batch_id) != "cancel":
                raise

    def release_batch(self, batch_id: str) -> None:
        try:
            self._call(self.client.client.user.scheduled_sends._(batch_id).delete, None)
        except Rejected:
            if self._status_of(batch_id) is not None:  # else already released
                raise

    def _status_of(self, batch_id: str) -> str | None:
        """The batch's scheduled-send status at SendGrid: cancel, pause, or None."""
        try:
            answer = self._call(self.client.client.user.scheduled_sends._(batch_id).get, None)
        except DeliveryError:
            return None
        entries = answer if isinstance(answer, list) else [answer]
        return next((str(e.get("status")) for e in entries if isinstance(e, dict)), None)

    def _call(self, method: Any, body: dict[str, Any] | None) -> Any:
        """Call the endpoint; SendGrid's answers become DeliveryErrors with its reasons."""
        self.requests += 1
        try:
            response = method(request_body=body, timeout=TIMEOUT_SECONDS)
        except http_errors.HTTPError as error:
            raise _error_for(error) from None
        except URLError as error:  # urllib raises it only before the request went
            raise Unavailable(f"SendGrid could not be reached: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise InDoubt(
                f"the connection to SendGrid was lost after the request went ({error!r})"
            ) from None
        payload = response.body
        return json.loads(payload) if payload else {}


def request_body(
    mailing: Mailing, sender: dict[str, str], batch: SendBatch | None, reply_to: str = ""
) -> dict[str, Any]:
    """The Mail Send request for a mailing: one personalization per recipient. The batch's id
    goes with each ledger key, so that SendGrid's events tell which request they come from."""
    keys = {"batch": batch.id} if batch is not None else {}
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
                **(
                    {"custom_args": {"delivery_id": recipient.key, **keys}} if recipient.key else {}
                ),
            }
            for recipient in mailing.recipients
        ],
        "categories": [mailing.kind],
    }
    if reply_to:
        body["reply_to"] = {"email": reply_to}
    if batch is not None:
        body["batch_id"] = batch.id
        body["send_at"] = int(batch.send_at.timestamp())
    return body


def _error_for(error: http_errors.HTTPError) -> DeliveryError:
    status = int(error.status_code)
    errors = _sendgrid_errors(error.body)
    if status == 429:
        reason = f"SendGrid answered 429: {errors or 'too many requests'}"
        return Throttled(reason, _retry_after(error.headers))
    if status not in DOCUMENTED_ERRORS or errors is None:
        text = _text(error.body)
        return InDoubt(
            f"SendGrid's answer {status} is not one it documents"
            + (f" ({text})" if text else "")
            + ": the request may have been taken"
        )
    reason = f"SendGrid answered {status}: {errors}"
    return Unavailable(reason) if status >= 500 else Rejected(reason)


def _sendgrid_errors(body: bytes | str | None) -> str | None:
    """SendGrid's error body ({"errors": [{"message", "field"}]}) in one line; None when the
    body is not one."""
    try:
        payload = json.loads(body or b"")
    except ValueError:
        return None
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return None
    parts = [
        f"{e.get('message', '')}" + (f" ({e['field']})" if e.get("field") not in NO_FIELD else "")
        for e in errors
        if isinstance(e, dict)
    ]
    return "; ".join(parts) or "no reason given"


def _text(body: bytes | str | None) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    return " ".join(text.split())[:120]


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
