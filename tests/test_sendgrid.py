"""Digests through SendGrid (a fake on 127.0.0.1): shared requests with per-member values,
retries on 429 and 5xx, failures on 400, and recovery of a request whose answer was lost."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.delivery import transport_for
from alerter.delivery.sendgrid_api import SendGridTransport
from alerter.models import Delivery, MailBatch
from alerter.sending import SendReport, period_of, plan_digests, send_planned
from alerter.topics import load_taxonomy
from subscriptions.models import Frequency
from tests.fake_sendgrid import API_KEY, FakeSendGrid, Scripted
from tests.newsroom import Clock, add_subscriber, store_item

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
# SendGrid's rules run on real time (send_at, the cancelling cut-off), so the test does too.
NOW = datetime.now(UTC).replace(microsecond=0)
JOINED = NOW - timedelta(days=7)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def sg_settings(settings: Settings, sendgrid: FakeSendGrid) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": "s",
            "mail_backend": "sendgrid",
            "sendgrid_api_key": API_KEY,
            "sendgrid_base_url": sendgrid.url,
            "mail_from": "ALFED alerts <alerts@alfed.example>",
        }
    )


def store(session: Session, title: str) -> None:
    store_item(session, title, JOINED + timedelta(days=2))


def member(session: Session, address: str, topics: list[str], name: str = "") -> None:
    add_subscriber(session, address, topics, joined=JOINED, name=name)


def run(
    session: Session, settings: Settings, sleeps: Sleeps | None = None, now: datetime = NOW
) -> tuple[SendReport, SendGridTransport]:
    transport = transport_for(settings)
    assert isinstance(transport, SendGridTransport)
    plan_digests(session, Frequency.WEEKLY, now)
    report = send_planned(
        session,
        transport,
        settings,
        TAXONOMY,
        kind="digest-weekly",
        period=period_of(Frequency.WEEKLY, now),
        clock=Clock(now),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )
    return report, transport


@pytest.fixture
def three_members(session: Session) -> None:
    store(session, "New anti-dumping duties on aluminium extrusions")
    store(session, "Consultation on packaging recycling targets for aluminium cans")
    member(session, "ann@alfed.example", ["tariffs"], name="Ann Jones")
    member(session, "bob@castings.example", ["tariffs"], name="Bob O'Neill & Sons")
    member(session, "cat@foundry.example", ["recycling"])


def statuses(session: Session) -> dict[str, str]:
    session.expire_all()
    rows = session.exec(select(Delivery)).all()
    return {str(row.member_id): row.status for row in rows}


def test_members_with_the_same_content_share_one_request_with_their_own_values(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid, three_members: None
) -> None:
    report, _ = run(session, sg_settings)

    assert report.sent == 3
    # Two contents (tariffs; recycling): two Mail Send requests, Ann and Bob in one of them.
    assert sendgrid.mail_requests() == 2
    assert sorted(len(b["personalizations"]) for b in sendgrid.accepted) == [1, 2]
    body = next(b for b in sendgrid.accepted if len(b["personalizations"]) == 2)
    assert body["categories"] == ["digest-weekly"]
    assert body["from"] == {"email": "alerts@alfed.example", "name": "ALFED alerts"}
    assert body["send_at"] > NOW.timestamp() + 600  # scheduled: still cancellable for a while

    mail = {d.to: d for d in sendgrid.delivered()}
    assert set(mail) == {"ann@alfed.example", "bob@castings.example", "cat@foundry.example"}
    ann, bob = mail["ann@alfed.example"], mail["bob@castings.example"]
    assert "Hello Ann," in ann.text and "Hello Ann," in ann.html
    assert "Hello Bob," in bob.text
    assert "anti-dumping" in ann.text and "recycling" not in ann.text.lower().split("---")[0]
    # Each member's own links, in the body and in the one-click header.
    ann_unsubscribe = ann.headers["List-Unsubscribe"].strip("<>")
    assert ann_unsubscribe in ann.text and ann_unsubscribe in ann.html
    assert ann_unsubscribe not in bob.text
    assert ann.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    rows = {row.id: row for row in session.exec(select(Delivery))}
    assert {d.delivery_id for d in mail.values()} == {str(i) for i in rows}


def test_a_name_is_escaped_in_the_html_part(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid
) -> None:
    store(session, "New anti-dumping duties on aluminium extrusions")
    member(session, "eve@castings.example", ["tariffs"], name="<b>Eve</b>")

    run(session, sg_settings)

    [mail] = sendgrid.delivered()
    assert "Hello <b>Eve</b>," in mail.text
    assert "Hello &lt;b&gt;Eve&lt;/b&gt;," in mail.html


def test_too_many_requests_waits_as_long_as_retry_after_says_then_sends_once(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid, three_members: None
) -> None:
    sendgrid.script.append(Scripted(429, ("too many requests",), {"Retry-After": "7"}))
    sleeps = Sleeps()

    report, _ = run(session, sg_settings, sleeps)

    assert sleeps == [7.0]
    assert report.sent == 3
    assert sorted(d.to for d in sendgrid.delivered()) == [
        "ann@alfed.example",
        "bob@castings.example",
        "cat@foundry.example",
    ]


def test_a_server_error_is_retried_with_backoff_and_nobody_gets_two(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid, three_members: None
) -> None:
    # The first answer is lost after SendGrid took the message; the second is refused outright.
    sendgrid.script.append(Scripted(500, ("internal error",), accept_anyway=True))
    sendgrid.script.append(Scripted(503, ("unavailable",)))
    sleeps = Sleeps()

    report, _ = run(session, sg_settings, sleeps)

    assert sleeps == [2.0, 4.0]  # backing off
    assert report.sent == 3
    assert sorted(d.to for d in sendgrid.delivered()) == [
        "ann@alfed.example",
        "bob@castings.example",
        "cat@foundry.example",
    ]
    assert set(statuses(session).values()) == {"sent"}


def test_a_bad_request_fails_those_deliveries_with_sendgrids_reason_and_not_the_others(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid, three_members: None
) -> None:
    sendgrid.script.append(Scripted(400, ("The to email does not contain a valid address.",)))

    report, _ = run(session, sg_settings)

    assert (report.failed, report.sent) == (1, 2) or (report.failed, report.sent) == (2, 1)
    session.expire_all()
    failed = session.exec(select(Delivery).where(Delivery.status == "failed")).all()
    assert failed and all("does not contain a valid address" in (r.error or "") for r in failed)
    assert all("400" in (r.error or "") for r in failed)
    assert len(sendgrid.delivered()) == report.sent


def test_an_outage_stops_the_run_and_a_later_run_sends_everything(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid, three_members: None
) -> None:
    sendgrid.script.extend(Scripted(503, ("unavailable",)) for _ in range(5))

    report, _ = run(session, sg_settings)

    assert report.sent == 0 and report.errors
    assert sendgrid.delivered() == []
    assert "sent" not in statuses(session).values()

    later, _ = run(session, sg_settings, now=NOW + timedelta(minutes=3))

    assert later.sent == 3
    assert sorted(d.to for d in sendgrid.delivered()) == [
        "ann@alfed.example",
        "bob@castings.example",
        "cat@foundry.example",
    ]


def test_a_sender_that_died_after_sendgrid_took_the_request_is_cancelled_then_resent(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import alerter.sending

    def die_before_marking(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(alerter.sending._SendRun, "_finish", die_before_marking)
    with pytest.raises(SystemExit):
        run(session, sg_settings)
    monkeypatch.undo()
    session.rollback()
    # The sender dies as it marks its claim: SendGrid took both contents' requests, the ledger
    # knows of neither.
    assert len(sendgrid.accepted) == 2

    later, _ = run(session, sg_settings, now=NOW + timedelta(minutes=2))

    assert later.sent == 3
    assert sorted(d.to for d in sendgrid.delivered()) == [
        "ann@alfed.example",
        "bob@castings.example",
        "cat@foundry.example",
    ]
    cancelled = session.exec(select(MailBatch).where(MailBatch.status == "cancelled")).all()
    assert len(cancelled) == 1


def test_a_batch_found_too_late_to_cancel_is_marked_in_doubt_not_sent_twice(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store(session, "New anti-dumping duties on aluminium extrusions")
    member(session, "ann@alfed.example", ["tariffs"])
    import alerter.sending

    def die_before_marking(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed")

    # The dead sender's batch went out long ago by the time anyone looks (real time is what
    # the fake's cut-off uses, so the batch is opened in the past).
    long_ago = NOW - timedelta(hours=1)
    monkeypatch.setattr(alerter.sending._SendRun, "_finish", die_before_marking)
    with pytest.raises(SystemExit):
        run(session, sg_settings, now=long_ago)
    monkeypatch.undo()
    session.rollback()

    later, _ = run(session, sg_settings, now=NOW)

    session.expire_all()
    [row] = session.exec(select(Delivery)).all()
    assert row.status == "failed"
    assert "may have been delivered" in (row.error or "")
    assert later.sent == 0
    assert len(sendgrid.delivered()) == 1  # the one SendGrid already had; no second copy


def test_sendgrid_refuses_a_wrong_api_key_and_the_reason_is_kept(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid, three_members: None
) -> None:
    report, _ = run(session, sg_settings.model_copy(update={"sendgrid_api_key": "SG.wrong"}))

    assert report.sent == 0
    session.expire_all()
    rows = session.exec(select(Delivery)).all()
    assert {row.status for row in rows} == {"failed"}
    assert all("401" in (row.error or "") for row in rows)
