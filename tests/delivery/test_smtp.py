"""Digests through SMTP (an aiosmtpd server on 127.0.0.1): one message per member with both
parts and the unsubscribe headers, a refused recipient failed alone, an unreachable server
leaving everything for the next run."""

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.delivery import transport_for
from alerter.digests.runs import period_of, plan_digests
from alerter.dispatch import dispatch_planned
from alerter.ledger.sender import SendReport
from alerter.models import Delivery
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.members import find_member
from subscriptions.models import Frequency
from tests.support.fake_smtp import Mailbox
from tests.support.fake_web import free_port
from tests.support.newsroom import Clock, add_subscriber, store_item
from tests.support.raw_mail import raw_headers, unfolded

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
JOINED = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
NEXT_MONDAY = JOINED + timedelta(days=7)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def smtp_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": "s",
            "mail_backend": "smtp",
            "smtp_url": f"smtp://127.0.0.1:{port}",
            "mail_from": "CMF alerts <alerts@cmf.example>",
        }
    )


@pytest.fixture
def two_members(session: Session) -> None:
    store_item(session, "New anti-dumping duties on aluminium extrusions", JOINED + timedelta(1))
    add_subscriber(session, "ann@alfed.example", ["tariffs"], joined=JOINED, name="Ann Jones")
    add_subscriber(session, "bob@castings.example", ["tariffs"], joined=JOINED)


def run(session: Session, settings: Settings, sleeps: list[float]) -> SendReport:
    plan_digests(session, Frequency.WEEKLY, NEXT_MONDAY)
    return dispatch_planned(
        session,
        transport_for(settings),
        settings,
        TAXONOMY,
        kind="digest-weekly",
        period=period_of(Frequency.WEEKLY, NEXT_MONDAY),
        clock=Clock(NEXT_MONDAY),
        sleep=sleeps.append,
    )


def statuses(session: Session) -> set[tuple[str, str | None]]:
    session.expire_all()
    return {(d.status, d.error) for d in session.exec(select(Delivery))}


def test_each_member_gets_one_message_with_both_parts_and_their_own_links(
    session: Session, settings: Settings, mailbox: tuple[Mailbox, int], two_members: None
) -> None:
    server, port = mailbox

    report = run(session, smtp_settings(settings, port), [])

    assert report.sent == 2
    by_address = {m["To"]: m for m in server.messages}
    assert sorted(by_address) == ["ann@alfed.example", "bob@castings.example"]
    ann = by_address["ann@alfed.example"]
    assert ann["From"] == "CMF alerts <alerts@cmf.example>"
    assert [part.get_content_type() for part in ann.walk()][1:] == ["text/plain", "text/html"]
    text = ann.get_payload()[0].get_payload(decode=True).decode()
    assert "Hello Ann," in text and "anti-dumping duties" in text
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ann["List-Unsubscribe"] != by_address["bob@castings.example"]["List-Unsubscribe"]
    # The Message-ID is the ledger row's token: a copy sent again after a crash is the same one.
    tokens = {d.message_token for d in session.exec(select(Delivery))}
    assert {m["Message-ID"] for m in server.messages} == {f"<{t}@cmf.example>" for t in tokens}


def test_the_headers_go_over_the_wire_raw_with_the_unsubscribe_address(
    session: Session, settings: Settings, mailbox: tuple[Mailbox, int], two_members: None
) -> None:
    server, port = mailbox
    mailto = smtp_settings(settings, port).model_copy(
        update={"unsubscribe_mailto": "leave@cmf.example"}
    )

    run(session, mailto, [])

    assert len(server.raw) == 2
    for message in server.raw:
        headers = raw_headers(message)  # CRLF, line lengths, ASCII and encoded words checked
        link, address = unfolded(headers[b"List-Unsubscribe"]).split(b", ")
        assert link.startswith(b"<http://127.0.0.1:8000/unsubscribe/") and link.endswith(b">")
        assert address == b"<mailto:leave@cmf.example?subject=unsubscribe>"
        assert headers[b"List-Unsubscribe-Post"] == b"List-Unsubscribe=One-Click"
        assert headers[b"From"] == b"CMF alerts <alerts@cmf.example>"
        assert re.fullmatch(rb"<[0-9a-f]{32}@cmf\.example>", headers[b"Message-ID"])


def test_a_refused_recipient_fails_with_the_servers_answer_and_the_other_is_sent(
    session: Session,
    settings: Settings,
    mailbox: tuple[Mailbox, int],
    two_members: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, port = mailbox
    server.refuse.add("bob@castings.example")

    with caplog.at_level(logging.INFO, logger="alerter.ledger.sender"):
        report = run(session, smtp_settings(settings, port), [])

    assert (report.sent, report.failed) == (1, 1)
    [refused] = [r for r in caplog.records if r.levelno == logging.WARNING]
    bob = find_member(session, "bob@castings.example")
    assert refused.member_id == bob.id  # type: ignore[union-attr]
    assert refused.delivery_id and "@" not in refused.getMessage()
    assert [m["To"] for m in server.messages] == ["ann@alfed.example"]
    failed = [error for status, error in statuses(session) if status == "failed"]
    assert len(failed) == 1 and "550" in (failed[0] or "")


def test_an_unreachable_server_leaves_every_digest_for_the_next_run(
    session: Session, settings: Settings, mailbox: tuple[Mailbox, int], two_members: None
) -> None:
    server, port = mailbox
    sleeps: list[float] = []

    stopped = run(session, smtp_settings(settings, free_port()), sleeps)

    assert stopped.sent == 0 and stopped.deferred == 2
    assert "mail service failing" in stopped.errors[-1]
    assert sleeps == [2.0, 4.0, 8.0, 16.0]  # backed off before giving up for this run
    assert {status for status, _ in statuses(session)} == {"planned"}

    later = run(session, smtp_settings(settings, port), [])

    assert later.sent == 2
    assert sorted(m["To"] for m in server.messages) == [
        "ann@alfed.example",
        "bob@castings.example",
    ]
