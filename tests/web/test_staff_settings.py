"""The console's Settings page: the association's name and look, on its pages at once."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.models import AuditEvent
from alerter.web.app import create_app
from subscriptions.staff import create_staff
from tests.support.newsroom import Clock
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

NOW = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
FORM = {
    "name": "Cast Metals Federation",
    "logo_url": "",
    "colour": "#1d4f91",
    "sender_name": "CMF policy alerts",
    "sender_address": "news@cmf.example",
    "reply_to": "",
    "postal_address": "National Metalforming Centre, West Bromwich B70 6PY",
    "contact": "0121 496 0000",
}


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


def save(client: TestClient, **changes: str) -> object:
    form = client.get("/staff/settings")
    return client.post("/staff/settings", data={"csrf_token": csrf(form.text), **FORM, **changes})


def test_saved_settings_show_at_once_on_member_pages(client: TestClient) -> None:
    saved = save(client)

    assert "Saved." in saved.text  # type: ignore[attr-defined]
    signup = client.get("/signup").text
    assert "Cast Metals Federation</title>" in signup
    assert "background: #1d4f91" in signup
    assert ">alerter<" not in signup


def test_every_error_is_listed_at_the_top_and_linked_to_its_field(client: TestClient) -> None:
    page = save(client, colour="#ffdd00", sender_address="news", postal_address="")

    assert page.status_code == 422  # type: ignore[attr-defined]
    html = page.text  # type: ignore[attr-defined]
    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    assert '<a href="#colour"' in summary
    assert '<a href="#sender_address"' in summary
    assert '<a href="#postal_address"' in summary
    assert 'id="colour" name="colour" value="#ffdd00" aria-invalid="true"' in html
    assert "Cast Metals Federation" not in client.get("/signup").text


def test_a_change_is_recorded_in_the_audit_log_with_before_and_after(
    client: TestClient, session: Session
) -> None:
    save(client)

    event = session.exec(select(AuditEvent).where(AuditEvent.action == "settings.update")).one()
    assert event.before["name"] == "Policy alerts"
    assert event.after["name"] == "Cast Metals Federation"
