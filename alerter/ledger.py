"""What the delivery ledger says happened, for staff: each run (an email kind and its period)
with its counts, and the deliveries that failed with the mail service's reasons."""

from dataclasses import dataclass, field
from datetime import datetime

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


@dataclass(frozen=True)
class Failure:
    delivery_id: int
    member_id: int
    error: str


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
