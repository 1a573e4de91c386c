"""Staff accounts through the app: roles, invites, disabling, and the audit log."""

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
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, sign_in

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings, engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
    app_settings = settings.model_copy(
        update={
            "outbox_dir": tmp_path / "outbox",
            "secret_key": "test secret",
            "base_url": "http://testserver",
        }
    )
    with TestClient(create_app(app_settings, engine, clock=lambda: NOW)) as test_client:
        yield test_client


def audit_actions(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(action, who, target type) of each audit event, oldest first."""
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(sa.asc(AuditEvent.id))).all()
        return [(e.action, e.actor_email, e.target_type) for e in events]


def test_sign_ins_and_failed_sign_ins_are_in_the_audit_log(
    client: TestClient, engine: sa.Engine
) -> None:
    sign_in(client, password="not the password")
    sign_in(client)

    assert audit_actions(engine) == [
        ("staff.sign_in_failed", "", "staff_user"),
        ("staff.sign_in", STAFF_EMAIL, "staff_user"),
    ]
