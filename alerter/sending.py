"""Digest runs over the delivery ledger: plan (one row per member, written before anything is
sent), then claim, send and mark each row. Any process may die at any line; a later run, or
another worker, carries on, and no member gets the same digest twice."""

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from alerter.compose import Recipient, digest_email
from alerter.config import Settings
from alerter.delivery import OutboxTransport
from alerter.delivery.message import Email
from alerter.digest import DEFAULT_CAP, DigestItem, build_digest
from alerter.digests import candidates, digest_items
from alerter.models import Delivery
from alerter.topics import Taxonomy
from subscriptions.members import Subscriber, subscriber, subscribers
from subscriptions.models import Frequency
from subscriptions.notices import member_link
from subscriptions.tokens import Purpose

LONDON = ZoneInfo("Europe/London")
_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
HEADINGS = {
    Frequency.WEEKLY: "Your weekly policy alerts",
    Frequency.DAILY: "Your daily policy alerts",
    Frequency.IMMEDIATE: "New policy alerts",
}


def kind_of(frequency: Frequency) -> str:
    return f"digest-{frequency.value}"


def period_of(frequency: Frequency, now: datetime) -> str:
    """The ledger's period: one digest per member per ISO week, day or minute (London time)."""
    local = now.astimezone(LONDON)
    if frequency == Frequency.WEEKLY:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if frequency == Frequency.DAILY:
        return local.strftime("%Y-%m-%d")
    return local.strftime("%Y-%m-%dT%H:%M")


@dataclass
class PlanReport:
    members: int = 0
    planned: int = 0
    nothing_new: int = 0
    already_planned: int = 0


def plan_digests(
    session: Session, frequency: Frequency, now: datetime, *, dry_run: bool = False
) -> PlanReport:
    """Write a ledger row for every active member of this frequency with something new: the
    items first stored since their previous digest (since they joined, for the first)."""
    kind, period = kind_of(frequency), period_of(frequency, now)
    members = subscribers(session, frequency)
    report = PlanReport(members=len(members))
    planned = set(
        session.exec(
            select(Delivery.member_id).where(Delivery.kind == kind, Delivery.period == period)
        )
    )
    previous_end = _previous_window_ends(session, kind)
    # Members with the same window and topics get the same items: look them up once.
    groups: defaultdict[tuple[datetime, tuple[str, ...]], list[Subscriber]] = defaultdict(list)
    for member in members:
        if member.id in planned:
            report.already_planned += 1
            continue
        start = previous_end.get(member.id, member.joined)
        groups[(start, tuple(sorted(member.topics)))].append(member)
    rows: list[dict[str, Any]] = []
    for (start, topics), group in groups.items():
        found = candidates(session, since=start, until=now, topics=topics) if topics else []
        item_ids = [item.item_id for item in found]
        if not item_ids:
            report.nothing_new += len(group)
            continue
        rows += [
            {
                "member_id": m.id,
                "kind": kind,
                "period": period,
                "status": "planned",
                "window_start": start,
                "window_end": now,
                "item_ids": item_ids,
                "planned_at": now,
                "attempts": 0,
            }
            for m in group
        ]
    report.planned = len(rows)
    if rows and not dry_run:
        session.execute(_insert_ignoring_duplicates(session), rows)
        session.commit()
    return report


def _previous_window_ends(
    session: Session, kind: str, member_id: int | None = None
) -> dict[int, datetime]:
    query = select(Delivery.member_id, sa.func.max(Delivery.window_end)).where(
        Delivery.kind == kind
    )
    if member_id is not None:
        query = query.where(Delivery.member_id == member_id)
    rows = session.exec(query.group_by(col(Delivery.member_id)))
    return {member_id: end for member_id, end in rows}


