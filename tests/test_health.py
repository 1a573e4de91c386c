"""/healthz, /readyz and /metrics, all read from the database."""

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.db import create_db_engine
from alerter.delivery import OutboxTransport
from alerter.digests.runs import run_digest
from alerter.health import STALE_AFTER, beat, stopped_by_failure
from alerter.models import Source
from alerter.topics.taxonomy import load_taxonomy
from alerter.web.app import create_app
from subscriptions.models import Frequency
from tests.support.newsroom import add_subscriber, news_source, store_item

# The app is told this time, so that heartbeats written against it are as fresh as the test
# says however late in a long, loaded suite it runs.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def client(settings: Settings, engine: sa.Engine) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"secret_key": "s"}), engine, clock=lambda: NOW)
    with TestClient(app) as c:
        yield c


def test_healthz_answers_while_the_process_is_alive(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_needs_a_running_worker(client: TestClient, session: Session) -> None:
    now = NOW
    without = client.get("/readyz")
    beat(session, "host:1", now - timedelta(hours=1), now)
    with_worker = client.get("/readyz")
    beat(session, "host:1", now - timedelta(hours=1), now - STALE_AFTER - timedelta(seconds=1))
    stale = client.get("/readyz")

    assert without.status_code == 503
    assert without.json()["checks"] == {"database": True, "scheduler": False, "sources": True}
    assert "no worker is running" in without.json()["problems"][0]
    assert with_worker.status_code == 200 and with_worker.json()["ready"] is True
    assert stale.status_code == 503 and "no worker heard from since" in stale.text


def test_readyz_says_why_a_worker_stopped_until_another_beats(
    client: TestClient, session: Session
) -> None:
    beat(session, "host:1", NOW - timedelta(hours=1), NOW - timedelta(minutes=1))
    stopped_by_failure(
        session,
        "host:1",
        "its scheduler's thread died: OperationalError: database is locked",
        NOW - timedelta(seconds=5),
    )
    stopped = client.get("/readyz")
    beat(session, "host:2", NOW, NOW)  # its supervisor started another
    restarted = client.get("/readyz")

    assert stopped.status_code == 503
    assert stopped.json()["checks"]["scheduler"] is False
    assert stopped.json()["problems"] == [
        f"the worker host:1 stopped at {NOW - timedelta(seconds=5):%Y-%m-%d %H:%M:%S} UTC: "
        "its scheduler's thread died: OperationalError: database is locked"
    ]
    assert restarted.status_code == 200 and restarted.json()["problems"] == []


def test_readyz_fails_when_every_enabled_source_is_failing(
    client: TestClient, session: Session
) -> None:
    now = NOW
    beat(session, "host:1", now, now)
    failing = news_source(session, "DBT")
    news_source(session, "CMF")
    failing.consecutive_failures = 3
    session.commit()
    assert client.get("/readyz").status_code == 200  # one of two still works

    for source in session.exec(select(Source)):
        source.consecutive_failures = 1
    session.commit()
    answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["problems"] == ["all 2 enabled sources are failing"]


def test_readyz_says_when_the_database_cannot_be_reached(
    settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    app = create_app(settings.model_copy(update={"secret_key": "s"}), engine)
    app.state.engine = create_db_engine(f"sqlite:///{tmp_path}/missing/folder/alerter.db")

    with TestClient(app) as client:
        answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["checks"]["database"] is False
    assert answer.json()["problems"][0].startswith("database unreachable")


def test_metrics_count_items_errors_topics_emails_and_the_digest_duration(
    client: TestClient, session: Session, settings: Settings, tmp_path: Path
) -> None:
    joined = NOW - timedelta(days=3)
    store_item(session, "Anti-dumping duties on aluminium extrusions", joined + timedelta(1))
    store_item(session, "Foundry apprenticeship scheme expands", joined + timedelta(1))
    source = news_source(session, "DBT")
    source.failures_total = 4
    session.commit()
    add_subscriber(session, "jo@foundry.example", ["tariffs"], joined=joined)
    outbox = OutboxTransport(tmp_path / "outbox", "alerts@alerter.example")
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    run_digest(
        session,
        outbox,
        settings.model_copy(update={"secret_key": "s"}),
        taxonomy,
        Frequency.WEEKLY,
        NOW,
    )

    text = client.get("/metrics").text

    assert 'alerter_items_ingested_total{source="DBT"} 2.0' in text
    assert 'alerter_fetch_errors_total{source="DBT"} 4.0' in text
    assert 'alerter_source_consecutive_failures{source="DBT"} 0.0' in text
    assert 'alerter_items_by_topic{topic="tariffs"} 1.0' in text
    assert 'alerter_items_by_topic{topic="skills"} 1.0' in text
    assert 'alerter_emails_total{kind="digest-weekly",status="sent"} 1.0' in text
    assert 'alerter_digest_duration_seconds{kind="digest-weekly"}' in text


def test_a_worker_restarted_with_its_host_and_process_id_is_told_apart_from_the_dead_one() -> None:
    """In a container the worker is process 1 on the same host name after every restart; its
    dead self's heartbeat must still go stale, so the new one can take over its sources."""
    as_process_1 = (
        "import os, socket; os.getpid = lambda: 1; socket.gethostname = lambda: 'worker'; "
        "from alerter.health import worker_name; print(worker_name())"
    )

    names = [
        subprocess.run(
            [sys.executable, "-c", as_process_1], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]

    assert names[0].startswith("worker:1:")
    assert names[0] != names[1]
