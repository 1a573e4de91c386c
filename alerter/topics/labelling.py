"""Topics on stored items: classifying them when stored or edited, staff corrections (which win
and teach the classifier), reclassification, and reading topics back."""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.models import Item, ItemTopic, TopicCorrection
from alerter.topics.classifier import Classification, Classifier, Evidence, Text
from alerter.topics.evidence import item_text
from alerter.topics.examples import ExampleMatcher, LabelledExample
from alerter.topics.model import shipped_model
from alerter.topics.taxonomy import Taxonomy, load_taxonomy

_BATCH = 500
# Staff corrections join the model's training this many at a time.
CORRECTIONS_PER_RETRAINING = 10
_ITEM_TOPICS: sa.Table = ItemTopic.__table__  # type: ignore[attr-defined]


class UnknownTopic(LookupError):
    pass


class UnknownItem(LookupError):
    pass


def load_classifier(session: Session, taxonomy_file: Path) -> Classifier:
    """The taxonomy, the model learned for it from the shipped labelled sets and staff
    corrections, and every correction as a labelled example for similar items."""
    taxonomy = load_taxonomy(taxonomy_file)
    return Classifier(
        taxonomy,
        shipped_model(taxonomy, tuple(learned_corrections(session))),
        ExampleMatcher(_examples(session, _decisions(session))),
    )


def learned_corrections(session: Session) -> list[LabelledExample]:
    """The corrections the model learns from: the oldest, in whole batches. Training takes a
    second or two, so the model is retrained once per batch; every correction applies to
    similar items at once through the examples."""
    decisions = _decisions(session)
    batches = len(decisions) // CORRECTIONS_PER_RETRAINING
    return _examples(session, decisions[: batches * CORRECTIONS_PER_RETRAINING])


def _decisions(session: Session) -> list[tuple[int, str, bool]]:
    """(item, topic, present) of every correction, oldest decision first."""
    return [
        (item_id, topic_id, present)
        for item_id, topic_id, present in session.exec(
            select(
                TopicCorrection.item_id, TopicCorrection.topic_id, TopicCorrection.present
            ).order_by(col(TopicCorrection.corrected_at), col(TopicCorrection.id))
        )
    ]


def _examples(session: Session, decisions: list[tuple[int, str, bool]]) -> list[LabelledExample]:
    added: defaultdict[int, set[str]] = defaultdict(set)
    removed: defaultdict[int, set[str]] = defaultdict(set)
    for item_id, topic_id, present in decisions:
        (added if present else removed)[item_id].add(topic_id)
    ids = sorted(set(added) | set(removed))
    items = {item.id: item for item in _items(session, ids)}
    return [
        LabelledExample(
            item_id=item_id,
            title=items[item_id].title,
            summary=items[item_id].summary,
            added=frozenset(added[item_id]),
            removed=frozenset(removed[item_id]),
        )
        for item_id in ids
        if item_id in items
    ]


def text_of(item: Item) -> Text:
    return item_text(item.title, item.summary, item.source_metadata, item.document_type)


def classify_items(session: Session, classifier: Classifier, item_ids: Sequence[int]) -> None:
    """(Re)compute the topics of these items; staff corrections are applied on top."""
    for start in range(0, len(item_ids), _BATCH):
        items = _items(session, item_ids[start : start + _BATCH])
        classifications = classifier.classify_many([text_of(item) for item in items])
        write_topics(
            session,
            {item.id: c for item, c in zip(items, classifications, strict=True) if item.id},
        )


