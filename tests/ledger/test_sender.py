"""Digest runs over the delivery ledger: each member's digest is sent once, whatever happens."""

import email
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

import alerter.db
from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.db import create_db_engine
from alerter.delivery import Mailing, OutboxTransport, SendBatch
from alerter.digests.runs import period_of, plan_digests, run_digest
from alerter.dispatch import dispatch_planned
from alerter.ledger.sender import MARK_RETRY_SECONDS
from alerter.models import Delivery, Item, Source
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.members import find_member, unsubscribe
from subscriptions.models import Frequency
from tests.support.newsroom import Clock, add_subscriber, store_item
from tests.support.raw_mail import decoded, raw_headers, unfolded

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
JOINED = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday
NEXT_MONDAY = JOINED + timedelta(days=7)


def store(session: Session, title: str, at: datetime) -> None:
    store_item(session, title, at)


def member(session: Session, address: str, topics: list[str]) -> None:
    add_subscriber(session, address, topics, joined=JOINED)


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxTransport:
    return OutboxTransport(tmp_path / "outbox", "alerts@alerter.example")


@pytest.fixture
def app_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"secret_key": "s", "outbox_dir": tmp_path / "outbox"})


def run(
    session: Session, outbox: OutboxTransport, settings: Settings, now: datetime, **kwargs: object
) -> object:
    plan_digests(session, Frequency.WEEKLY, now)
    return dispatch_planned(
        session,
        outbox,
        settings,
        TAXONOMY,
        kind="digest-weekly",
        period=period_of(Frequency.WEEKLY, now),
        clock=Clock(now),
        **kwargs,
    )  # type: ignore[arg-type]


def sent_to(outbox: OutboxTransport) -> list[str]:
    return sorted(
        email.message_from_bytes(p.read_bytes())["To"] for p in outbox.folder.glob("*.eml")
    )


