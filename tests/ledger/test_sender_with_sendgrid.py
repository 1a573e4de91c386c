"""Digests through SendGrid (a fake on 127.0.0.1, on the test's clock): shared requests with
per-member values; SendGrid's documented answers (429, its own 500, 4xx) retried or failed for
that request alone; requests whose outcome is unknown withdrawn by cancelling their own batch,
within SendGrid's ten cancelled batches, or held in doubt with the reason."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.delivery import (
    transport_for,
)
from alerter.delivery.mail_events import record_events
from alerter.delivery.sendgrid_api import SendGridTransport
from alerter.digests.runs import period_of, plan_digests
from alerter.dispatch import dispatch_planned
from alerter.ledger.sender import SendReport
from alerter.models import Delivery, MailBatch
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.models import Frequency
from tests.support.fake_sendgrid import FakeSendGrid, Scripted, gateway_timeout
from tests.support.newsroom import Clock, add_subscriber, store_item
from tests.support.sendgrid_fixtures import NOW

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
JOINED = NOW - timedelta(days=7)
EVERYONE = ["ann@alfed.example", "bob@castings.example", "cat@foundry.example"]


class Sleeps(list[float]):
    """The run's sleep: recorded, and the test's clock moved on instead of waiting."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.clock.now += timedelta(seconds=seconds)


def store(session: Session, title: str) -> None:
    store_item(session, title, JOINED + timedelta(days=2))


def member(session: Session, address: str, topics: list[str], name: str = "") -> None:
    add_subscriber(session, address, topics, joined=JOINED, name=name)


def run(
    session: Session, settings: Settings, clock: Clock, sleeps: Sleeps | None = None
) -> SendReport:
    transport = transport_for(settings)
    assert isinstance(transport, SendGridTransport)
    plan_digests(session, Frequency.WEEKLY, NOW)
    return dispatch_planned(
        session,
        transport,
        settings,
        TAXONOMY,
        kind="digest-weekly",
        period=period_of(Frequency.WEEKLY, NOW),
        clock=clock,
        sleep=sleeps if sleeps is not None else Sleeps(clock),
    )


@pytest.fixture
def three_members(session: Session) -> None:
    """Two contents: Ann and Bob share one request (tariffs), Cat has her own (recycling)."""
    store(session, "New anti-dumping duties on aluminium extrusions")
    store(session, "Consultation on packaging recycling targets for aluminium cans")
    member(session, "ann@alfed.example", ["tariffs"], name="Ann Jones")
    member(session, "bob@castings.example", ["tariffs"], name="Bob O'Neill & Sons")
    member(session, "cat@foundry.example", ["recycling"])


def rows(session: Session) -> list[Delivery]:
    session.expire_all()
    return list(session.exec(select(Delivery).order_by(Delivery.id)))  # type: ignore[arg-type]


def statuses(session: Session) -> set[str]:
    return {row.status for row in rows(session)}


def event(kind: str, event_id: str, **fields: object) -> dict[str, object]:
    return {"sg_event_id": event_id, "event": kind, "email": "ann@alfed.example", **fields}


