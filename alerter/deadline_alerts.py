"""Deadline reminders and outcome alerts, planned in the delivery ledger like every email.

A reminder goes to each member who asked for them and follows one of the item's topics, 7 and
then 2 days before a consultation, call for evidence or inquiry closes; the ledger's period
names the item, the step and the closing date, so each is sent once, and a moved closing date
is a new deadline with its own reminders. Backlog items (stored at a source's first poll)
count: what matters is that they are open.

An outcome alert goes, once, to every member who was sent a consultation or call for evidence
(in a digest, a bulletin or a reminder) when its outcome or government response is published
after alerter stored it."""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.compose import RECIPIENT_FIELDS
from alerter.db import among, insert_ignoring_duplicates
from alerter.deadlines import (
    DEADLINE_TYPES,
    OUTCOME_TYPES,
    REMINDER_STEPS,
    closing_date,
    deadline_label,
    is_open,
    reminder_step,
    responding_label,
)
from alerter.delivery.message import Mailing, html_tag, text_tag
from alerter.models import AssociationResponse, Delivery, Item, ItemTopic
from alerter.render import render
from alerter.topics.taxonomy import Taxonomy
from subscriptions.members import reminder_subscribers

REMINDER = "deadline-reminder"
OUTCOME = "outcome"
# Outcomes published this long ago or less are still announced (a worker down for a while).
OUTCOME_WITHIN = timedelta(days=30)
# What an item was "sent" in: every kind that carries items.
_CARRIERS = ("digest-weekly", "digest-daily", "digest-immediate", "bulletin", REMINDER)
_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
_PERIOD = re.compile(r"^(\d+):(\d+)d:(\d{4}-\d{2}-\d{2})$")


def reminder_period(item_id: int, step: int, closes: datetime) -> str:
    """The ledger's period of one reminder: "812:7d:2027-01-15"."""
    return f"{item_id}:{step}d:{closing_date(closes).isoformat()}"


def parse_reminder_period(period: str) -> tuple[int, int, date]:
    found = _PERIOD.match(period)
    if found is None:
        raise ValueError(f"not a deadline reminder's period: {period!r}")
    return int(found[1]), int(found[2]), date.fromisoformat(found[3])


def _row(member_id: int, kind: str, period: str, item_id: int, now: datetime) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "kind": kind,
        "period": period,
        "status": "planned",
        "window_start": now,
        "window_end": now,
        "item_ids": [item_id],
        # Everyone's email about one item and step is the same: sent together.
        "content_key": f"{kind}:{period}"[:40],
        "planned_at": now,
        "attempts": 0,
    }


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        unique = ["member_id", "kind", "period"]
        session.execute(insert_ignoring_duplicates(session, _DELIVERIES, unique), rows)
    session.commit()


def _topics_of(session: Session, item_ids: list[int]) -> dict[int, set[str]]:
    topics: defaultdict[int, set[str]] = defaultdict(set)
    for item_id, topic_id in session.exec(
        select(ItemTopic.item_id, ItemTopic.topic_id).where(
            among(session, col(ItemTopic.item_id), item_ids)
        )
    ):
        topics[item_id].add(topic_id)
    return topics


def plan_reminders(session: Session, now: datetime) -> int:
    """Ledger rows for every reminder due now (see deadlines.reminder_step); rows already
    there are left alone. How many rows were offered."""
    horizon = now + timedelta(days=max(REMINDER_STEPS) + 1)
    due = [
        (item_id, step, closes)
        for item_id, closes in session.exec(
            select(Item.id, Item.closes_at).where(
                col(Item.document_type).in_(DEADLINE_TYPES),
                col(Item.closes_at) > now - timedelta(days=1),
                col(Item.closes_at) <= horizon,
            )
        )
        if item_id is not None
        and closes is not None
        and (step := reminder_step(closes, now)) is not None
    ]
    if not due:
        return 0
    topics = _topics_of(session, [item_id for item_id, _, _ in due])
    members = reminder_subscribers(session)
    rows = [
        _row(member.id, REMINDER, reminder_period(item_id, step, closes), item_id, now)
        for item_id, step, closes in due
        for member in members
        if topics[item_id] & set(member.topics)
    ]
    _insert(session, rows)
    return len(rows)


