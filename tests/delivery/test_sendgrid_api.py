"""The SendGrid transport against a fake on 127.0.0.1 (on the test's clock): SendGrid's answers
as the transport reads them (only those SendGrid documents are definite), and the rules of its
batches and cancellations that the fake keeps."""

import socket
from datetime import timedelta

import pytest

from alerter.config import Settings
from alerter.delivery import (
    InDoubt,
    Mailing,
    Personalization,
    Rejected,
    Throttled,
    TooManyCancelled,
    Unavailable,
    transport_for,
)
from alerter.delivery.sendgrid_api import SendGridTransport, request_body
from tests.support.fake_sendgrid import FakeSendGrid, Scripted, gateway_timeout
from tests.support.newsroom import Clock


def one_mailing(to: str = "ann@alfed.example") -> Mailing:
    return Mailing("Subject", "text", "<p>html</p>", "digest-weekly", (Personalization(to, {}),))


@pytest.fixture
def transport(sg_settings: Settings) -> SendGridTransport:
    transport = transport_for(sg_settings)
    assert isinstance(transport, SendGridTransport)
    return transport


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Scripted(429, ("too many requests",), {"Retry-After": "1"}), Throttled),
        (Scripted(500, ("internal server error",)), Unavailable),
        (Scripted(400, ("invalid request",)), Rejected),
        (Scripted(413, ("content too large",)), Rejected),
        (Scripted(503, ("service unavailable",)), InDoubt),  # not among Mail Send's answers
        (Scripted(500, page="<html>Internal Server Error</html>"), InDoubt),  # not SendGrid's
        (Scripted(502, page="<html>Bad Gateway</html>"), InDoubt),
        (gateway_timeout(accept_anyway=False), InDoubt),
        (Scripted(0, hang_up=True), InDoubt),
    ],
    ids=lambda value: str(getattr(value, "status", getattr(value, "__name__", value))),
)
def test_only_answers_sendgrid_documents_are_definite_the_rest_are_in_doubt(
    transport: SendGridTransport,
    sendgrid: FakeSendGrid,
    clock: Clock,
    answer: Scripted,
    error: type[Exception],
) -> None:
    sendgrid.script.append(answer)

    with pytest.raises(error):
        transport.send(one_mailing(), transport.open_batch(clock.now))


def test_sendgrid_out_of_reach_is_unavailable_not_in_doubt(sg_settings: Settings) -> None:
    closed = transport_for(sg_settings.model_copy(update={"sendgrid_base_url": closed_port()}))

    with pytest.raises(Unavailable, match="could not be reached"):
        closed.send(one_mailing())


def closed_port() -> str:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_an_eleventh_cancelled_batch_is_refused_until_one_is_released_after_its_send_time(
    transport: SendGridTransport, sendgrid: FakeSendGrid, clock: Clock
) -> None:
    batches = [transport.open_batch(clock.now) for _ in range(11)]
    for n, batch in enumerate(batches):
        transport.send(one_mailing(f"m{n}@works.example"), batch)
    for batch in batches[:10]:
        transport.cancel_batch(batch.id)

    with pytest.raises(TooManyCancelled, match="more than 10 different batches"):
        transport.cancel_batch(batches[10].id)

    clock.now = batches[0].send_at + timedelta(seconds=1)  # the first ten's emails discarded
    transport.release_batch(batches[0].id)
    assert sendgrid.cancelled() == 9
    assert sorted(sendgrid.received()) == ["m10@works.example"]  # no cancelled one came back


def test_a_cancellation_deleted_before_the_send_time_lets_the_emails_go_after_all(
    transport: SendGridTransport, sendgrid: FakeSendGrid, clock: Clock
) -> None:
    batch = transport.open_batch(clock.now)
    transport.send(one_mailing(), batch)
    transport.cancel_batch(batch.id)
    assert sendgrid.received() == {}

    transport.release_batch(batch.id)

    assert sendgrid.received() == {"ann@alfed.example": 1}


def test_a_batch_cannot_be_cancelled_within_ten_minutes_of_its_send_time(
    transport: SendGridTransport, sendgrid: FakeSendGrid, clock: Clock
) -> None:
    batch = transport.open_batch(clock.now)
    transport.send(one_mailing(), batch)
    clock.now = batch.cancel_by + timedelta(seconds=1)

    with pytest.raises(Rejected, match="within 10 minutes"):
        transport.cancel_batch(batch.id)
    assert sendgrid.received() == {"ann@alfed.example": 1}


def test_a_cancel_asked_again_after_its_answer_was_lost_is_confirmed_not_refused(
    transport: SendGridTransport, sendgrid: FakeSendGrid, clock: Clock
) -> None:
    batch = transport.open_batch(clock.now)
    transport.send(one_mailing(), batch)
    transport.cancel_batch(batch.id)

    transport.cancel_batch(batch.id)  # SendGrid refuses a second cancel; it is already done

    assert sendgrid.cancelled() == 1 and sendgrid.received() == {}


def test_sendgrid_refuses_a_batch_id_without_a_send_time(
    transport: SendGridTransport, clock: Clock
) -> None:
    batch = transport.open_batch(clock.now)
    body = request_body(one_mailing(), transport.sender, batch)
    del body["send_at"]

    with pytest.raises(Rejected, match="send_at"):
        transport._call(transport.client.client.mail.send.post, body)
