"""SendGrid's Event Webhook endpoint: signed requests only, then alerter.mail_events acts."""

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from alerter.mail_events import EventPayloadError, parse_events, record_events
from subscriptions.web.deps import SessionDep, SettingsDep

router = APIRouter()


@router.post("/webhooks/sendgrid")
async def sendgrid_events(
    request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    key = settings.sendgrid_webhook_public_key
    if not key:
        return JSONResponse(
            {"error": "ALERTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not set; events are refused"}, 503
        )
    body = (await request.body()).decode("utf-8", errors="replace")
    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    if not (signature and timestamp and _verified(key, body, signature, timestamp)):
        return JSONResponse({"error": "signature does not verify"}, 403)
    try:
        events = parse_events(json.loads(body))
    except (ValueError, EventPayloadError) as error:
        return JSONResponse({"error": str(error)}, 400)
    report = record_events(session, events, datetime.now(UTC))
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
