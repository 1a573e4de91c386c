"""Deadline reminders and outcome alerts, planned in the delivery ledger like every email, and
the emails the ledger sends for them.

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
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from alerter.config import Settings
from alerter.db import among
from alerter.deadlines.association_responses import responding_by
from alerter.deadlines.closing import (
    DEADLINE_TYPES,
    OUTCOME_TYPES,
    REMINDER_STEPS,
    closing_date,
    deadline_label,
    is_open,
    reminder_step,
    responding_label,
)
from alerter.delivery import Mailing
from alerter.delivery.compose.deadlines import (
    OUTCOME,
    REMINDER,
    DeadlineItem,
    outcome_mailing,
    reminder_mailing,
)
from alerter.ledger.planning import Planned, items_sent, plan
from alerter.ledger.sender import Clock, EmailBuilder
from alerter.member_emails import member_emails
from alerter.models import Item, ItemTopic
from alerter.topics.taxonomy import Taxonomy
from subscriptions.members import reminder_subscribers

# Outcomes published this long ago or less are still announced (a worker down for a while).
OUTCOME_WITHIN = timedelta(days=30)
# What an item was "sent" in: every kind that carries items.
_CARRIERS = ("digest-weekly", "digest-daily", "digest-immediate", "bulletin", REMINDER)
_PERIOD = re.compile(r"^(\d+):(\d+)d:(\d{4}-\d{2}-\d{2})$")


def reminder_period(item_id: int, step: int, closes: datetime) -> str:
    """The ledger's period of one reminder: "812:7d:2027-01-15"."""
    return f"{item_id}:{step}d:{closing_date(closes).isoformat()}"


def parse_reminder_period(period: str) -> tuple[int, int, date]:
    found = _PERIOD.match(period)
    if found is None:
        raise ValueError(f"not a deadline reminder's period: {period!r}")
    return int(found[1]), int(found[2]), date.fromisoformat(found[3])


def _planned(member_id: int, kind: str, period: str, item_id: int) -> Planned:
    # Everyone's email about one item and step is the same: sent together.
    return Planned(member_id, kind, period, f"{kind}:{period}"[:40], [item_id])


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
        _planned(member.id, REMINDER, reminder_period(item_id, step, closes), item_id)
        for item_id, step, closes in due
        for member in members
        if topics[item_id] & set(member.topics)
    ]
    plan(session, rows, now)
    session.commit()
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
    for member_id, item_ids in items_sent(session, _CARRIERS, since=min(items.values())).items():
        for item_id in item_ids & items.keys():
            recipients[item_id].add(member_id)
    rows = [
        _planned(member_id, OUTCOME, str(item_id), item_id)
        for item_id, members in recipients.items()
        for member_id in sorted(members)
    ]
    plan(session, rows, now)
    session.commit()
    return len(rows)


def _deadline_item(session: Session, item: Item, taxonomy: Taxonomy, now: datetime) -> DeadlineItem:
    assert item.id is not None
    labels = {topic.id: topic.label for topic in taxonomy.topics}
    respond_by = responding_by(session, [item.id]).get(item.id)
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


def reminder_for(
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
    return reminder_mailing(_deadline_item(session, item, taxonomy, now), step)


def outcome_for(session: Session, period: str, taxonomy: Taxonomy, now: datetime) -> Mailing | None:
    """The outcome alert a ledger row stands for, or None when the item has gone."""
    item = session.get(Item, int(period), populate_existing=True)
    if item is None:
        return None
    return outcome_mailing(_deadline_item(session, item, taxonomy, now))


def deadline_emails(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    *,
    clock: Clock,
    about: Callable[[Session, str, Taxonomy, datetime], Mailing | None],
) -> EmailBuilder:
    """The ledger's reminders (`about` is reminder_for) or outcome alerts (outcome_for): the
    same email for everyone about one item and step, to members still subscribed."""

    return member_emails(
        session,
        settings,
        content=lambda row, _: row.content_key,
        mailing=lambda first, _: about(session, first.period, taxonomy, clock()),
    )