def plan_outcome_alerts(session: Session, now: datetime) -> int:
    """Ledger rows announcing each outcome published (within OUTCOME_WITHIN) after alerter
    stored its consultation, to every member sent that consultation. How many offered."""
    items = {
        item_id: first_seen
        for item_id, first_seen, outcome_at in session.exec(
            select(Item.id, Item.first_seen_at, Item.outcome_at).where(
                col(Item.document_type).in_(OUTCOME_TYPES),
                col(Item.outcome_at) >= now - OUTCOME_WITHIN,
            )
        )
        # Known when it was stored: the member read the consultation with its outcome.
        if item_id is not None and outcome_at is not None and outcome_at > first_seen
    }
    if not items:
        return 0
    recipients: defaultdict[int, set[int]] = defaultdict(set)
    for member_id, item_ids in session.execute(
        sa.select(_DELIVERIES.c.member_id, _DELIVERIES.c.item_ids).where(
            _DELIVERIES.c.kind.in_(_CARRIERS),
            _DELIVERIES.c.status == "sent",
            _DELIVERIES.c.sent_at >= min(items.values()),
        )
    ):
        for item_id in set(item_ids) & items.keys():
            recipients[item_id].add(member_id)
    rows = [
        _row(member_id, OUTCOME, str(item_id), item_id, now)
        for item_id, members in recipients.items()
        for member_id in sorted(members)
    ]
    _insert(session, rows)
    return len(rows)


@dataclass(frozen=True)
class DeadlineItem:
    """An item as a reminder or an outcome alert tells of it."""

    title: str
    url: str
    summary: str
    deadline: str  # "closes Fri 15 Jan — 2 days left"
    responding: str  # the association's own deadline, or ""
    how_to_respond: dict[str, str]
    outcome: str  # the published outcome's text, or ""
    topics: tuple[str, ...]  # labels


def _deadline_item(session: Session, item: Item, taxonomy: Taxonomy, now: datetime) -> DeadlineItem:
    assert item.id is not None
    labels = {topic.id: topic.label for topic in taxonomy.topics}
    response = session.exec(
        select(AssociationResponse).where(AssociationResponse.item_id == item.id)
    ).first()
    respond_by = response.respond_by if response else None
    open_now = item.closes_at is not None and is_open(item.closes_at, now)
    metadata = item.source_metadata
    how = metadata.get("how_to_respond")
    return DeadlineItem(
        title=item.title,
        url=item.url,
        summary=item.summary,
        deadline=deadline_label(item.closes_at, now) if item.closes_at else "",
        responding=responding_label(respond_by, now) if respond_by and open_now else "",
        how_to_respond={str(k): str(v) for k, v in how.items()} if isinstance(how, dict) else {},
        outcome=str(metadata.get("outcome") or ""),
        topics=tuple(
            labels.get(t, t) for t in sorted(_topics_of(session, [item.id]).get(item.id, ()))
        ),
    )


def _tags() -> dict[str, dict[str, str]]:
    return {
        "text": {f: text_tag(f) for f in RECIPIENT_FIELDS},
        "html": {f: html_tag(f) for f in RECIPIENT_FIELDS},
    }


def reminder_mailing(
    session: Session, period: str, taxonomy: Taxonomy, now: datetime
) -> Mailing | None:
    """The reminder a ledger row stands for, or None when it no longer applies: the item has
    gone, closed, or its closing date moved since the row was planned (the new date has its
    own reminders)."""
    item_id, step, planned_date = parse_reminder_period(period)
    item = session.get(Item, item_id, populate_existing=True)  # fresh: it may just have moved
    if item is None or item.closes_at is None:
        return None
    if closing_date(item.closes_at) != planned_date or not is_open(item.closes_at, now):
        return None
    about = _deadline_item(session, item, taxonomy, now)
    subject = f"{about.deadline[:1].upper()}{about.deadline[1:]}: {item.title}"[:200]
    context = {"item": about, "step": step, "preheader": about.deadline}
    tags = _tags()
    return Mailing(
        subject,
        render("email/reminder.txt", **context, **tags["text"]),
        render("email/reminder.html", **context, **tags["html"]),
        REMINDER,
        (),
    )


def outcome_mailing(
    session: Session, period: str, taxonomy: Taxonomy, now: datetime
) -> Mailing | None:
    """The outcome alert a ledger row stands for, or None when the item has gone."""
    item = session.get(Item, int(period), populate_existing=True)
    if item is None:
        return None
    about = _deadline_item(session, item, taxonomy, now)
    context = {"item": about, "preheader": f"The outcome of {item.title} is out"[:140]}
    tags = _tags()
    return Mailing(
        f"Outcome published: {item.title}"[:200],
        render("email/outcome.txt", **context, **tags["text"]),
        render("email/outcome.html", **context, **tags["html"]),
        OUTCOME,
        (),
    )
