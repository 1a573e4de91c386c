"""The SendGrid Event Webhook: signed requests only, replays ignored, and bounces, drops, spam
reports and unsubscribes suppress the member."""

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.delivery.mail_events import EventReport
from alerter.models import Delivery, MailEvent
from alerter.web import webhooks
from alerter.web.app import create_app
from subscriptions.members import add_member, find_member, subscriber
from subscriptions.models import ConsentEvent, Frequency, MemberStatus
from tests.support.live_server import serving

NOW = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(
    SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def signed(body: str, timestamp: str = "1773039600") -> dict[str, str]:
    """The headers SendGrid sends: an ECDSA signature over timestamp + body."""
    signature = SIGNING_KEY.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"secret_key": "s", "sendgrid_webhook_public_key": PUBLIC_KEY}
    )


@pytest.fixture
def client(app_settings: Settings, engine: sa.Engine) -> Iterator[TestClient]:
    # The signed timestamp of every request below is NOW.
    with TestClient(create_app(app_settings, engine, clock=lambda: NOW)) as test_client:
        yield test_client


@pytest.fixture
def ann_delivery(session: Session) -> int:
    """Ann, an active member, and the ledger row of a digest sent to her."""
    ann = add_member(
        session,
        "ann@alfed.example",
        name="Ann",
        organisation="",
        topics=["tariffs"],
        frequency=Frequency.WEEKLY,
        consent_confirmed=True,
        added_by="test",
        now=NOW,
    )
    assert ann.id is not None
    delivery = Delivery(
        member_id=ann.id,
        kind="digest-weekly",
        period="2026-W11",
        status="sent",
        window_start=NOW,
        window_end=NOW,
        planned_at=NOW,
    )
    session.add(delivery)
    session.commit()
    assert delivery.id is not None
    return delivery.id


def event(kind: str, event_id: str, **fields: object) -> dict[str, object]:
    return {"sg_event_id": event_id, "event": kind, "timestamp": 1773039600, **fields}


def ann_status(session: Session) -> str:
    session.expire_all()
    ann = find_member(session, "ann@alfed.example")
    assert ann is not None
    return ann.status


