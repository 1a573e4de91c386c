"""Storing parsed entries as items, each story once, and reading them back."""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from alerter.ingest.clean import (
    believable_published,
    cap_text,
    content_hash,
    strip_invisible,
    title_key,
    title_words,
)
from alerter.ingest.sources.base import Entry
from alerter.ingest.stories import Headline, StoryIndex
from alerter.models import Item, ItemTopic, Sighting, Source
from alerter.topics.evidence import describe

_ITEMS: sa.Table = Item.__table__  # type: ignore[attr-defined]
_SIGHTINGS: sa.Table = Sighting.__table__  # type: ignore[attr-defined]
# SQLite allows 32,766 bound parameters; stay far below for IN lists.
_CHUNK = 500
# Concurrent pollers may insert the same story between our lookup and our insert; then look again.
_ATTEMPTS = 3
# The longest title and summary stored: a headline and a standfirst. Longer is a source gone
# wrong (a 1 MB title once made every digest on its topic too large to send).
MAX_TITLE = 300
MAX_SUMMARY = 1000


@dataclass
class StoreResult:
    # Item id -> identity of the entry that created (or edited) it.
    new_items: dict[int, str] = field(default_factory=dict)
    updated_items: dict[int, str] = field(default_factory=dict)
    merged: int = 0  # entries recognised as a story already stored from another source
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)  # for the source: what was cut short

    @property
    def new_item_ids(self) -> list[int]:
        return list(self.new_items)

    @property
    def updated_item_ids(self) -> list[int]:
        return list(self.updated_items)


def story_index(session: Session) -> StoryIndex:
    """A StoryIndex that loads stored headlines from this session's database."""

    def load(start: datetime, end: datetime) -> Iterable[Headline]:
        rows = session.exec(
            select(Item.id, Item.source_id, Item.title_key, Item.published_at).where(
                Item.published_at >= start, Item.published_at < end
            )
        )
        for item_id, source_id, key, published in rows:
            yield Headline(item_id or 0, source_id, frozenset(key.split()), published)

    return StoryIndex(load)


def store_entries(
    session: Session,
    source: Source,
    entries: Sequence[Entry],
    *,
    now: datetime,
    backlog: bool,
    stories: StoryIndex,
) -> StoreResult:
    """Store a source's entries: new stories inserted, edits applied, re-posts linked.

    An entry with a publisher's record (see `Record`) is matched on the record's external id,
    then its URL, never on a similar headline, and updates the item it describes whichever
    source stored it first.

    Text is stored as `storable` makes it: titles and summaries capped, with a warning for the
    source when one was cut. Runs in a savepoint so a conflicting concurrent insert costs a
    retry, not the whole poll.
    """
    cleaned = [storable(entry) for entry in entries]
    entries = [entry for entry, _ in cleaned]
    warnings = _cut_warnings([(entry, cut) for entry, cut in cleaned if cut])
    for attempt in range(_ATTEMPTS):
        try:
            with session.begin_nested():
                result, headlines = _store(
                    session, source, entries, now=now, backlog=backlog, stories=stories
                )
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
            continue
        for headline in headlines:
            stories.add(headline)
        result.warnings = warnings
        return result
    raise AssertionError("unreachable")


def storable(entry: Entry) -> tuple[Entry, tuple[str, ...]]:
    """The entry as it is stored, and which of title and summary were cut to fit.

    Every text a source gave (title, summary, metadata, a record's type and status) loses its
    invisible characters (see `strip_invisible`); the title and summary are capped at
    MAX_TITLE and MAX_SUMMARY characters."""
    title, summary = strip_invisible(entry.title), strip_invisible(entry.summary)
    capped_title, capped_summary = cap_text(title, MAX_TITLE), cap_text(summary, MAX_SUMMARY)
    cut = tuple(
        name
        for name, before, after in (
            ("title", title, capped_title),
            ("summary", summary, capped_summary),
        )
        if before != after
    )
    record = entry.record
    if record is not None:
        record = replace(
            record,
            document_type=_visible(record.document_type),
            status=_visible(record.status),
        )
    cleaned = replace(
        entry,
        title=capped_title,
        summary=capped_summary,
        metadata=_visible(entry.metadata),
        record=record,
    )
    return cleaned, cut