def die_after_sendgrid_took_a_request(
    session: Session, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A digest run whose sender dies after SendGrid took its first request, before the
    ledger knows."""
    import alerter.ledger.sender

    finish = alerter.ledger.sender._SendRun._finish

    def finish_or_die(self: object, ids: list[int], status: str, error: str | None = None) -> None:
        if status == "sent":
            raise SystemExit("killed")
        finish(self, ids, status, error)  # type: ignore[arg-type]

    monkeypatch.setattr(alerter.ledger.sender._SendRun, "_finish", finish_or_die)
    with pytest.raises(SystemExit):
        run(session, settings, clock)
    monkeypatch.undo()
    session.rollback()


@pytest.fixture
def ann(session: Session) -> None:
    """One member, Ann, with one item on her topic."""
    store(session, "New anti-dumping duties on aluminium extrusions")
    member(session, "ann@alfed.example", ["tariffs"])


def test_members_with_the_same_content_share_one_request_with_their_own_values(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    report = run(session, sg_settings, clock)

    assert report.sent == 3
    # Two contents (tariffs; recycling): two Mail Send requests, Ann and Bob in one of them,
    # each request in a batch of its own.
    assert sendgrid.mail_requests() == 2
    assert sendgrid.stats()["batch_requests"] == 2
    assert sorted(len(b["personalizations"]) for b in sendgrid.accepted) == [1, 2]
    assert len({b["batch_id"] for b in sendgrid.accepted}) == 2
    body = next(b for b in sendgrid.accepted if len(b["personalizations"]) == 2)
    assert body["categories"] == ["digest-weekly"]
    assert body["from"] == {"email": "alerts@alfed.example", "name": "ALFED alerts"}
    assert body["send_at"] > NOW.timestamp() + 600  # scheduled: still cancellable for a while

    mail = {d.to: d for d in sendgrid.delivered()}
    assert sorted(mail) == EVERYONE
    ann, bob = mail["ann@alfed.example"], mail["bob@castings.example"]
    assert "Hello Ann," in ann.text and "Hello Ann," in ann.html
    assert "Hello Bob," in bob.text
    assert "anti-dumping" in ann.text and "recycling" not in ann.text.lower().split("---")[0]
    # Each member's own links, in the body and in the one-click header.
    ann_unsubscribe = ann.headers["List-Unsubscribe"].strip("<>")
    assert ann_unsubscribe in ann.text and ann_unsubscribe in ann.html
    assert ann_unsubscribe not in bob.text
    assert ann.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {d.delivery_id for d in mail.values()} == {str(row.id) for row in rows(session)}


def test_each_personalization_carries_list_unsubscribe_with_the_address_and_one_click(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    settings = sg_settings.model_copy(update={"unsubscribe_mailto": "leave@alfed.example"})

    run(session, settings, clock)

    personalizations = [p for body in sendgrid.accepted for p in body["personalizations"]]
    assert len(personalizations) == 3
    for personalization in personalizations:
        # The values SendGrid writes into the headers, exactly as a mail client must read them.
        headers = personalization["headers"]
        link, mailto = headers["List-Unsubscribe"].split(", ")
        assert link.startswith("<http://127.0.0.1:8000/unsubscribe/") and link.endswith(">")
        assert mailto == "<mailto:leave@alfed.example?subject=unsubscribe>"
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert sorted(headers) == ["List-Unsubscribe", "List-Unsubscribe-Post"]


def test_a_name_is_escaped_in_the_html_part(
    session: Session, sg_settings: Settings, sendgrid: FakeSendGrid, clock: Clock
) -> None:
    store(session, "New anti-dumping duties on aluminium extrusions")
    member(session, "eve@castings.example", ["tariffs"], name="<b>Eve</b>")

    run(session, sg_settings, clock)

    [mail] = sendgrid.delivered()
    assert "Hello <b>Eve</b>," in mail.text
    assert "Hello &lt;b&gt;Eve&lt;/b&gt;," in mail.html


def test_too_many_requests_waits_as_long_as_retry_after_says_then_sends_once(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    sendgrid.script.append(Scripted(429, ("too many requests",), {"Retry-After": "7"}))
    sleeps = Sleeps(clock)

    report = run(session, sg_settings, clock, sleeps)

    assert sleeps == [7.0]
    assert report.sent == 3
    assert sorted(sendgrid.received()) == EVERYONE
    assert sendgrid.stats()["cancel_requests"] == 0


def test_sendgrids_own_server_error_is_an_answer_retried_with_backoff_withdrawing_nothing(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    # SendGrid's documented 500, with its error body, twice: the request was not taken.
    sendgrid.script.extend([Scripted(500, ("internal server error",))] * 2)
    sleeps = Sleeps(clock)

    report = run(session, sg_settings, clock, sleeps)

    assert sleeps == [2.0, 4.0]  # backing off
    assert report.sent == 3 and report.in_doubt == 0
    assert sendgrid.received() == dict.fromkeys(EVERYONE, 1)
    assert sendgrid.stats()["cancel_requests"] == 0
    assert statuses(session) == {"sent"}


@pytest.mark.parametrize(
    "answer",
    [gateway_timeout(accept_anyway=True), Scripted(0, accept_anyway=True, hang_up=True)],
    ids=["gateway-504-after-taking-it", "connection-dropped-after-taking-it"],
)
def test_a_request_whose_answer_is_unknown_is_withdrawn_alone_and_sent_again(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
    answer: Scripted,
) -> None:
    sendgrid.script.append(answer)  # the first request (Ann and Bob's) is taken, answer lost

    report = run(session, sg_settings, clock)

    assert report.sent == 3 and report.in_doubt == 0
    assert sendgrid.received() == dict.fromkeys(EVERYONE, 1)
    # Only the request in doubt was withdrawn: one cancellation, of its own batch.
    assert sendgrid.stats()["cancel_requests"] == 1
    cancelled = session.exec(select(MailBatch).where(MailBatch.status == "cancelled")).all()
    assert [b.id for b in cancelled] == [sendgrid.accepted[0]["batch_id"]]
    assert statuses(session) == {"sent"}


def test_a_gateway_error_before_sendgrid_took_it_is_withdrawn_too_and_sent_once(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    sendgrid.script.append(gateway_timeout(accept_anyway=False))

    report = run(session, sg_settings, clock)

    assert report.sent == 3
    assert sendgrid.received() == dict.fromkeys(EVERYONE, 1)
    assert sendgrid.stats()["cancel_requests"] == 1


def test_a_bad_request_fails_those_deliveries_with_sendgrids_reason_and_not_the_others(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    sendgrid.script.append(Scripted(400, ("The to email does not contain a valid address.",)))

    report = run(session, sg_settings, clock)

    assert (report.failed, report.sent) in [(1, 2), (2, 1)]
    failed = [row for row in rows(session) if row.status == "failed"]
    assert failed and all("does not contain a valid address" in (r.error or "") for r in failed)
    assert all("400" in (r.error or "") for r in failed)
    assert len(sendgrid.delivered()) == report.sent


def test_an_outage_stops_the_run_and_a_later_run_sends_everything(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    sendgrid.script.extend(Scripted(500, ("internal server error",)) for _ in range(5))

    report = run(session, sg_settings, clock)

    assert report.sent == 0 and report.errors and report.deferred == 3
    assert sendgrid.delivered() == []
    assert statuses(session) == {"planned"}
    assert all("5 failures in a row" in (row.error or "") for row in rows(session))

    clock.now += timedelta(minutes=3)
    later = run(session, sg_settings, clock)

    assert later.sent == 3
    assert sendgrid.received() == dict.fromkeys(EVERYONE, 1)


def test_a_sender_that_died_after_sendgrid_took_a_request_has_that_batch_alone_cancelled(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    die_after_sendgrid_took_a_request(session, sg_settings, clock, monkeypatch)
    assert len(sendgrid.accepted) == 1  # SendGrid took it; the ledger does not know

    too_soon = run(session, sg_settings, clock)  # the dead sender's lease still runs
    clock.now += timedelta(seconds=sg_settings.delivery_lease_seconds + 1)
    later = run(session, sg_settings, clock)

    assert too_soon.sent == 0 and too_soon.held == 3  # all three claimed by the dead sender
    assert later.sent == 3
    assert sendgrid.received() == dict.fromkeys(EVERYONE, 1)
    assert sendgrid.stats()["cancel_requests"] == 1
    assert statuses(session) == {"sent"}


def test_a_request_found_too_late_to_cancel_is_held_in_doubt_never_failed_nor_sent_twice(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    ann: None,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    die_after_sendgrid_took_a_request(session, sg_settings, clock, monkeypatch)

    clock.now += timedelta(hours=1)  # nobody looked until after the batch went
    later = run(session, sg_settings, clock)

    [row] = rows(session)
    assert row.status == "in_doubt" and later.in_doubt == 1 and later.sent == 0
    assert "could no longer be cancelled" in (row.error or "")
    assert "may have been delivered" in (row.error or "")
    assert sendgrid.received() == {"ann@alfed.example": 1}  # the one SendGrid had; no second


def test_sendgrids_event_for_a_delivery_in_doubt_for_good_marks_it_sent(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    ann: None,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    die_after_sendgrid_took_a_request(session, sg_settings, clock, monkeypatch)
    clock.now += timedelta(hours=1)
    run(session, sg_settings, clock)
    [row] = rows(session)
    custom_args = sendgrid.accepted[0]["personalizations"][0]["custom_args"]
    # SendGrid's events carry the personalization's custom args at their top level.
    other_batch = event("processed", "e1", delivery_id=str(row.id), batch="another-batch")
    processed = event("processed", "e2", **custom_args)

    stale = record_events(session, [other_batch], clock.now)
    assert stale.settled == [] and rows(session)[0].status == "in_doubt"
    report = record_events(session, [processed], clock.now)

    [row] = rows(session)
    assert report.settled == [row.id]
    assert row.status == "sent" and "SendGrid reported it processed" in (row.error or "")


def members_of_their_own_content(session: Session, numbers: range) -> None:
    """One member per content: each joined just before an item of their own."""
    for n in numbers:
        store_item(session, f"Steel safeguard quota {n} reopens", JOINED + timedelta(hours=n))
        add_subscriber(
            session,
            f"m{n}@works.example",
            ["tariffs"],
            joined=JOINED + timedelta(hours=n, minutes=-30),
        )


def run_to_the_end(session: Session, settings: Settings, clock: Clock) -> SendReport:
    """Runs until one is not stopped by failures in a row, as the worker's would."""
    for _ in range(10):
        report = run(session, settings, clock)
        if not report.deferred:
            return report
    raise AssertionError("the runs never finished")


def test_in_doubt_requests_beyond_sendgrids_ten_cancellations_are_held_never_refused(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    clock: Clock,
) -> None:
    members_of_their_own_content(session, range(12))
    # Twelve requests in a row taken by SendGrid, their answers lost.
    sendgrid.script.extend(gateway_timeout(accept_anyway=True) for _ in range(12))

    report = run_to_the_end(session, sg_settings, clock)

    # Ten batches cancelled and their members sent again; SendGrid refused no cancel.
    assert sendgrid.cancelled() == 10
    assert sendgrid.stats()["refused_cancels"] == 0
    assert report.in_doubt == 2
    assert [row.status for row in rows(session)].count("sent") == 10
    in_doubt = [row for row in rows(session) if row.status == "in_doubt"]
    assert all("cancellations SendGrid allows" in (row.error or "") for row in in_doubt)
    assert all("may have been delivered" in (row.error or "") for row in in_doubt)
    # Each member gets one email: ten sent again, two from the requests held in doubt.
    assert set(sendgrid.received().values()) == {1} and len(sendgrid.received()) == 12


def test_a_request_in_doubt_waits_for_a_cancellation_to_free_then_is_withdrawn(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    clock: Clock,
) -> None:
    # Ten requests in doubt, cancelled: every cancellation SendGrid allows is in use.
    members_of_their_own_content(session, range(10))
    sendgrid.script.extend(gateway_timeout(accept_anyway=True) for _ in range(10))
    run_to_the_end(session, sg_settings, clock)
    assert sendgrid.cancelled() == 10 and statuses(session) == {"sent"}

    # Thirteen minutes on, a late joiner's request is in doubt too: the first cancellations
    # can be released (their send time passed) before its batch's cut-off.
    clock.now += timedelta(minutes=13)
    members_of_their_own_content(session, range(10, 11))
    sendgrid.script.append(gateway_timeout(accept_anyway=True))
    held = run(session, sg_settings, clock)

    [row] = [row for row in rows(session) if row.status != "sent"]
    assert held.in_doubt == 1 and row.status == "in_doubt"
    assert "is cancelled when one frees" in (row.error or "")
    assert row.claimed_until is not None

    clock.now = row.claimed_until + timedelta(seconds=1)
    later = run(session, sg_settings, clock)

    assert later.sent == 1 and later.in_doubt == 0
    assert sendgrid.stats()["refused_cancels"] == 0
    assert sendgrid.cancelled() <= 10
    assert set(sendgrid.received().values()) == {1} and len(sendgrid.received()) == 11
    released = session.exec(select(MailBatch).where(MailBatch.status == "released")).all()
    assert released  # cancellations whose send time had passed were deleted at SendGrid


def test_a_run_that_waits_finishes_what_a_dead_sender_held(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    die_after_sendgrid_took_a_request(session, sg_settings, clock, monkeypatch)
    waited: list[int] = []

    transport = transport_for(sg_settings)
    report = dispatch_planned(
        session,
        transport,
        sg_settings,
        TAXONOMY,
        kind="digest-weekly",
        period=period_of(Frequency.WEEKLY, NOW),
        clock=clock,
        sleep=Sleeps(clock),
        wait=True,
        waiting=lambda pending: waited.append(pending.held),
    )

    assert waited == [3]  # the dead sender's claim, held until its lease lapsed
    assert report.sent == 3 and report.held == 0
    assert sendgrid.received() == dict.fromkeys(EVERYONE, 1)


def test_sendgrid_refuses_a_wrong_api_key_and_the_reason_is_kept(
    session: Session,
    sg_settings: Settings,
    sendgrid: FakeSendGrid,
    three_members: None,
    clock: Clock,
) -> None:
    report = run(session, sg_settings.model_copy(update={"sendgrid_api_key": "SG.wrong"}), clock)

    assert report.sent == 0
    assert statuses(session) == {"failed"}
    assert all("401" in (row.error or "") for row in rows(session))
