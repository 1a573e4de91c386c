"""Digest candidates from the database: the items first stored in a period (backlog excluded),
with their topics' strength and every publisher that reported them."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from alerter.db import among
from alerter.deadlines.association_responses import responding_by
from alerter.digests.selection import DigestItem
from alerter.models import Item, ItemTopic, Sighting, Source

_CHUNK = 500
# A topic staff put on an item outranks any classifier evidence when choosing its heading.
STAFF_STRENGTH = 1000.0


def topic_strength(assigned_by: str, evidence: Sequence[dict[str, Any]]) -> float:
    """How firmly an item carries a topic: the points of its evidence, or a staff decision."""
    if assigned_by == "staff":
        return STAFF_STRENGTH
    points = (e.get("points") for e in evidence)
    return sum(float(p) for p in points if isinstance(p, int | float))


def candidates(
    session: Session, *, since: datetime, until: datetime, topics: Sequence[str]
) -> list[DigestItem]:
    """Items first stored in [since, until) carrying any of `topics`, never backlog."""
    return new_items(session, since=since, until=until, topics=topics)


def new_items(
    session: Session, *, since: datetime, until: datetime, topics: Sequence[str] | None = None
) -> list[DigestItem]:
    """Every item first stored in [since, until) that is news (not backlog); with `topics`,
    only those carrying one of them (chosen by the database: a member's page need not read
    every topic's items)."""
    query = select(Item.id).where(
        Item.first_seen_at >= since,
        Item.first_seen_at < until,
        col(Item.backlog).is_(False),
    )
    if topics is not None:
        tagged = select(ItemTopic.item_id).where(col(ItemTopic.topic_id).in_(topics))
        query = query.where(col(Item.id).in_(tagged))
    ids = session.exec(query).all()
    return digest_items(session, [item_id for item_id in ids if item_id is not None])


def on_topics(
    items: Sequence[DigestItem], topics: Sequence[str], *, since: datetime
) -> list[DigestItem]:
    """Those of `items` first stored at `since` or later that carry any of `topics`."""
    wanted = set(topics)
    return [item for item in items if item.first_seen >= since and wanted & item.topics.keys()]


def digest_items(session: Session, ids: Sequence[int]) -> list[DigestItem]:
    """These items as a digest sees them: topics with their strength, every publisher."""
    items: list[Item] = []
    strengths: defaultdict[int, dict[str, float]] = defaultdict(dict)
    publishers: defaultdict[int, list[str]] = defaultdict(list)
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        items += session.exec(select(Item).where(among(session, col(Item.id), chunk)))
        topics = select(ItemTopic).where(among(session, col(ItemTopic.item_id), chunk))
        for row in session.exec(topics):
            strengths[row.item_id][row.topic_id] = topic_strength(row.assigned_by, row.evidence)
        for item_id, publisher in session.exec(
            select(Sighting.item_id, Source.publisher)
            .join(Source, col(Source.id) == Sighting.source_id)
            .where(among(session, col(Sighting.item_id), chunk))
            .order_by(col(Sighting.id))
        ):
            if publisher not in publishers[item_id]:
                publishers[item_id].append(publisher)
    responding = responding_by(session, ids)
    return [
        DigestItem(
            item_id=item.id or 0,
            title=item.title,
            summary=item.summary,
            url=item.url,
            published=item.published_at,
            first_seen=item.first_seen_at,
            publishers=tuple(publishers[item.id or 0]),
            topics=strengths[item.id or 0],
            closes=item.closes_at,
            responding_by=responding.get(item.id or 0),
        )
        for item in items
    ]