def _visible(value: Any) -> Any:
    """A source's JSON-like value with `strip_invisible` applied to every string in it."""
    if isinstance(value, str):
        return strip_invisible(value)
    if isinstance(value, dict):
        return {key: _visible(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_visible(item) for item in value]
    return value


def _cut_warnings(cut: list[tuple[Entry, tuple[str, ...]]]) -> list[str]:
    """One warning per field cut short, naming how many entries and the first of them."""
    warnings = []
    for name, plural, limit in (
        ("title", "titles", MAX_TITLE),
        ("summary", "summaries", MAX_SUMMARY),
    ):
        entries = [entry for entry, fields in cut if name in fields]
        if entries:
            count = f"1 {name} was" if len(entries) == 1 else f"{len(entries)} {plural} were"
            warnings.append(
                f"{count} longer than {limit:,} characters and cut short, "
                f"the first of {entries[0].url}: “{cap_text(entries[0].title, 80)}”"
            )
    return warnings


def _store(
    session: Session,
    source: Source,
    entries: Sequence[Entry],
    *,
    now: datetime,
    backlog: bool,
    stories: StoryIndex,
) -> tuple[StoreResult, list[Headline]]:
    assert source.id is not None
    result = StoreResult()
    unique: dict[str, Entry] = {}
    for entry in entries:
        unique.setdefault(entry.identity, entry)  # a feed listing one article twice
    known = _sighted_items(session, source.id, list(unique))
    unsighted = [entry for entry in unique.values() if entry.identity not in known]
    by_external_id = _items_by_external_id(
        session, [entry.record.external_id for entry in unsighted if entry.record]
    )
    by_url = _items_by_url(session, [entry.url for entry in unsighted])
    # New items of this batch by URL, with every identity under which this source listed them.
    pending: dict[str, tuple[dict[str, Any], list[str]]] = {}
    sightings: list[dict[str, Any]] = []
    for entry in unique.values():
        item = known.get(entry.identity)
        if item is not None:
            if _may_edit(item, entry, source.id) and _apply_edit(item, entry, now):
                result.updated_items[item.id or 0] = entry.identity
            else:
                result.unchanged += 1
            continue
        if entry.url in pending:
            pending[entry.url][1].append(entry.identity)
            result.unchanged += 1
            continue
        words = frozenset(title_words(entry.title))
        published = believable_published(entry.published, now)
        item = (by_external_id.get(entry.record.external_id) if entry.record else None) or (
            by_url.get(entry.url)
        )
        if item is not None:
            sightings.append(_sighting(item.id or 0, source.id, entry.identity, entry.url, now))
            if _may_edit(item, entry, source.id) and _apply_edit(item, entry, now):
                result.updated_items[item.id or 0] = entry.identity
            else:
                result.merged += 1
            continue
        # A publisher's record is its own document, never a re-post of a similar headline.
        story_id = None if entry.record else stories.find(words, published, source.id)
        if story_id is not None:
            sightings.append(_sighting(story_id, source.id, entry.identity, entry.url, now))
            result.merged += 1
            continue
        row: dict[str, Any] = {
            "source_id": source.id,
            "url": entry.url,
            "title": entry.title,
            "summary": entry.summary,
            "published_at": published,
            "first_seen_at": now,
            "updated_at": None,
            "content_hash": content_hash(entry.title, entry.summary),
            "title_key": " ".join(sorted(words)),
            "backlog": backlog,
            "source_metadata": entry.metadata,
            **_record_fields(entry),
        }
        pending[entry.url] = (row, [entry.identity])
    headlines: list[Headline] = []
    if pending:
        # Core inserts: a batch of items costs one statement, not an ORM object each.
        # A plain executemany, then the ids by URL (unique): RETURNING would cost SQLite far more.
        session.execute(_ITEMS.insert(), [row for row, _ in pending.values()])
        ids_by_url = {
            url: item_id
            for start in range(0, len(pending), _CHUNK)
            for url, item_id in session.execute(
                sa.select(_ITEMS.c.url, _ITEMS.c.id).where(
                    _ITEMS.c.url.in_(list(pending)[start : start + _CHUNK])
                )
            )
        }
        for row, identities in pending.values():
            item_id = ids_by_url[row["url"]]
            sightings.extend(_sighting(item_id, source.id, i, row["url"], now) for i in identities)
            words = frozenset(row["title_key"].split())
            headlines.append(Headline(item_id, source.id, words, row["published_at"]))
            result.new_items[item_id] = identities[0]
    if sightings:
        session.execute(_SIGHTINGS.insert(), sightings)
    return result, headlines


def _sighting(
    item_id: int, source_id: int, identity: str, url: str, now: datetime
) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "source_id": source_id,
        "identity": identity,
        "url": url,
        "first_seen_at": now,
    }


