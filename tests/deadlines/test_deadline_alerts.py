"""Deadline reminders and outcome alerts: planned in the ledger, each sent once."""

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.deadlines.deadline_alerts import plan_outcome_alerts, plan_reminders
from alerter.delivery import OutboxTransport
from alerter.delivery.compose.deadlines import OUTCOME, REMINDER
from alerter.dispatch import dispatch_planned
from alerter.ledger.sender import SendReport
from alerter.models import Delivery, Item
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.models import Member
from tests.support.newsroom import Clock, add_subscriber, store_consultation

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
STORED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLOSES = datetime(2027, 1, 15, 23, 59, tzinfo=UTC)  # Friday 15 January, 23:59 in London


def at(day: int, month: int = 1) -> datetime:
    return datetime(2027 if month < 12 else 2026, month, day, 8, 0, tzinfo=UTC)


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxTransport:
    return OutboxTransport(tmp_path / "outbox", "alerts@alerter.example")


@pytest.fixture
def app_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"secret_key": "s", "outbox_dir": tmp_path / "outbox"})


def consultation(
    session: Session,
    closes: datetime = CLOSES,
    *,
    topic: str = "tariffs",
    backlog: bool = False,
    document_type: str = "consultation",
) -> Item:
    return store_consultation(
        session, closes, stored=STORED, topic=topic, backlog=backlog, document_type=document_type
    )


def wants_reminders(session: Session, address: str, topics: list[str], on: bool = True) -> int:
    member_id = add_subscriber(session, address, topics, joined=STORED)
    member = session.get(Member, member_id)
    assert member is not None
    member.deadline_reminders = on
    session.commit()
    return member_id


def remind(
    session: Session, outbox: OutboxTransport, settings: Settings, now: datetime
) -> SendReport:
    plan_reminders(session, now)
    return dispatch_planned(session, outbox, settings, TAXONOMY, clock=Clock(now))


def inbox(outbox: OutboxTransport) -> list[tuple[str, str]]:
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in outbox.folder.glob("*.eml")
    ]
    return sorted((str(m["To"]), str(m["Subject"])) for m in messages)


def test_a_reminder_goes_once_seven_days_before_to_members_who_asked_on_its_topics(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    consultation(session)
    wants_reminders(session, "ann@alfed.example", ["tariffs"])
    wants_reminders(session, "bob@alfed.example", ["tariffs"], on=False)
    wants_reminders(session, "cat@alfed.example", ["skills"])

    assert remind(session, outbox, app_settings, at(7)).sent == 0  # 8 days before: too early
    first = remind(session, outbox, app_settings, at(8))
    again = remind(session, outbox, app_settings, at(8) + timedelta(hours=3))
    next_day = remind(session, outbox, app_settings, at(9))

    assert (first.sent, again.sent, next_day.sent) == (1, 0, 0)
    assert inbox(outbox) == [
        ("ann@alfed.example", "Closes Fri 15 Jan — 7 days left: Aluminium tariff review")
    ]


def test_the_two_day_reminder_follows_and_says_how_to_respond(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    consultation(session)
    wants_reminders(session, "ann@alfed.example", ["tariffs"])
    remind(session, outbox, app_settings, at(8))

    report = remind(session, outbox, app_settings, at(13))

    assert report.sent == 1
    subjects = [subject for _, subject in inbox(outbox)]
    assert "Closes Fri 15 Jan — 2 days left: Aluminium tariff review" in subjects
    text = "\n".join(p.read_text() for p in outbox.folder.glob("*.eml"))
    assert "tariffs@trade.example" in text  # how to respond, from the content API


def test_a_moved_deadline_has_its_own_reminders_and_the_old_dates_stop(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    item = consultation(session)
    wants_reminders(session, "ann@alfed.example", ["tariffs"])
    remind(session, outbox, app_settings, at(8))  # 7 days before the 15th
    item.closes_at = datetime(2027, 1, 29, 23, 59, tzinfo=UTC)  # extended by two weeks
    session.commit()

    old_two_days = remind(session, outbox, app_settings, at(13))
    new_seven_days = remind(session, outbox, app_settings, at(22))

    assert (old_two_days.sent, new_seven_days.sent) == (0, 1)
    assert inbox(outbox)[-1][1] == "Closes Fri 29 Jan — 7 days left: Aluminium tariff review"


def test_a_reminder_planned_before_the_deadline_moved_is_not_sent(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    item = consultation(session)
    wants_reminders(session, "ann@alfed.example", ["tariffs"])
    plan_reminders(session, at(8))
    item.closes_at = datetime(2027, 1, 29, 23, 59, tzinfo=UTC)
    session.commit()

    report = dispatch_planned(session, outbox, app_settings, TAXONOMY, clock=Clock(at(8)))

    assert (report.sent, report.skipped) == (0, 1)


def test_backlog_consultations_and_committee_inquiries_are_reminded_of_too(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    consultation(session, backlog=True, document_type="committee_inquiry")
    wants_reminders(session, "ann@alfed.example", ["tariffs"])

    assert remind(session, outbox, app_settings, at(8)).sent == 1


def test_news_without_a_deadline_type_gets_no_reminder(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    consultation(session, document_type="committee_publication")
    wants_reminders(session, "ann@alfed.example", ["tariffs"])

    assert remind(session, outbox, app_settings, at(8)).sent == 0


def sent_item(session: Session, member_id: int, item_id: int, kind: str, when: datetime) -> None:
    session.add(
        Delivery(
            member_id=member_id,
            kind=kind,
            period=when.strftime("%Y-%m-%d"),
            status="sent",
            window_start=when,
            window_end=when,
            planned_at=when,
            sent_at=when,
            item_ids=[item_id],
        )
    )
    session.commit()


def test_an_outcome_is_announced_once_to_the_members_who_were_sent_the_consultation(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    item = consultation(session)
    ann = add_subscriber(session, "ann@alfed.example", ["tariffs"], joined=STORED)
    add_subscriber(session, "bob@alfed.example", ["tariffs"], joined=STORED)  # never sent it
    sent_item(session, ann, item.id or 0, "digest-weekly", STORED + timedelta(days=6))
    item.outcome_at = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    item.status = "outcome"
    item.source_metadata = {"outcome": "The tariff stays at 6% until 2028."}
    session.commit()
    now = datetime(2027, 3, 2, 8, 0, tzinfo=UTC)

    planned = [plan_outcome_alerts(session, now), plan_outcome_alerts(session, now)]
    report = dispatch_planned(session, outbox, app_settings, TAXONOMY, clock=Clock(now))
    plan_outcome_alerts(session, now + timedelta(days=1))
    later = dispatch_planned(session, outbox, app_settings, TAXONOMY, clock=Clock(now))

    assert planned == [1, 1]  # offered again, kept once by the ledger
    assert (report.sent, later.sent) == (1, 0)
    assert inbox(outbox) == [("ann@alfed.example", "Outcome published: Aluminium tariff review")]
    assert "The tariff stays at 6% until 2028." in next(outbox.folder.glob("*.eml")).read_text()
    kinds = session.exec(select(Delivery.kind).where(Delivery.kind == OUTCOME)).all()
    assert kinds == [OUTCOME]


def test_an_outcome_known_when_the_consultation_was_stored_is_not_announced(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    item = consultation(session)
    item.outcome_at = STORED - timedelta(days=3)
    session.commit()
    ann = add_subscriber(session, "ann@alfed.example", ["tariffs"], joined=STORED)
    sent_item(session, ann, item.id or 0, REMINDER, STORED + timedelta(days=1))

    assert plan_outcome_alerts(session, STORED + timedelta(days=2)) == 0
