"""The console's Deadlines page: open consultations, and the association's responses to them."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.models import AssociationResponse
from alerter.web.app import create_app
from subscriptions.staff import create_staff
from tests.support.newsroom import Clock, store_consultation
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

NOW = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
STORED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLOSES = datetime(2027, 1, 15, 23, 59, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings, engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
    app_settings = settings.model_copy(
        update={"outbox_dir": tmp_path / "outbox", "secret_key": "test secret"}
    )
    with TestClient(create_app(app_settings, engine, clock=Clock(NOW))) as test_client:
        sign_in(test_client)
        yield test_client


@pytest.fixture
def item_id(session: Session) -> int:
    store_consultation(
        session, datetime(2027, 1, 2, 23, 59, tzinfo=UTC), stored=STORED, title="Closed"
    )
    return store_consultation(session, CLOSES, stored=STORED).id or 0


def respond(client: TestClient, item_id: int, respond_by: str) -> object:
    form = client.get("/staff/deadlines")
    return client.post(
        f"/staff/deadlines/{item_id}/responding",
        data={"csrf_token": csrf(form.text), "respond_by": respond_by},
    )


def test_the_page_lists_open_consultations_with_their_deadlines(
    client: TestClient, item_id: int
) -> None:
    page = client.get("/staff/deadlines")

    assert page.status_code == 200
    assert "Aluminium tariff review" in page.text
    assert "Closes Fri 15 Jan — 9 days left" in page.text
    assert ">Closed</a>" not in page.text  # closed on the 2nd: not listed


def test_staff_mark_the_association_as_responding_with_its_own_deadline(
    client: TestClient, item_id: int, session: Session
) -> None:
    answer = respond(client, item_id, "2027-01-08")

    assert "members' views by Fri 8 Jan" in answer.text  # type: ignore[attr-defined]
    response = session.exec(select(AssociationResponse)).one()
    assert (response.item_id, response.respond_by, response.marked_by) == (
        item_id,
        date(2027, 1, 8),
        STAFF_EMAIL,
    )


def test_a_deadline_after_the_closing_date_is_refused(
    client: TestClient, item_id: int, session: Session
) -> None:
    answer = respond(client, item_id, "2027-01-20")

    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert "between today and the closing date, Fri 15 Jan" in answer.text  # type: ignore[attr-defined]
    assert session.exec(select(AssociationResponse)).all() == []


def test_staff_can_stop_responding(client: TestClient, item_id: int, session: Session) -> None:
    respond(client, item_id, "2027-01-08")
    form = client.get("/staff/deadlines")

    client.post(f"/staff/deadlines/{item_id}/not-responding", data={"csrf_token": csrf(form.text)})

    assert session.exec(select(AssociationResponse)).all() == []
