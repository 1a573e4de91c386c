"""From a poll of (a local fake of) GOV.UK to a member's inbox: a consultation stored with its
closing date, shown in the weekly digest, one reminder 7 days before it closes, the member's
calendar feed read back with `icalendar`, and one alert when its outcome is published. Every
moment is injected; the emails are the outbox's .eml files."""

import copy
import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.deadlines.deadline_alerts import plan_outcome_alerts, plan_reminders
from alerter.delivery import OutboxTransport
from alerter.digests.runs import plan_digests
from alerter.dispatch import dispatch_planned
from alerter.ledger.sender import SendReport
from alerter.models import Item, ItemTopic
from alerter.topics.taxonomy import load_taxonomy
from alerter.web.app import create_app
from subscriptions.links import member_link
from subscriptions.models import Frequency, Member
from subscriptions.tokens import Purpose
from tests.support.api_polls import declare, poll_at
from tests.support.fake_govuk_api import FakeGovuk, load_items
from tests.support.fake_web import FakeWeb
from tests.support.newsroom import Clock, add_subscriber
from tests.support.web_forms import csrf

FIRST_POLL = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday
JOINED = FIRST_POLL - timedelta(days=1)
PUBLISHED = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # the new consultation goes up
DIGEST = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # the next Monday's weekly digest
CLOSES = datetime(2026, 3, 27, 23, 59, tzinfo=UTC)  # Friday 27 March, 23:59 GMT
PATH = "/government/consultations/aluminium-extrusions-tariff-review"


@pytest.fixture
def govuk(web: FakeWeb, sources_file: Path) -> FakeGovuk:
    fake = FakeGovuk(web, items=load_items())
    declare(sources_file, "GOV.UK: consultations", "govuk_consultations", fake.search_url)
    return fake


@pytest.fixture
def app_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"secret_key": "s", "outbox_dir": tmp_path / "outbox", "base_url": ""}
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(FIRST_POLL)


@pytest.fixture
def client(app_settings: Settings, engine: sa.Engine, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, engine, clock=clock)) as test_client:
        yield test_client


def publish_consultation(govuk: FakeGovuk) -> dict[str, object]:
    """A new consultation on GOV.UK, shaped as the content API gives one."""
    consultation = copy.deepcopy(
        govuk.item("/government/consultations/scrap-metal-dealers-act-review")
    )
    consultation.update(
        base_path=PATH,
        content_id="9a1e6f0c-1d2b-4c3d-8e4f-5a6b7c8d9e0f",
        title="Anti-dumping duties on aluminium extrusions: tariff review",
        description="We are seeking views on the anti-dumping duties and tariff quotas on "
        "aluminium extrusions imported into the UK.",
        public_updated_at="2026-03-03T09:00:00.000+00:00",
        first_published_at="2026-03-03T09:00:00.000+00:00",
        updated_at="2026-03-03T09:00:00.000+00:00",
    )
    consultation["details"].update(
        opening_date="2026-03-03T09:00:00+00:00",
        closing_date="2026-03-27T23:59:00+00:00",
        ways_to_respond={"email": "extrusions.review@trade.example"},
    )
    govuk.items.append(consultation)
    return consultation


def inbox(outbox: Path) -> list[EmailMessage]:
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(outbox.glob("*.eml"))
    ]
    return [m for m in messages if isinstance(m, EmailMessage)]


def subjects(outbox: Path, to: str) -> list[str]:
    # A long subject is folded at its start; readers drop the leading space, as here.
    return [str(m["Subject"]).strip() for m in inbox(outbox) if m["To"] == to]


def about(outbox: Path, subject_start: str) -> EmailMessage:
    return next(m for m in inbox(outbox) if str(m["Subject"]).strip().startswith(subject_start))


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def send(session: Session, settings: Settings, now: datetime) -> SendReport:
    transport = OutboxTransport(settings.outbox_dir, settings.mail_from)
    taxonomy = load_taxonomy(settings.topics)
    return dispatch_planned(session, transport, settings, taxonomy, clock=Clock(now))