def _record_fields(entry: Entry) -> dict[str, Any]:
    record = entry.record
    return {
        "external_id": record.external_id if record else None,
        "revision": record.revision if record else None,
        "document_type": record.document_type if record else None,
        "status": record.status if record else None,
        "opens_at": record.opens_at if record else None,
        "closes_at": record.closes_at if record else None,
        "outcome_at": record.outcome_at if record else None,
    }


def _may_edit(item: Item, entry: Entry, source_id: int) -> bool:
    """Who may change a stored item: the publisher's record of it, once it has one; until then
    the source that stored it first, or a record that describes it (adopting the item)."""
    if entry.record is not None:
        return item.external_id in (None, entry.record.external_id)
    return item.external_id is None and item.source_id == source_id


def _apply_edit(item: Item, entry: Entry, now: datetime) -> bool:
    """Apply a changed title or summary, and a record's changed fields; True when something a
    reader sees changed (a new revision alone is kept quietly)."""
    digest = content_hash(entry.title, entry.summary)
    fields = _record_fields(entry) if entry.record else {}
    item.revision = fields.pop("revision", item.revision)
    record_changed = any(getattr(item, name) != value for name, value in fields.items())
    metadata_changed = entry.record is not None and entry.metadata != item.source_metadata
    if digest == item.content_hash and not record_changed and not metadata_changed:
        return False
    item.title = entry.title
    item.summary = entry.summary
    item.content_hash = digest
    item.title_key = title_key(entry.title)
    item.updated_at = now
    for name, value in fields.items():
        setattr(item, name, value)
    if entry.metadata or entry.record:  # a record's metadata is all there is to say
        item.source_metadata = entry.metadata
    return True


def _sighted_items(session: Session, source_id: int, identities: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(identities), _CHUNK):
        chunk = identities[start : start + _CHUNK]
        rows = session.exec(
            select(Sighting.identity, Item)
            .join(Item, col(Item.id) == Sighting.item_id)
            .where(Sighting.source_id == source_id, col(Sighting.identity).in_(chunk))
        )
        found.update({identity: item for identity, item in rows})
    return found


def _items_by_external_id(session: Session, external_ids: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(external_ids), _CHUNK):
        chunk = external_ids[start : start + _CHUNK]
        rows = session.exec(select(Item).where(col(Item.external_id).in_(chunk)))
        found.update({item.external_id: item for item in rows if item.external_id})
    return found


def stored_revisions(session: Session, external_ids: Collection[str]) -> dict[str, str | None]:
    """The stored revision of each of these publisher records that is stored."""
    ids = list(external_ids)
    found: dict[str, str | None] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.exec(
            select(Item.external_id, Item.revision).where(
                col(Item.external_id).in_(ids[start : start + _CHUNK])
            )
        )
        found.update({external_id: revision for external_id, revision in rows if external_id})
    return found


def records_to_reread(session: Session, prefix: str, limit: int) -> list[str]:
    """External ids starting with `prefix` stored without a revision (a record read in part),
    oldest first."""
    rows = session.exec(
        select(Item.external_id)
        .where(col(Item.external_id).startswith(prefix, autoescape=True))
        .where(col(Item.revision).is_(None))
        .order_by(col(Item.id))
        .limit(limit)
    )
    return [external_id for external_id in rows if external_id]


def _items_by_url(session: Session, urls: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(urls), _CHUNK):
        chunk = urls[start : start + _CHUNK]
        found.update(
            {item.url: item for item in session.exec(select(Item).where(col(Item.url).in_(chunk)))}
        )
    return found


