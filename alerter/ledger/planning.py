"""Planning: the ledger's rows, one per member and email, written before anything is sent, and
what the ledger says was planned and sent before (each use case decides from that what to
plan next)."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from alerter.db import insert_ignoring_duplicates
from alerter.models import Delivery

_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
# Planning this many rows at once changes the ledger enough to refresh its statistics.
REFRESH_STATISTICS_AFTER = 5000


@dataclass(frozen=True)
class Planned:
    """One email to one member: sent once per member, kind and period, whatever happens."""

    member_id: int
    kind: str  # digest-weekly, bulletin, confirmation, deadline-reminder, ...
    period: str  # which one of that kind: 2026-W10, a bulletin's id, ...
    content_key: str  # rows with the same key get the same email, sent together
    item_ids: Sequence[int] = ()
    # The span of news it covers (a digest's); an email about no span covers the moment planned.
    window_start: datetime | None = None
    window_end: datetime | None = None


def plan(session: Session, rows: Sequence[Planned], now: datetime) -> None:
    """Write these rows, in the caller's transaction; a row already in the ledger (the same
    member, kind and period, written by an earlier or concurrent run) is left as it is."""
    if not rows:
        return
    values = [
        {
            "member_id": row.member_id,
            "kind": row.kind,
            "period": row.period,
            "status": "planned",
            "window_start": row.window_start or now,
            "window_end": row.window_end or now,
            "item_ids": list(row.item_ids),
            "content_key": row.content_key,
            "planned_at": now,
            "attempts": 0,
        }
        for row in rows
    ]
    unique = ["member_id", "kind", "period"]
    session.execute(insert_ignoring_duplicates(session, _DELIVERIES, unique), values)
    if len(rows) >= REFRESH_STATISTICS_AFTER and session.get_bind().dialect.name == "postgresql":
        # Autovacuum would notice the new rows only later: without fresh statistics the
        # senders' claims, planned for an empty ledger, scan it whole, for every claim.
        session.execute(sa.text("ANALYZE delivery"))


def planned_members(session: Session, kind: str, period: str) -> set[int]:
    """The members who already have a row of this kind and period."""
    return set(
        session.execute(
            sa.select(_DELIVERIES.c.member_id).where(
                _DELIVERIES.c.kind == kind, _DELIVERIES.c.period == period
            )
        ).scalars()
    )


def window_ends(session: Session, kind: str, member_id: int | None = None) -> dict[int, datetime]:
    """Member id -> where their latest row of this kind (planned or sent) ended its window."""
    query = sa.select(_DELIVERIES.c.member_id, sa.func.max(_DELIVERIES.c.window_end)).where(
        _DELIVERIES.c.kind == kind
    )
    if member_id is not None:
        query = query.where(_DELIVERIES.c.member_id == member_id)
    rows = session.execute(query.group_by(_DELIVERIES.c.member_id))
    return {member: end for member, end in rows}


def items_sent(session: Session, kinds: Sequence[str], *, since: datetime) -> dict[int, set[int]]:
    """Member id -> the items that emails of these kinds sent them since then."""
    sent: defaultdict[int, set[int]] = defaultdict(set)
    for member_id, item_ids in session.execute(
        sa.select(_DELIVERIES.c.member_id, _DELIVERIES.c.item_ids).where(
            _DELIVERIES.c.kind.in_(kinds),
            _DELIVERIES.c.status == "sent",
            _DELIVERIES.c.sent_at >= since,
        )
    ):
        sent[member_id].update(item_ids)
    return sent