def test_a_consultation_from_poll_to_inbox_digest_reminder_calendar_and_outcome(
    engine: sa.Engine,
    app_settings: Settings,
    govuk: FakeGovuk,
    client: TestClient,
    clock: Clock,
    session: Session,
) -> None:
    outbox = app_settings.outbox_dir
    every_topic = [topic.id for topic in load_taxonomy(app_settings.topics).topics]
    jo_id = add_subscriber(session, "jo@alfed.example", every_topic, joined=JOINED, name="Jo")
    jo = session.get(Member, jo_id)
    assert jo is not None
    manage = member_link(app_settings, jo, Purpose.MANAGE)
    client.post(
        manage,
        data={
            "csrf_token": csrf(client.get(manage).text),
            "topics": every_topic,
            "frequency": "weekly",
            "deadline_reminders": "true",
        },
    )

    # The first poll stores what is already there as backlog; the next finds a new one.
    assert poll_at(engine, app_settings, FIRST_POLL).backlog
    publish_consultation(govuk)
    assert poll_at(engine, app_settings, PUBLISHED + timedelta(hours=1)).new == 1
    session.expire_all()
    item = session.exec(select(Item).where(Item.external_id == f"govuk:{PATH}")).one()
    assert (item.closes_at, item.status, item.backlog) == (CLOSES, "open", False)
    assert session.exec(select(ItemTopic).where(ItemTopic.item_id == item.id)).first()

    # The weekly digest carries it with its closing date.
    plan_digests(session, Frequency.WEEKLY, DIGEST)
    assert send(session, app_settings, DIGEST).sent == 1
    [digest] = inbox(outbox)
    assert "Anti-dumping duties on aluminium extrusions: tariff review" in text_of(digest)
    assert "Closes Fri 27 Mar — 18 days left" in text_of(digest)

    # One reminder, 7 days before it closes, however often the worker's job runs.
    for day, hour in [(19, 8), (20, 8), (20, 9), (21, 8), (22, 8)]:
        now = datetime(2026, 3, day, hour, 0, tzinfo=UTC)
        plan_reminders(session, now)
        send(session, app_settings, now)
    reminders = [s for s in subjects(outbox, "jo@alfed.example") if s.startswith("Closes")]
    assert reminders == [
        # From the first poll's backlog, closing at 17:00 on the 20th: its 2-day reminder.
        "Closes Fri 20 Mar — 1 day left: Critical minerals: UK refining capacity",
        "Closes Fri 27 Mar — 7 days left: Anti-dumping duties on aluminium extrusions: "
        "tariff review",
    ]
    reminder = about(outbox, "Closes Fri 27 Mar")
    assert "extrusions.review@trade.example" in text_of(reminder)  # how to respond

    # The member's calendar feed, from the link on their manage page, read back.
    clock.now = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    link = re.search(r'id="calendar-url" value="([^"]+)"', client.get(manage).text)
    assert link is not None
    feed = client.get(link.group(1))
    assert feed.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(feed.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    event = events[f"item-{item.id}@alerter"]
    assert event.decoded("DTSTART") == CLOSES
    assert str(event["SUMMARY"]) == (
        "Closes: Anti-dumping duties on aluminium extrusions: tariff review"
    )

    # The outcome is published: GOV.UK's record changes, the next poll updates the item, and
    # the member sent the consultation is told once.
    consultation = govuk.item(PATH)
    consultation.update(
        document_type="consultation_outcome", public_updated_at="2026-04-20T10:30:00.000+01:00"
    )
    consultation["details"].update(
        final_outcome_detail="<p>The duties continue for five years.</p>",
        final_outcome_publication_date="2026-04-20T10:30:00+01:00",
    )
    later = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
    assert poll_at(engine, app_settings, later).updated >= 1
    add_subscriber(session, "bob@alfed.example", every_topic, joined=later)  # never sent it
    for now in (later + timedelta(hours=20), later + timedelta(days=2)):
        plan_outcome_alerts(session, now)
        send(session, app_settings, now)

    outcomes = [s for s in subjects(outbox, "jo@alfed.example") if s.startswith("Outcome")]
    assert outcomes == [
        "Outcome published: Anti-dumping duties on aluminium extrusions: tariff review"
    ]
    assert "The duties continue for five years." in text_of(about(outbox, "Outcome"))
    assert subjects(outbox, "bob@alfed.example") == []