def post(client: TestClient, events: list[dict[str, object]]) -> dict[str, object]:
    body = json.dumps(events)
    response = client.post("/webhooks/sendgrid", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


@pytest.mark.parametrize(
    "kind", ["bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"]
)
def test_events_that_mean_stop_suppress_the_member_of_the_delivery(
    kind: str, client: TestClient, session: Session, ann_delivery: int
) -> None:
    answer = post(
        client, [event(kind, "ev-1", email="ann@alfed.example", delivery_id=str(ann_delivery))]
    )

    assert answer == {"received": 1, "replayed": 0, "suppressed": 1}
    assert ann_status(session) == MemberStatus.SUPPRESSED
    logged = session.exec(select(ConsentEvent).where(ConsentEvent.action == "suppress")).one()
    assert f"SendGrid {kind}" in logged.method
    assert subscriber(session, logged.member_id) is None  # the sending side sees nobody


def test_an_event_without_our_delivery_id_finds_the_member_by_address(
    client: TestClient, session: Session, ann_delivery: int
) -> None:
    post(client, [event("spamreport", "ev-2", email="Ann@ALFED.example")])

    assert ann_status(session) == MemberStatus.SUPPRESSED


def test_delivered_opens_and_temporary_blocks_change_nothing(
    client: TestClient, session: Session, ann_delivery: int
) -> None:
    answer = post(
        client,
        [
            event("delivered", "ev-3", email="ann@alfed.example"),
            event("open", "ev-4", email="ann@alfed.example"),
            event("bounce", "ev-5", email="ann@alfed.example", type="blocked"),
        ],
    )

    assert answer == {"received": 3, "replayed": 0, "suppressed": 0}
    assert ann_status(session) == MemberStatus.ACTIVE


def test_a_replayed_event_is_recognised_and_does_nothing_twice(
    client: TestClient, session: Session, ann_delivery: int
) -> None:
    bounce = event("bounce", "ev-6", email="ann@alfed.example", reason="550 no such user")
    post(client, [bounce])

    again = post(client, [bounce])

    assert again == {"received": 1, "replayed": 1, "suppressed": 0}
    assert len(session.exec(select(MailEvent)).all()) == 1
    suppressions = session.exec(select(ConsentEvent).where(ConsentEvent.action == "suppress"))
    assert len(suppressions.all()) == 1


def test_a_request_with_a_wrong_signature_is_refused_and_changes_nothing(
    client: TestClient, session: Session, ann_delivery: int
) -> None:
    body = json.dumps([event("spamreport", "ev-7", email="ann@alfed.example")])
    headers = signed(body)
    tampered = body.replace("ev-7", "ev-8")

    response = client.post("/webhooks/sendgrid", content=tampered, headers=headers)
    unsigned = client.post("/webhooks/sendgrid", content=body)

    assert (response.status_code, unsigned.status_code) == (403, 403)
    assert ann_status(session) == MemberStatus.ACTIVE
    assert session.exec(select(MailEvent)).all() == []


def test_a_signed_body_that_is_not_a_list_of_events_is_a_bad_request(
    client: TestClient, ann_delivery: int
) -> None:
    body = json.dumps({"event": "bounce"})

    response = client.post("/webhooks/sendgrid", content=body, headers=signed(body))

    assert response.status_code == 400


def test_without_a_verification_key_every_request_is_refused(
    settings: Settings, engine: sa.Engine, ann_delivery: int
) -> None:
    body = json.dumps([event("bounce", "ev-9", email="ann@alfed.example")])
    with TestClient(create_app(settings.model_copy(update={"secret_key": "s"}), engine)) as app:
        response = app.post("/webhooks/sendgrid", content=body, headers=signed(body))

    assert response.status_code == 503


@pytest.mark.parametrize("off_by", [timedelta(minutes=-11), timedelta(minutes=11)])
def test_a_signed_request_stamped_over_ten_minutes_away_is_refused_as_a_replay(
    off_by: timedelta, app_settings: Settings, engine: sa.Engine, ann_delivery: int
) -> None:
    body = json.dumps([event("spamreport", "ev-10", email="ann@alfed.example")])
    with TestClient(create_app(app_settings, engine, clock=lambda: NOW + off_by)) as app:
        response = app.post("/webhooks/sendgrid", content=body, headers=signed(body))

    assert response.status_code == 403
    assert "more than 10 minutes" in response.json()["error"]
    with Session(engine) as session:
        assert ann_status(session) == MemberStatus.ACTIVE


def test_a_request_stamped_within_ten_minutes_is_accepted(
    app_settings: Settings, engine: sa.Engine, ann_delivery: int
) -> None:
    body = json.dumps([event("spamreport", "ev-11", email="ann@alfed.example")])
    clock = lambda: NOW + timedelta(minutes=9)  # noqa: E731
    with TestClient(create_app(app_settings, engine, clock=clock)) as app:
        response = app.post("/webhooks/sendgrid", content=body, headers=signed(body))

    assert response.status_code == 200


def test_health_answers_while_a_large_batch_of_events_is_recorded(
    app_settings: Settings, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording, release = threading.Event(), threading.Event()
    record = webhooks.record_events

    def held_record(*args: Any, **kwargs: Any) -> EventReport:
        recording.set()
        release.wait(timeout=60)  # held until /healthz has been asked
        return record(*args, **kwargs)

    monkeypatch.setattr(webhooks, "record_events", held_record)
    body = json.dumps([event("delivered", f"ev-{n}", email=f"m{n}@x.example") for n in range(5000)])
    answers: list[httpx.Response] = []

    def make_app(base_url: str) -> FastAPI:
        return create_app(app_settings, engine, clock=lambda: NOW)

    with serving(make_app) as base_url:
        post = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{base_url}/webhooks/sendgrid", content=body, headers=signed(body), timeout=120
                )
            )
        )
        post.start()
        try:
            assert recording.wait(timeout=60), "the events were never recorded"
            health = httpx.get(f"{base_url}/healthz", timeout=20)
        finally:
            release.set()
            post.join(timeout=120)

    assert health.status_code == 200
    assert [answer.status_code for answer in answers] == [200]
