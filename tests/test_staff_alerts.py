"""Staff hear of trouble by email, once per problem: a source failing for a day, an HTML page
whose selectors stopped matching, deliveries that failed, were left unsent or are in doubt."""

import email
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.delivery import OutboxTransport
from alerter.models import Source, StaffAlert
from alerter.staff_alerts import alert_staff
from tests.support.newsroom import news_source, weekly_run

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxTransport:
    return OutboxTransport(tmp_path / "outbox", "alerts@alerter.example")


@pytest.fixture
def staff_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"staff_email": "ops@alfed.example, web@alfed.example"})


def subjects(outbox: OutboxTransport) -> list[str]:
    return sorted(
        email.message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"]
        for p in outbox.folder.glob("*.eml")
    )


def failing(
    session: Session, name: str, since: datetime, error: str, kind: str | None = None
) -> Source:
    source = news_source(session, name)
    source.failing_since, source.consecutive_failures = since, 9
    source.last_error, source.last_error_kind = error, kind
    session.commit()
    return source


def test_a_source_failing_for_a_day_is_mailed_once_and_again_only_after_it_recovered(
    session: Session, outbox: OutboxTransport, staff_settings: Settings
) -> None:
    source = failing(session, "DBT", NOW - timedelta(hours=25), "connection refused")
    other = failing(session, "CMF", NOW - timedelta(hours=2), "HTTP 503")  # not a day yet

    first = alert_staff(session, outbox, staff_settings, NOW)
    second = alert_staff(session, outbox, staff_settings, NOW + timedelta(minutes=5))

    assert (first, second) == (1, 0)
    assert subjects(outbox) == ["alerter: DBT has failed for 25 hours"] * 2  # two addresses
    for recovered in (source, other):
        recovered.failing_since, recovered.consecutive_failures = None, 0
    session.commit()
    alert_staff(session, outbox, staff_settings, NOW + timedelta(hours=1))
    assert session.exec(select(StaffAlert)).one().closed_at is not None

    failing(session, "DBT", NOW + timedelta(hours=2), "connection refused")
    again = alert_staff(session, outbox, staff_settings, NOW + timedelta(hours=27))

    assert again == 1


def test_selectors_that_stopped_matching_are_mailed_at_once_with_the_error(
    session: Session, outbox: OutboxTransport, staff_settings: Settings
) -> None:
    message = "CMF news: no element matched `article.news-card`; the site layout may have changed"
    failing(session, "CMF news", NOW - timedelta(minutes=10), message, kind="layout")

    alert_staff(session, outbox, staff_settings, NOW)

    [first, _] = list(outbox.folder.glob("*.eml"))
    sent = email.message_from_bytes(first.read_bytes())
    assert sent["Subject"] == "alerter: CMF news: its page layout seems to have changed"
    text = next(p for p in sent.walk() if p.get_content_type() == "text/plain")
    assert "article.news-card" in text.get_payload(decode=True).decode()


def test_failed_and_unsent_deliveries_are_each_one_problem_per_run(
    session: Session, outbox: OutboxTransport, staff_settings: Settings
) -> None:
    weekly_run(
        session,
        ["failed", "failed", "planned"],
        planned_at=NOW - timedelta(hours=2),
        error="SendGrid answered 400: The from address does not match a verified Sender",
    )

    alert_staff(
        session, outbox, staff_settings.model_copy(update={"staff_email": "ops@alfed.example"}), NOW
    )

    assert subjects(outbox) == [
        "alerter: 1 weekly digest email of 2026-W10 still unsent after an hour",
        "alerter: 2 weekly digest emails of 2026-W10 failed",
    ]


def test_deliveries_in_doubt_for_good_are_one_problem_per_run(
    session: Session, outbox: OutboxTransport, staff_settings: Settings
) -> None:
    weekly_run(session, ["sent", "in_doubt", "in_doubt"], planned_at=NOW - timedelta(hours=2))

    alert_staff(
        session, outbox, staff_settings.model_copy(update={"staff_email": "ops@alfed.example"}), NOW
    )

    assert subjects(outbox) == ["alerter: 2 weekly digest emails of 2026-W10 in doubt"]


def test_without_a_staff_address_alerts_wait_and_are_sent_once_one_is_set(
    session: Session, outbox: OutboxTransport, settings: Settings, staff_settings: Settings
) -> None:
    failing(session, "DBT", NOW - timedelta(days=2), "HTTP 410 Gone")

    assert alert_staff(session, outbox, settings, NOW) == 0
    assert alert_staff(session, outbox, staff_settings, NOW + timedelta(minutes=5)) == 1
    assert alert_staff(session, outbox, staff_settings, NOW + timedelta(minutes=10)) == 0
