"""The calendar feeds over HTTP: a member's by their link (revocable), a topic's in public."""

from collections.abc import Iterator
from datetime import UTC, datetime

import icalendar
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from alerter.config import Settings
from alerter.web.app import create_app
from subscriptions.links import calendar_link, member_link
from subscriptions.members import unsubscribe
from subscriptions.models import Member
from subscriptions.tokens import Purpose
from tests.support.newsroom import Clock, add_subscriber, store_consultation
from tests.support.web_forms import csrf

NOW = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
STORED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"secret_key": "test secret", "base_url": ""})


@pytest.fixture
def client(app_settings: Settings, engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, engine, clock=Clock(NOW))) as test_client:
        yield test_client


@pytest.fixture
def jo(session: Session) -> Member:
    store_consultation(session, datetime(2027, 1, 15, 23, 59, tzinfo=UTC), stored=STORED)
    store_consultation(
        session,
        datetime(2027, 1, 20, 23, 59, tzinfo=UTC),
        stored=STORED,
        topic="skills",
        title="Apprenticeship levy reform",
    )
    store_consultation(  # closed yesterday
        session, datetime(2027, 1, 5, 23, 59, tzinfo=UTC), stored=STORED, title="Closed one"
    )
    member = session.get(
        Member, add_subscriber(session, "jo@foundry.example", ["tariffs"], joined=STORED)
    )
    assert member is not None
    return member


def summaries(body: bytes) -> list[str]:
    return [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")]


def test_a_members_feed_holds_the_open_consultations_on_their_topics(
    client: TestClient, jo: Member, app_settings: Settings
) -> None:
    feed = client.get(calendar_link(app_settings, jo))

    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert feed.headers["cache-control"] == "no-store"
    assert summaries(feed.content) == ["Closes: Aluminium tariff review"]


def test_replacing_the_link_on_the_manage_page_revokes_the_old_one(
    client: TestClient, jo: Member, app_settings: Settings, engine: sa.Engine
) -> None:
    old = calendar_link(app_settings, jo)
    manage = member_link(app_settings, jo, Purpose.MANAGE)

    page = client.post(f"{manage}/calendar", data={"csrf_token": csrf(client.get(manage).text)})

    with Session(engine) as session:
        renewed = session.get(Member, jo.id)
        assert renewed is not None
        new = calendar_link(app_settings, renewed)
    assert new != old and new in page.text
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_a_tampered_link_finds_no_calendar(
    client: TestClient, jo: Member, app_settings: Settings
) -> None:
    link = calendar_link(app_settings, jo)

    assert client.get(link.replace(".ics", "x.ics")).status_code == 404


def test_a_topics_feed_is_public(client: TestClient, jo: Member) -> None:
    feed = client.get("/topics/skills/calendar.ics")

    assert feed.status_code == 200
    assert summaries(feed.content) == ["Closes: Apprenticeship levy reform"]
    assert client.get("/topics/no-such-topic/calendar.ics").status_code == 404


def test_unsubscribing_stops_the_members_feed(
    client: TestClient, jo: Member, app_settings: Settings, session: Session
) -> None:
    unsubscribe(session, jo, "unsubscribe link", NOW)
    session.commit()

    assert client.get(calendar_link(app_settings, jo)).status_code == 404


def test_a_select_committees_call_for_evidence_is_in_the_feed_too(
    client: TestClient, jo: Member, app_settings: Settings, session: Session
) -> None:
    store_consultation(
        session,
        datetime(2027, 2, 1, 0, 0, tzinfo=UTC),  # the committees API gives a date
        stored=STORED,
        title="The future of the UK steel industry",
        document_type="committee_inquiry",
    )

    feed = client.get(calendar_link(app_settings, jo))

    assert summaries(feed.content) == [
        "Closes: Aluminium tariff review",
        "Closes: The future of the UK steel industry",
    ]