def test_each_member_gets_one_digest_of_their_topics(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    member(session, "bob@cmf.example", ["skills"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))

    report = run(session, outbox, app_settings, NEXT_MONDAY)

    assert report.sent == 1
    assert sent_to(outbox) == ["ann@alfed.example"]  # nothing new for Bob: no email


def test_running_the_same_digest_again_sends_nothing_more(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    run(session, outbox, app_settings, NEXT_MONDAY)

    again = run(session, outbox, app_settings, NEXT_MONDAY + timedelta(hours=1))

    assert again.sent == 0
    assert len(list(outbox.folder.glob("*.eml"))) == 1


def test_next_weeks_digest_holds_only_what_arrived_since(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    run(session, outbox, app_settings, NEXT_MONDAY)
    store(
        session,
        "Steel safeguard quota reopens for the third quarter",
        NEXT_MONDAY + timedelta(days=1),
    )

    run(session, outbox, app_settings, NEXT_MONDAY + timedelta(days=7))

    rows = session.exec(select(Delivery).order_by(Delivery.id)).all()
    assert [len(r.item_ids) for r in rows] == [1, 1]
    assert rows[1].window_start == rows[0].window_end


def test_a_member_who_unsubscribes_after_planning_gets_nothing(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    plan_digests(session, Frequency.WEEKLY, NEXT_MONDAY)
    ann = find_member(session, "ann@alfed.example")
    assert ann is not None
    unsubscribe(session, ann, "one-click", NEXT_MONDAY)
    session.commit()

    report = dispatch_planned(
        session,
        outbox,
        app_settings,
        TAXONOMY,
        kind="digest-weekly",
        period=period_of(Frequency.WEEKLY, NEXT_MONDAY),
        clock=Clock(NEXT_MONDAY),
    )

    assert (report.sent, report.skipped) == (0, 1)
    assert sent_to(outbox) == []


@pytest.fixture
def sender_died_after_sending(
    session: Session,
    outbox: OutboxTransport,
    app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ann's weekly digest, written by a sender that died between sending it and recording
    it in the ledger."""
    member(session, "ann@alfed.example", ["tariffs"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    import alerter.ledger.sender

    def die_before_marking(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed")  # the process dies between sending and recording it

    monkeypatch.setattr(alerter.ledger.sender._SendRun, "_finish", die_before_marking)
    with pytest.raises(SystemExit):
        run(session, outbox, app_settings, NEXT_MONDAY)
    monkeypatch.undo()
    session.rollback()


def test_a_sender_that_died_after_sending_is_taken_over_without_a_duplicate(
    session: Session,
    outbox: OutboxTransport,
    app_settings: Settings,
    sender_died_after_sending: None,
) -> None:
    assert len(list(outbox.folder.glob("*.eml"))) == 1

    too_soon = run(session, outbox, app_settings, NEXT_MONDAY + timedelta(seconds=30))
    later = run(
        session,
        outbox,
        app_settings,
        NEXT_MONDAY + timedelta(seconds=app_settings.delivery_lease_seconds + 60),
    )

    assert too_soon.sent == 0  # still the dead sender's
    assert later.sent == 1
    assert sent_to(outbox) == ["ann@alfed.example"]  # the same file, written again
    [row] = session.exec(select(Delivery)).all()
    assert (row.status, row.attempts) == ("sent", 2)


def message_ids(outbox: OutboxTransport) -> set[bytes]:
    return {raw_headers(p.read_bytes())[b"Message-ID"] for p in outbox.folder.glob("*.eml")}


def test_a_digest_sent_again_after_a_crash_keeps_its_message_id(
    session: Session,
    outbox: OutboxTransport,
    app_settings: Settings,
    sender_died_after_sending: None,
) -> None:
    first = message_ids(outbox)

    run(
        session,
        outbox,
        app_settings,
        NEXT_MONDAY + timedelta(seconds=app_settings.delivery_lease_seconds + 60),
    )

    [row] = session.exec(select(Delivery)).all()
    assert (row.status, row.attempts) == ("sent", 2)
    assert message_ids(outbox) == first == {f"<{row.message_token}@alerter.example>".encode()}


def test_message_ids_never_repeat_even_in_a_ledger_made_again_from_scratch(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    member(session, "bob@cmf.example", ["tariffs"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    run(session, outbox, app_settings, NEXT_MONDAY)
    before = message_ids(outbox)
    ids_before = {d.id for d in session.exec(select(Delivery))}
    session.execute(sa.delete(Delivery))  # as if the database were made again
    session.commit()

    again = OutboxTransport(outbox.folder.parent / "again", outbox.mail_from)

    run(session, again, app_settings, NEXT_MONDAY)

    after = message_ids(again)
    assert len(before) == 2 and len(after) == 2 and not before & after
    # SQLite numbers the new rows as the old ones were numbered; the Message-IDs differ anyway.
    if session.get_bind().dialect.name == "sqlite":
        assert {d.id for d in session.exec(select(Delivery))} == ids_before


def test_the_outbox_writes_list_unsubscribe_raw_with_the_unsubscribe_address(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    settings = app_settings.model_copy(update={"unsubscribe_mailto": "leave@alfed.example"})

    run(session, outbox, settings, NEXT_MONDAY)

    [path] = outbox.folder.glob("*.eml")
    headers = raw_headers(path.read_bytes())  # CRLF, line lengths and ASCII checked too
    link, mailto = unfolded(headers[b"List-Unsubscribe"]).split(b", ")
    assert re.fullmatch(rb"<http://127\.0\.0\.1:8000/unsubscribe/[A-Za-z0-9._%-]+>", link)
    assert mailto == b"<mailto:leave@alfed.example?subject=unsubscribe>"
    assert headers[b"List-Unsubscribe-Post"] == b"List-Unsubscribe=One-Click"
    assert (
        decoded(headers[b"Subject"])
        == "New anti-dumping duties on aluminium extrusions — in your weekly digest"
    )
    assert headers[b"To"] == b"ann@alfed.example"


def test_two_planners_never_plan_a_member_twice(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))

    first = plan_digests(session, Frequency.WEEKLY, NEXT_MONDAY)
    second = plan_digests(session, Frequency.WEEKLY, NEXT_MONDAY + timedelta(minutes=5))

    assert (first.planned, second.already_planned) == (1, 1)
    assert len(session.exec(select(Delivery)).all()) == 1


def test_members_with_nothing_new_get_no_email_unless_staff_ask_for_empty_digests(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    member(session, "bob@cmf.example", ["skills"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    empty_too = app_settings.model_copy(update={"send_empty_digests": True})

    plan, report = run_digest(session, outbox, empty_too, TAXONOMY, Frequency.WEEKLY, NEXT_MONDAY)

    assert (plan.planned, plan.nothing_new, report.sent) == (2, 1, 2)
    bobs = next(
        email.message_from_bytes(p.read_bytes())
        for p in outbox.folder.glob("*.eml")
        if b"bob@cmf.example" in p.read_bytes()
    )
    assert bobs["Subject"] == "Your weekly policy alerts: nothing new"
    text = next(p for p in bobs.walk() if p.get_content_type() == "text/plain")
    assert "Nothing new has been published" in text.get_payload(decode=True).decode()


def test_a_capped_digest_links_to_the_members_page_of_recent_news(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    for n in range(3):
        store(session, f"Anti-dumping duties on extrusions, notice {n}", JOINED + timedelta(n + 1))

    run(session, outbox, app_settings, NEXT_MONDAY, cap=2)

    [message] = [email.message_from_bytes(p.read_bytes()) for p in outbox.folder.glob("*.eml")]
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode()
    assert "And 1 more item: http://127.0.0.1:8000/news/" in body


def test_a_digest_that_cannot_be_built_fails_that_members_row_and_the_run_goes_on(
    session: Session, outbox: OutboxTransport, app_settings: Settings
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    member(session, "cat@foundry.example", ["recycling"])
    huge = store_item(
        session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2)
    )
    store(session, "Packaging recycling targets for aluminium cans", JOINED + timedelta(days=2))
    # A 1 MB title, as stored before titles were capped: Ann's digest is far over the limit.
    session.execute(sa.update(Item).where(Item.id == huge).values(title="Duties " * 150_000))
    session.commit()

    report = run(session, outbox, app_settings, NEXT_MONDAY)
    again = run(session, outbox, app_settings, NEXT_MONDAY + timedelta(hours=1))

    assert (report.sent, report.failed) == (1, 1)
    assert sent_to(outbox) == ["cat@foundry.example"]
    ann = find_member(session, "ann@alfed.example")
    assert ann is not None
    [row] = session.exec(select(Delivery).where(Delivery.member_id == ann.id)).all()
    assert row.status == "failed"
    assert "could not be built" in (row.error or "") and "bytes" in (row.error or "")
    assert (again.sent, again.failed, again.deferred) == (0, 0, 0)  # not tried, nor failing, again


def test_a_template_error_fails_the_rows_of_that_content_only(
    session: Session,
    outbox: OutboxTransport,
    app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member(session, "ann@alfed.example", ["tariffs"])
    member(session, "cat@foundry.example", ["recycling"])
    store(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=2))
    store(session, "Packaging recycling targets for aluminium cans", JOINED + timedelta(days=2))
    import alerter.digests.runs

    real = alerter.digests.runs.digest_mailing

    def broken_for_tariffs(digest: Any, **kwargs: Any) -> Any:
        if any(section.topic_id == "tariffs" for section in digest.sections):
            raise jinja2.UndefinedError("'entry' is undefined")
        return real(digest, **kwargs)

    monkeypatch.setattr(alerter.digests.runs, "digest_mailing", broken_for_tariffs)

    report = run(session, outbox, app_settings, NEXT_MONDAY)

    assert (report.sent, report.failed) == (1, 1)
    assert sent_to(outbox) == ["cat@foundry.example"]
    failed = session.exec(select(Delivery).where(Delivery.status == "failed")).one()
    assert "UndefinedError" in (failed.error or "")


class BusyAfterSending(OutboxTransport):
    """Writes the email, then another connection takes SQLite's write lock (a web request
    writing, say) and keeps it until the sender's first sleep."""

    def __init__(self, folder: Path, engine: sa.Engine) -> None:
        super().__init__(folder, "alerts@alerter.example")
        self.holder = Session(engine)

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        super().send(mailing, batch)
        self.holder.add(Source(name="busy", kind="feed", url="https://busy.example", publisher="x"))
        self.holder.flush()  # written, not committed: the write lock is the holder's

    def free(self, seconds: float) -> None:
        self.holder.rollback()


def test_an_email_sent_while_the_database_is_busy_is_marked_sent_once_it_frees(
    database_url: str,
    engine: sa.Engine,
    app_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    monkeypatch.setattr(alerter.db, "SQLITE_BUSY_TIMEOUT_SECONDS", 0.05)
    monkeypatch.setattr(alerter.db, "WRITE_LOCK_PATIENCE_SECONDS", 0.2)
    impatient = create_db_engine(database_url)  # gives up on the lock within 0.2 s
    transport = BusyAfterSending(tmp_path / "outbox", impatient)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        transport.free(seconds)

    with Session(impatient, expire_on_commit=False) as session:
        member(session, "ann@alfed.example", ["tariffs"])
        store(
            session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(days=1)
        )
        report = run(session, transport, app_settings, NEXT_MONDAY, sleep=sleep)
        # A sender starting after the lease has lapsed finds nothing to send again.
        again = run(session, transport, app_settings, NEXT_MONDAY + timedelta(hours=1))
        statuses = session.exec(select(Delivery.status)).all()
    transport.holder.close()
    impatient.dispose()

    assert report.sent == 1 and sleeps == [MARK_RETRY_SECONDS]
    assert statuses == ["sent"]
    assert again.sent == 0 and transport.requests == 1
