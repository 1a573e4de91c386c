"""Stored news and members for the tests of digests, sending and bulletins: items stored and
classified as a poll stores them, and members who are already active."""

from datetime import datetime

from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.ingest.sources.base import Entry
from alerter.ingest.store import store_entries, story_index
from alerter.models import Delivery, Item, ItemTopic, Source
from alerter.topics.labelling import classify_items, load_classifier
from subscriptions.members import add_member
from subscriptions.models import Frequency


class Clock:
    """A clock that says what the test tells it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def news_source(session: Session, name: str = "DBT") -> Source:
    """The feed source of that name, declared on first use."""
    source = session.exec(select(Source).where(Source.name == name)).one_or_none()
    if source is None:
        source = Source(
            name=name, kind="feed", url=f"https://gov.example/{name}/feed", publisher=name
        )
        session.add(source)
        session.flush()
    return source


def store_item(
    session: Session,
    title: str,
    at: datetime,
    *,
    backlog: bool = False,
    summary: str = "",
    source: str = "DBT",
) -> int:
    """Store one new item first seen and published at `at`, classified; its id."""
    url = f"https://gov.example/{abs(hash(title))}"
    result = store_entries(
        session,
        news_source(session, source),
        [Entry(url, url, title, summary, at)],
        now=at,
        backlog=backlog,
        stories=story_index(session),
    )
    classify_items(session, load_classifier(session, DEFAULT_TOPICS_FILE), result.new_item_ids)
    session.commit()
    return result.new_item_ids[0]


def add_subscriber(
    session: Session,
    address: str,
    topics: list[str],
    *,
    joined: datetime,
    name: str = "",
    frequency: Frequency = Frequency.WEEKLY,
) -> int:
    """An active member (consent confirmed by staff) who joined at `joined`; their id."""
    member = add_member(
        session,
        address,
        name=name,
        organisation="",
        topics=topics,
        frequency=frequency,
        consent_confirmed=True,
        added_by="test",
        now=joined,
    )
    session.commit()
    assert member.id is not None
    return member.id


def weekly_run(
    session: Session, statuses: list[str], *, planned_at: datetime, error: str = ""
) -> None:
    """A weekly digest run of 2026-W10 as the ledger records it: one member per status, the
    failed ones with `error`."""
    for n, status in enumerate(statuses):
        member_id = add_subscriber(session, f"m{n}@foundry.example", ["tariffs"], joined=planned_at)
        session.add(
            Delivery(
                member_id=member_id,
                kind="digest-weekly",
                period="2026-W10",
                status=status,
                window_start=planned_at,
                window_end=planned_at,
                planned_at=planned_at,
                error=error if status == "failed" else None,
            )
        )
    session.commit()


def store_consultation(
    session: Session,
    closes: datetime,
    *,
    stored: datetime,
    topic: str = "tariffs",
    title: str = "Aluminium tariff review",
    backlog: bool = False,
    document_type: str = "consultation",
) -> Item:
    """An open consultation on `topic` closing at `closes`, as govuk_consultations stores one."""
    slug = "-".join(title.lower().split())
    item = Item(
        source_id=news_source(session, "GOV.UK consultations").id or 0,
        url=f"https://www.gov.uk/government/consultations/{slug}",
        title=title,
        summary="Views sought on the tariff on aluminium imports.",
        published_at=stored,
        first_seen_at=stored,
        content_hash=slug,
        title_key=slug,
        backlog=backlog,
        external_id=f"govuk:/government/consultations/{slug}",
        document_type=document_type,
        status="open",
        closes_at=closes,
        source_metadata={"how_to_respond": {"email": "tariffs@trade.example"}},
    )
    session.add(item)
    session.flush()
    session.add(ItemTopic(item_id=item.id or 0, topic_id=topic, assigned_by="staff"))
    session.commit()
    return item
