"""What goes in a member's digest: pure functions from candidate items and the member's topics
to grouped, capped content. Rendering and sending are elsewhere."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from alerter.deadlines.closing import closing_soon, deadline_label, is_open, responding_label
from alerter.topics.taxonomy import Taxonomy

DEFAULT_CAP = 30


@dataclass(frozen=True)
class DigestItem:
    """A stored item as a digest sees it."""

    item_id: int
    title: str
    summary: str
    url: str
    published: datetime
    first_seen: datetime  # when alerter first stored it: what decides which digest it is news for
    publishers: tuple[str, ...]  # every source's publisher, for a story several reported
    # Topic id -> strength (the evidence's points; a staff decision outranks any evidence).
    topics: dict[str, float]
    closes: datetime | None = None  # a consultation's or inquiry's closing time
    # The association's own deadline for members' views, when staff said it is responding.
    responding_by: date | None = None


@dataclass(frozen=True)
class DigestEntry:
    item: DigestItem
    tags: tuple[str, ...]  # the item's other topics, as labels
    deadline: str = ""  # "closes Thu 15 Jan — 9 days left", when it has a closing date
    responding: str = ""  # "The association is responding: send us your views by ..."


@dataclass(frozen=True)
class DigestSection:
    topic_id: str
    label: str
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True)
class Digest:
    sections: tuple[DigestSection, ...]
    more: int  # matching items left out by the cap
    followed: tuple[str, ...] = field(default=())  # labels of the topics the member follows

    @property
    def count(self) -> int:
        return sum(len(section.entries) for section in self.sections)

    @property
    def empty(self) -> bool:
        return not self.sections


def build_digest(
    items: Sequence[DigestItem],
    member_topics: Sequence[str],
    taxonomy: Taxonomy,
    *,
    now: datetime,
    cap: int = DEFAULT_CAP,
) -> Digest:
    """Items carrying any of the member's topics, each once: under its strongest topic of
    theirs, its other topics shown as tags; sections in taxonomy order, those closing soon
    first within (soonest first), then the newest; at most `cap` items (the newest), with the
    number left out. Closing dates are counted from `now`."""
    followed = set(member_topics)
    labels = {topic.id: topic.label for topic in taxonomy.topics}
    order = {topic.id: n for n, topic in enumerate(taxonomy.topics)}
    matching = [item for item in items if followed & item.topics.keys()]
    matching.sort(key=lambda item: (item.published, item.item_id), reverse=True)
    kept, more = matching[:cap], max(0, len(matching) - cap)
    grouped: dict[str, list[DigestEntry]] = {}
    for item in kept:
        home = max(
            followed & item.topics.keys(),
            key=lambda topic: (item.topics[topic], -order.get(topic, len(order))),
        )
        tags = tuple(
            labels.get(topic, topic)
            for topic in sorted(item.topics, key=lambda t: order.get(t, len(order)))
            if topic != home
        )
        grouped.setdefault(home, []).append(_entry(item, tags, now))
    sections = tuple(
        DigestSection(topic, labels.get(topic, topic), _closing_soon_first(entries, now))
        for topic, entries in sorted(grouped.items(), key=lambda kv: order.get(kv[0], len(order)))
    )
    followed_labels = tuple(labels[topic.id] for topic in taxonomy.topics if topic.id in followed)
    return Digest(sections, more, followed_labels)


def _entry(item: DigestItem, tags: tuple[str, ...], now: datetime) -> DigestEntry:
    deadline = deadline_label(item.closes, now) if item.closes else ""
    responding = ""
    if item.responding_by is not None and item.closes is not None and is_open(item.closes, now):
        responding = responding_label(item.responding_by, now)
    return DigestEntry(item, tags, deadline, responding)


def _closing_soon_first(entries: list[DigestEntry], now: datetime) -> tuple[DigestEntry, ...]:
    """Entries already newest first, with those closing soon moved ahead, soonest first."""
    soon = [e for e in entries if closing_soon(e.item.closes, now)]
    soon.sort(key=lambda e: (e.item.closes, e.item.item_id))
    return (*soon, *(e for e in entries if e not in soon))
