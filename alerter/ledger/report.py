"""What the delivery ledger says happened, for staff: each run (an email kind and its period)
with its counts, the deliveries that failed with the mail service's reasons, and those in
doubt (they may have been delivered) with why, and staff's decision on those that only staff
can settle."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.models import Delivery

_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]


@dataclass
class Run:
    kind: str  # digest-weekly, digest-daily, digest-immediate, bulletin
    period: str  # 2026-W10, 2026-03-02, 2026-03-02T07:05, or a bulletin's id
    planned_at: datetime
    counts: dict[str, int] = field(default_factory=dict)  # status -> deliveries

    @property
    def to_send(self) -> int:
        return self.counts.get("planned", 0) + self.counts.get("sending", 0)

    @property
    def in_doubt(self) -> int:
        return self.counts.get("in_doubt", 0)


@dataclass(frozen=True)
class Failure:
    delivery_id: int
    member_id: int
    error: str


@dataclass(frozen=True)
class InDoubt:
    delivery_id: int
    member_id: int
    why: str  # why it is in doubt, then what is being done about it
    # No sender can settle it any more (its batch could not be cancelled in time): SendGrid's
    # events, or staff, decide.
    for_staff: bool


def recent_runs(session: Session, since: datetime) -> list[Run]:
    """Runs planned since then, newest first."""
    runs: dict[tuple[str, str], Run] = {}
    table = _DELIVERIES
    for kind, period, status, planned_at, count in session.execute(
        sa.select(
            table.c.kind,
            table.c.period,
            table.c.status,
            sa.func.min(table.c.planned_at),
            sa.func.count(),
        )
        .where(table.c.planned_at >= since)
        .group_by(table.c.kind, table.c.period, table.c.status)
    ):
        run = runs.setdefault((kind, period), Run(kind, period, planned_at))
        run.planned_at = min(run.planned_at, planned_at)
        run.counts[status] = count
    return sorted(runs.values(), key=lambda run: run.planned_at, reverse=True)


def failures(session: Session, kind: str, period: str, limit: int = 200) -> list[Failure]:
    rows = session.exec(
        select(Delivery.id, Delivery.member_id, Delivery.error)
        .where(Delivery.kind == kind, Delivery.period == period, Delivery.status == "failed")
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    return [Failure(d or 0, m, e or "no reason given") for d, m, e in rows]


def in_doubt(session: Session, kind: str, period: str, limit: int = 200) -> list[InDoubt]:
    rows = session.exec(
        select(Delivery.id, Delivery.member_id, Delivery.error, Delivery.claimed_until)
        .where(Delivery.kind == kind, Delivery.period == period, Delivery.status == "in_doubt")
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    return [InDoubt(d or 0, m, e or "no reason given", until is None) for d, m, e, until in rows]


def decide_in_doubt(
    session: Session, kind: str, period: str, *, sent: bool, by: str, now: datetime
) -> int:
    """Staff's decision on a run's deliveries in doubt that no sender can settle: count them
    as sent (they were probably delivered), or send them again (risking a second copy). The
    dispatcher sends them within minutes. How many were decided."""
    decided = "counted as sent" if sent else "sent again"
    result = session.execute(
        sa.update(_DELIVERIES)
        .where(
            _DELIVERIES.c.kind == kind,
            _DELIVERIES.c.period == period,
            _DELIVERIES.c.status == "in_doubt",
            _DELIVERIES.c.claimed_until.is_(None),
        )
        .values(
            status="sent" if sent else "planned",
            sent_at=now if sent else None,
            batch_id=None if not sent else _DELIVERIES.c.batch_id,
            claim=None,
            error=f"was in doubt; {decided} by {by} on {now:%Y-%m-%d %H:%M} UTC",
        )
    )
    session.commit()
    return int(cast(sa.CursorResult[Any], result).rowcount)