@dataclass(frozen=True)
class StoredItem:
    """An item as listed to staff and on the command line."""

    item: Item
    source: str
    sources: list[str]

    def public(self, topics: Sequence[ItemTopic]) -> dict[str, Any]:
        """The item with its topics and their evidence, as `alerter items --json` prints it."""
        item = self.item
        return {
            "id": item.id,
            "source": self.source,
            "sources": self.sources,
            "title": item.title,
            "summary": item.summary,
            "url": item.url,
            "published": item.published_at.isoformat(),
            "first_seen": item.first_seen_at.isoformat(),
            "updated": item.updated_at.isoformat() if item.updated_at else None,
            "backlog": item.backlog,
            "topics": [row.topic_id for row in topics],
            "evidence": {row.topic_id: [describe(e) for e in row.evidence] for row in topics},
            "metadata": item.source_metadata,
        }

    def lines(self, topics: Sequence[ItemTopic]) -> list[str]:
        """The item as `alerter items` prints it: date, sources and title; link; topics."""
        item = self.item
        when = item.published_at.astimezone(UTC).strftime("%Y-%m-%d")
        flag = " [backlog]" if item.backlog else ""
        lines = [f"{item.id}  {when}  {', '.join(self.sources)}: {item.title}{flag}"]
        lines.append(f"    {item.url}")
        if topics:
            lines.append(f"    topics: {', '.join(row.topic_id for row in topics)}")
        return lines


def _matching(
    query: Any,
    *,
    since: datetime | None,
    source_name: str | None,
    text: str | None,
    topic: str | None,
    ids: Sequence[int] | None,
) -> Any:
    """`query` (over Item) narrowed to the items list_items and count_items keep."""
    if ids is not None:
        query = query.where(col(Item.id).in_(ids))
    if text:
        # autoescape: a `%` or `_` typed in a search is that character, not a wildcard.
        words = text.strip()
        query = query.where(
            sa.or_(
                col(Item.title).icontains(words, autoescape=True),
                col(Item.summary).icontains(words, autoescape=True),
            )
        )
    if topic:
        tagged = select(ItemTopic.item_id).where(ItemTopic.topic_id == topic)
        query = query.where(col(Item.id).in_(tagged))
    if since is not None:
        query = query.where(Item.published_at >= since)
    if source_name is not None:
        carried = select(Sighting.item_id).join(Source, col(Source.id) == Sighting.source_id)
        query = query.where(col(Item.id).in_(carried.where(Source.name == source_name)))
    return query


def list_items(
    session: Session,
    *,
    since: datetime | None = None,
    source_name: str | None = None,
    text: str | None = None,
    topic: str | None = None,
    ids: Sequence[int] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[StoredItem]:
    """Items newest first (by published time), with every source that carried each; `text`
    matches title or summary, ignoring case; `topic` keeps items carrying that topic; `ids`
    keeps those items only; `offset` skips that many (a page after the first)."""
    query = _matching(
        select(Item, Source.name).join(Source, col(Source.id) == Item.source_id),
        since=since,
        source_name=source_name,
        text=text,
        topic=topic,
        ids=ids,
    )
    query = query.order_by(col(Item.published_at).desc(), col(Item.id).desc())
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    rows = list(session.exec(query))
    carriers = _carriers(session, [item.id for item, _ in rows if item.id is not None])
    return [StoredItem(item, name, carriers.get(item.id or 0, [name])) for item, name in rows]


def count_items(
    session: Session,
    *,
    since: datetime | None = None,
    source_name: str | None = None,
    text: str | None = None,
    topic: str | None = None,
) -> int:
    """How many items list_items would give with the same filters and no limit (in SQL)."""
    query = _matching(
        select(sa.func.count()).select_from(Item),
        since=since,
        source_name=source_name,
        text=text,
        topic=topic,
        ids=None,
    )
    return int(session.exec(query).one())


def _carriers(session: Session, item_ids: list[int]) -> dict[int, list[str]]:
    carriers: dict[int, list[str]] = {}
    for start in range(0, len(item_ids), _CHUNK):
        rows = session.exec(
            select(Sighting.item_id, Source.name)
            .join(Source, col(Source.id) == Sighting.source_id)
            .where(col(Sighting.item_id).in_(item_ids[start : start + _CHUNK]))
            .order_by(col(Sighting.id))
        )
        for item_id, name in rows:
            names = carriers.setdefault(item_id, [])
            if name not in names:
                names.append(name)
    return carriers