def reclassify(
    session: Session,
    classifier: Classifier,
    *,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Classify stored items again (those published since `since`), a batch per transaction;
    returns how many, calling `progress(done, total)` after each batch."""
    query = select(Item.id).order_by(col(Item.id))
    if since is not None:
        query = query.where(Item.published_at >= since)
    ids = [item_id for item_id in session.exec(query) if item_id is not None]
    for start in range(0, len(ids), _BATCH):
        classify_items(session, classifier, ids[start : start + _BATCH])
        session.commit()
        if progress is not None:
            progress(min(start + _BATCH, len(ids)), len(ids))
    return len(ids)


def correct_item(
    session: Session,
    taxonomy: Taxonomy,
    item_id: int,
    changes: Sequence[tuple[str, bool]],
    *,
    corrected_by: str,
    now: datetime,
) -> list[str]:
    """Apply staff decisions (topic, present) to one item, in order; the item's topics after.
    UnknownItem if there is no such item, UnknownTopic for a topic the taxonomy lacks."""
    if session.get(Item, item_id) is None:
        raise UnknownItem(f"no item {item_id}")
    for topic_id, present in changes:
        correct_topic(
            session,
            taxonomy,
            item_id,
            topic_id,
            present=present,
            corrected_by=corrected_by,
            now=now,
        )
    return [row.topic_id for row in topics_of(session, [item_id]).get(item_id, [])]


def correct_topic(
    session: Session,
    taxonomy: Taxonomy,
    item_id: int,
    topic_id: str,
    *,
    present: bool,
    corrected_by: str,
    now: datetime,
) -> None:
    """Record a staff decision on one item's topic and apply it at once."""
    if taxonomy.get(topic_id) is None:
        raise UnknownTopic(f"no topic {topic_id!r}; topics are {', '.join(taxonomy.ids)}")
    correction = session.exec(
        select(TopicCorrection).where(
            TopicCorrection.item_id == item_id, TopicCorrection.topic_id == topic_id
        )
    ).one_or_none()
    if correction is None:
        correction = TopicCorrection(
            item_id=item_id,
            topic_id=topic_id,
            present=present,
            corrected_by=corrected_by,
            corrected_at=now,
        )
    else:
        correction.present, correction.corrected_by, correction.corrected_at = (
            present,
            corrected_by,
            now,
        )
    session.add(correction)
    session.flush()
    row = session.exec(
        select(ItemTopic).where(ItemTopic.item_id == item_id, ItemTopic.topic_id == topic_id)
    ).one_or_none()
    if present and row is None:
        session.add(
            ItemTopic(
                item_id=item_id,
                topic_id=topic_id,
                assigned_by="staff",
                evidence=[_staff_evidence(correction).public()],
            )
        )
    elif present and row is not None:
        row.evidence = [_staff_evidence(correction).public(), *row.evidence]
    elif row is not None:
        session.delete(row)
    session.flush()


def _staff_evidence(correction: TopicCorrection) -> Evidence:
    return Evidence("staff", correction.corrected_by, "correction", 0.0)


def write_topics(
    session: Session, classified: Mapping[int, Classification], *, new_items: bool = False
) -> None:
    """Replace these items' topics with their classifications, staff corrections on top.

    `new_items` says the items were stored just now: they have no topics or corrections yet,
    so there is nothing to look up or replace.
    """
    if not classified:
        return
    ids = list(classified)
    corrections = {} if new_items else _corrections(session, ids)
    if not new_items:
        session.execute(_ITEM_TOPICS.delete().where(_ITEM_TOPICS.c.item_id.in_(ids)))
    rows: list[dict[str, Any]] = []
    for item_id, classification in classified.items():
        decided = {topic: list(classification.evidence[topic]) for topic in classification.topics}
        for correction in corrections.get(item_id, []):
            if not correction.present:
                decided.pop(correction.topic_id, None)
            else:
                decided.setdefault(correction.topic_id, []).insert(0, _staff_evidence(correction))
        staff_added = {c.topic_id for c in corrections.get(item_id, []) if c.present}
        rows += [
            {
                "item_id": item_id,
                "topic_id": topic,
                "assigned_by": "staff" if topic in staff_added else "classifier",
                "evidence": [e.public() for e in evidence],
            }
            for topic, evidence in decided.items()
        ]
    if rows:
        session.execute(_ITEM_TOPICS.insert(), rows)


def _corrections(session: Session, item_ids: list[int]) -> dict[int, list[TopicCorrection]]:
    found: defaultdict[int, list[TopicCorrection]] = defaultdict(list)
    for correction in session.exec(
        select(TopicCorrection).where(col(TopicCorrection.item_id).in_(item_ids))
    ):
        found[correction.item_id].append(correction)
    return found


def _items(session: Session, ids: Sequence[int]) -> list[Item]:
    items: list[Item] = []
    for start in range(0, len(ids), _BATCH):
        items += session.exec(select(Item).where(col(Item.id).in_(ids[start : start + _BATCH])))
    return items


def topics_of(session: Session, item_ids: Sequence[int]) -> dict[int, list[ItemTopic]]:
    found: defaultdict[int, list[ItemTopic]] = defaultdict(list)
    for start in range(0, len(item_ids), _BATCH):
        for row in session.exec(
            select(ItemTopic)
            .where(col(ItemTopic.item_id).in_(item_ids[start : start + _BATCH]))
            .order_by(col(ItemTopic.id))
        ):
            found[row.item_id].append(row)
    return found


def topic_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(ItemTopic.topic_id, sa.func.count()).group_by(col(ItemTopic.topic_id))
    )
    return {topic_id: count for topic_id, count in rows}
