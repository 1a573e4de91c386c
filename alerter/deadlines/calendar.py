"""Calendar feeds (iCalendar, RFC 5545) of the consultations, calls for evidence and committee
inquiries open on some topics: one event per item on its closing date, and one on the
association's own deadline when staff said it is responding. `icalendar` writes the text
(escaping, line folding, CRLF).

Each event's UID is the item's, so a calendar that subscribes updates the event in place when
the closing date moves; DTSTAMP is when alerter last saw the item change."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import icalendar
from sqlmodel import Session, col, select

from alerter.deadlines.association_responses import responding_by
from alerter.deadlines.closing import DEADLINE_TYPES, closing_date, is_all_day, is_open
from alerter.models import Item, ItemTopic

PRODID = "-//alerter//Consultation deadlines//EN"


@dataclass(frozen=True)
class Deadline:
    """An open consultation, call for evidence or inquiry, as a calendar shows it."""

    item_id: int
    title: str
    url: str
    summary: str
    closes: datetime
    changed: datetime  # when alerter stored it, or last saw it change
    how_to_respond: dict[str, str]
    responding_by: date | None = None


def open_deadlines(session: Session, topics: Sequence[str] | None, now: datetime) -> list[Deadline]:
    """Consultations, calls for evidence and committee inquiries not yet closed (forthcoming
    ones included: their closing date is known) on any of `topics` (on any topic or none,
    when None), soonest first."""
    query = select(Item).where(
        col(Item.document_type).in_(DEADLINE_TYPES),
        col(Item.closes_at) > now - timedelta(days=1),
    )
    if topics is not None:
        tagged = select(ItemTopic.item_id).where(col(ItemTopic.topic_id).in_(list(topics)))
        query = query.where(col(Item.id).in_(tagged))
    items = session.exec(query.order_by(col(Item.closes_at), col(Item.id))).all()
    current = [item for item in items if item.closes_at and is_open(item.closes_at, now)]
    responses = responding_by(session, [item.id for item in current if item.id is not None])
    return [
        Deadline(
            item_id=item.id or 0,
            title=item.title,
            url=item.url,
            summary=item.summary,
            closes=item.closes_at,
            changed=item.updated_at or item.first_seen_at,
            how_to_respond=_how_to_respond(item),
            responding_by=responses.get(item.id or 0),
        )
        for item in current
        if item.closes_at is not None
    ]


def _how_to_respond(item: Item) -> dict[str, str]:
    how = item.source_metadata.get("how_to_respond")
    return {str(k): str(v) for k, v in how.items()} if isinstance(how, dict) else {}


def calendar_feed(name: str, deadlines: Sequence[Deadline], *, base_url: str) -> bytes:
    """The iCalendar text of these deadlines, named `name` in calendar apps."""
    host = urlsplit(base_url).hostname or "alerter"
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for deadline in deadlines:
        calendar.add_component(_closing_event(deadline, host))
        if deadline.responding_by is not None:
            calendar.add_component(_responding_event(deadline, host))
    return bytes(calendar.to_ical())


def _event(uid: str, deadline: Deadline, summary: str, description: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", deadline.changed)
    event.add("last-modified", deadline.changed)
    event.add("summary", summary)
    event.add("description", description)
    event.add("url", deadline.url)
    event.add("transp", "TRANSPARENT")  # a deadline, not time the member is busy
    return event


def _closing_event(deadline: Deadline, host: str) -> icalendar.Event:
    event = _event(
        f"item-{deadline.item_id}@{host}",
        deadline,
        f"Closes: {deadline.title}",
        _description(deadline),
    )
    if is_all_day(deadline.closes):
        day = closing_date(deadline.closes)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    else:
        event.add("dtstart", deadline.closes)  # an instant: no DTEND (RFC 5545 3.6.1)
    return event


def _responding_event(deadline: Deadline, host: str) -> icalendar.Event:
    assert deadline.responding_by is not None
    event = _event(
        f"item-{deadline.item_id}-association@{host}",
        deadline,
        f"Views to the association: {deadline.title}",
        "The association is responding to this consultation and asks for members' views by "
        f"this day.\n\n{_description(deadline)}",
    )
    event.add("dtstart", deadline.responding_by)
    event.add("dtend", deadline.responding_by + timedelta(days=1))
    return event


def _description(deadline: Deadline) -> str:
    lines = [deadline.summary] if deadline.summary else []
    how = deadline.how_to_respond
    ways = [
        f"{label}: {how[key]}"
        for key, label in (
            ("url", "Respond online"),
            ("email", "By email"),
            ("postal_address", "By post"),
        )
        if how.get(key)
    ]
    if ways:
        lines.append("How to respond:\n" + "\n".join(ways))
    lines.append(deadline.url)
    return "\n\n".join(lines)