def _insert_ignoring_duplicates(session: Session) -> Any:
    """INSERT that skips rows another planner wrote first (the unique member/kind/period)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_DELIVERIES).on_conflict_do_nothing(
        index_elements=["member_id", "kind", "period"]
    )


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0  # no longer subscribed when their turn came
    failed: int = 0
    errors: list[str] = field(default_factory=list)


Clock = Callable[[], datetime]


def send_planned(
    session: Session,
    transport: OutboxTransport,
    settings: Settings,
    taxonomy: Taxonomy,
    frequency: Frequency,
    *,
    period: str,
    clock: Clock,
    batch: int = 200,
    cap: int = DEFAULT_CAP,
) -> SendReport:
    """Send every planned (or abandoned) delivery of this digest, claiming them in batches."""
    kind = kind_of(frequency)
    report = SendReport()
    claim = uuid.uuid4().hex
    # Claimed rows are this sender's for the lease; after it, a crashed sender's rows are taken
    # over (and, for the outbox, written again under the same file name).
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    while ids := _claim(session, kind, period, claim, clock(), batch, lease):
        for delivery in list(session.exec(select(Delivery).where(col(Delivery.id).in_(ids)))):
            _send_one(
                session,
                transport,
                settings,
                taxonomy,
                frequency,
                delivery,
                claim,
                clock,
                cap,
                report,
            )
    return report


def _claim(
    session: Session,
    kind: str,
    period: str,
    claim: str,
    now: datetime,
    batch: int,
    lease: timedelta,
) -> list[int]:
    """Take up to `batch` rows that are planned, or whose sender's lease ran out."""
    available = sa.and_(
        _DELIVERIES.c.kind == kind,
        _DELIVERIES.c.period == period,
        sa.or_(
            _DELIVERIES.c.status == "planned",
            sa.and_(_DELIVERIES.c.status == "sending", _DELIVERIES.c.claimed_until < now),
        ),
    )
    candidates_query = sa.select(_DELIVERIES.c.id).where(available).order_by(_DELIVERIES.c.id)
    candidates_query = candidates_query.limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent senders each take different rows instead of queueing behind one another.
        candidates_query = candidates_query.with_for_update(skip_locked=True)
    ids = list(session.execute(candidates_query).scalars())
    if not ids:
        session.commit()
        return []
    update = (
        sa.update(_DELIVERIES)
        .where(_DELIVERIES.c.id.in_(ids), available)
        .values(
            status="sending",
            claim=claim,
            claimed_until=now + lease,
            attempts=_DELIVERIES.c.attempts + 1,
        )
        .returning(_DELIVERIES.c.id)
    )
    claimed = list(cast(sa.CursorResult[Any], session.execute(update)).scalars())
    session.commit()
    return claimed


def _send_one(
    session: Session,
    transport: OutboxTransport,
    settings: Settings,
    taxonomy: Taxonomy,
    frequency: Frequency,
    delivery: Delivery,
    claim: str,
    clock: Clock,
    cap: int,
    report: SendReport,
) -> None:
    member = subscriber(session, delivery.member_id)
    if member is None:  # unsubscribed, suppressed or erased since planning: nothing is sent
        _finish(session, delivery, claim, "skipped", clock())
        report.skipped += 1
        return
    try:
        email = compose_for(
            settings, taxonomy, member, frequency, digest_items(session, delivery.item_ids), cap=cap
        )
        if email is None:  # every item it held has gone; nothing to say
            _finish(session, delivery, claim, "skipped", clock())
            report.skipped += 1
            return
        transport.send(email, key=str(delivery.id))
    except Exception as error:  # one member's failure never blocks the others
        _finish(session, delivery, claim, "failed", clock(), error=f"{error!r}")
        report.failed += 1
        report.errors.append(f"delivery {delivery.id}: {error!r}")
        return
    _finish(session, delivery, claim, "sent", clock())
    report.sent += 1


def compose_for(
    settings: Settings,
    taxonomy: Taxonomy,
    member: Subscriber,
    frequency: Frequency,
    items: Sequence[DigestItem],
    *,
    cap: int = DEFAULT_CAP,
) -> Email | None:
    """This member's digest email from these items, or None when none is on their topics."""
    digest = build_digest(items, member.topics, taxonomy, cap=cap)
    if digest.empty:
        return None
    manage = member_link(settings, member, Purpose.MANAGE)
    unsubscribe = member_link(settings, member, Purpose.UNSUBSCRIBE)
    recipient = Recipient(member.email, member.name, manage, unsubscribe, manage)
    return digest_email(digest, recipient, heading=HEADINGS[frequency], kind=kind_of(frequency))


def preview(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    member: Subscriber,
    frequency: Frequency,
    now: datetime,
) -> tuple[Email | None, datetime]:
    """The digest this member would get if it ran now, and the start of its window."""
    start = _previous_window_ends(session, kind_of(frequency), member.id).get(
        member.id, member.joined
    )
    found = candidates(session, since=start, until=now, topics=member.topics)
    return compose_for(settings, taxonomy, member, frequency, found), start


def _finish(
    session: Session,
    delivery: Delivery,
    claim: str,
    status: str,
    now: datetime,
    error: str | None = None,
) -> None:
    """Mark the row, but only while this sender still holds it."""
    session.execute(
        sa.update(_DELIVERIES)
        .where(_DELIVERIES.c.id == delivery.id, _DELIVERIES.c.claim == claim)
        .values(
            status=status,
            sent_at=now if status == "sent" else None,
            error=error,
            claimed_until=None,
        )
    )
    session.commit()
