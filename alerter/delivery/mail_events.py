"""SendGrid's Event Webhook: what happened to sent mail. Each event is recorded once (a replay
with the same sg_event_id changes nothing), and an address that bounced, complained or
unsubscribed through SendGrid is suppressed, so that nothing more is sent to it. An event for a
delivery held in doubt for good (its request's answer was lost and its batch could not be
cancelled) shows SendGrid took it: the delivery is marked sent."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from alerter.db import insert_ignoring_duplicates
from alerter.models import Delivery, MailEvent
from subscriptions.members import find_member, suppress
from subscriptions.models import Member

log = logging.getLogger(__name__)
_EVENTS: sa.Table = MailEvent.__table__  # type: ignore[attr-defined]
_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
SUPPRESSING = {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}


class EventPayloadError(ValueError):
    """The webhook's body is not a list of SendGrid events."""


@dataclass
class EventReport:
    received: int = 0
    replayed: int = 0
    suppressed: list[int] = field(default_factory=list)  # member ids
    settled: list[int] = field(default_factory=list)  # deliveries in doubt, now known sent


def parse_events(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, list) or not all(isinstance(e, dict) for e in payload):
        raise EventPayloadError("expected a JSON array of event objects")
    if any(not isinstance(e.get("sg_event_id"), str) or not e.get("event") for e in payload):
        raise EventPayloadError("every event needs an sg_event_id and an event")
    return payload


def record_events(session: Session, events: Sequence[dict[str, Any]], now: datetime) -> EventReport:
    """Record each new event and act on it; events seen before are counted and skipped."""
    report = EventReport()
    for event in events:
        report.received += 1
        delivery_id = _as_int(event.get("delivery_id"))  # our custom_args come back at top level
        member = _member_of(session, delivery_id, event.get("email"))
        # RETURNING rather than rowcount, which PostgreSQL's driver leaves at -1 here.
        inserted = session.execute(
            insert_ignoring_duplicates(session, _EVENTS, ["sg_event_id"]).returning(_EVENTS.c.id),
            {
                "sg_event_id": event["sg_event_id"],
                "event": str(event["event"])[:40],
                "delivery_id": delivery_id,
                "member_id": member.id if member else None,
                "received_at": now,
            },
        ).scalar_one_or_none()
        if inserted is None:
            report.replayed += 1
            continue
        if delivery_id is not None and _settle_in_doubt(session, delivery_id, event, now):
            report.settled.append(delivery_id)
        if member is not None and _suppresses(event):
            suppress(session, member, _reason(event), now)
            assert member.id is not None
            report.suppressed.append(member.id)
            log.info(
                "member %d suppressed: %s",
                member.id,
                _reason(event),
                extra={"member_id": member.id, "delivery_id": delivery_id},
            )
    session.commit()
    return report


def _settle_in_doubt(
    session: Session, delivery_id: int, event: dict[str, Any], now: datetime
) -> bool:
    """Mark sent a delivery in doubt for good that this event is about: any event of a message
    means SendGrid took its request. Only an event of the same request's batch counts, when
    the event says which (alerter's `batch` custom arg); rows still waiting for their batch to
    be cancelled are the senders' to settle."""
    batch = event.get("batch")
    condition = [
        _DELIVERIES.c.id == delivery_id,
        _DELIVERIES.c.status == "in_doubt",
        _DELIVERIES.c.claimed_until.is_(None),
    ]
    if isinstance(batch, str):
        condition.append(_DELIVERIES.c.batch_id == batch)
    settled = session.execute(
        sa.update(_DELIVERIES)
        .where(*condition)
        .values(
            status="sent",
            sent_at=now,
            error=f"was in doubt until SendGrid reported it {str(event['event'])[:40]}",
        )
        .returning(_DELIVERIES.c.id)
    ).scalar_one_or_none()
    if settled is not None:
        log.info(
            "delivery %d in doubt: SendGrid reported it %s, so it was sent",
            delivery_id,
            event["event"],
            extra={"delivery_id": delivery_id},
        )
    return settled is not None


def _suppresses(event: dict[str, Any]) -> bool:
    # A "blocked" bounce is the receiving server refusing for now (reputation, rate), not a
    # dead address.
    if event["event"] == "bounce" and event.get("type") == "blocked":
        return False
    return event["event"] in SUPPRESSING


def _reason(event: dict[str, Any]) -> str:
    detail = event.get("reason") or event.get("type") or ""
    return f"SendGrid {event['event']}" + (f": {str(detail)[:200]}" if detail else "")


def _member_of(session: Session, delivery_id: int | None, email: Any) -> Member | None:
    if delivery_id is not None:
        delivery = session.get(Delivery, delivery_id)
        if delivery is not None:
            return session.get(Member, delivery.member_id)
    if isinstance(email, str) and email:
        return find_member(session, email.strip().lower())
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
