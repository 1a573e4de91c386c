"""SendGrid's Event Webhook endpoint: signed and recent requests only; the events are recorded
by alerter.delivery.mail_events."""

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from alerter.delivery.mail_events import EventPayloadError, parse_events, record_events
from alerter.web.deps import ClockDep, SessionDep, SettingsDep

router = APIRouter()
# A signed request is accepted this long either side of its timestamp: a copy replayed later
# is refused, and clocks a little apart do no harm.
TIMESTAMP_TOLERANCE = timedelta(minutes=10)


async def raw_body(request: Request) -> bytes:
    """The request's body, read on the event loop; the route itself then runs in a worker
    thread, so checking and recording a large batch of events holds up no other request."""
    return await request.body()


@router.post("/webhooks/sendgrid")
def sendgrid_events(
    request: Request,
    body: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> JSONResponse:
    key = settings.sendgrid_webhook_public_key
    if not key:
        return JSONResponse(
            {"error": "ALERTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not set; events are refused"}, 503
        )
    text = body.decode("utf-8", errors="replace")
    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    if not (signature and timestamp and _verified(key, text, signature, timestamp)):
        return JSONResponse({"error": "signature does not verify"}, 403)
    now = clock()
    if not _recent(timestamp, now):
        return JSONResponse(
            {"error": "the signed timestamp is more than 10 minutes from now; refused as a replay"},
            403,
        )
    try:
        events = parse_events(json.loads(text))
    except (ValueError, EventPayloadError) as error:
        return JSONResponse({"error": str(error)}, 400)
    report = record_events(session, events, now)
    return JSONResponse(
        {
            "received": report.received,
            "replayed": report.replayed,
            "suppressed": len(report.suppressed),
        }
    )


def _verified(key: str, body: str, signature: str, timestamp: str) -> bool:
    try:
        return bool(EventWebhook(key).verify_signature(body, signature, timestamp))
    except (ValueError, TypeError):  # a malformed key or signature
        return False


def _recent(timestamp: str, now: datetime) -> bool:
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return abs(now - signed_at) <= TIMESTAMP_TOLERANCE
