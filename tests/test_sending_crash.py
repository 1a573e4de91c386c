"""Kill the digest sender with SIGKILL at random moments, restart it, and check every member
received exactly one digest: the ledger and the outbox's fixed file names make it so."""

import email
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.labelling import classify_items, load_classifier
from alerter.models import Delivery, Source
from alerter.sources.base import Entry
from alerter.store import store_entries, story_index
from subscriptions.members import add_member
from subscriptions.models import Frequency

TRIALS = 20
MEMBERS = 60
LEASE_SECONDS = 0.5


def fill(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    joined = datetime.now(UTC) - timedelta(days=6)
    with Session(engine) as session:
        source = Source(name="DBT", kind="feed", url="https://gov.example/feed", publisher="DBT")
        session.add(source)
        session.flush()
        entries = [
            Entry(
                f"Steel safeguard notice {n}: quota {n} reopens",
                f"https://gov.example/{n}",
                f"Steel safeguard notice {n}: quota {n} reopens",
                "",
                joined + timedelta(days=1),
            )
            for n in range(5)
        ]
        stored = store_entries(
            session,
            source,
            entries,
            now=joined + timedelta(days=1),
            backlog=False,
            stories=story_index(session),
        )
        classify_items(session, load_classifier(session, DEFAULT_TOPICS_FILE), stored.new_item_ids)
        for n in range(MEMBERS):
            add_member(
                session,
                f"member{n}@foundry.example",
                name=f"Member {n}",
                organisation="",
                topics=["tariffs"],
                frequency=Frequency.WEEKLY,
                consent_confirmed=True,
                added_by="test",
                now=joined,
            )
        session.commit()


def sender(database_url: str, outbox: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "ALERTER_DATABASE_URL": database_url,
        "ALERTER_OUTBOX_DIR": str(outbox),
        "ALERTER_SECRET_KEY": "crash test",
        "ALERTER_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from alerter.cli import app; app()",
            "digest",
            "send",
            "--frequency",
            "weekly",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def recipients(outbox: Path) -> list[str]:
    return sorted(email.message_from_bytes(p.read_bytes())["To"] for p in outbox.glob("*.eml"))


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_sender_killed_at_any_moment_and_restarted_sends_each_digest_once(
    trial: int, database_url: str, migrated_engine: sa.Engine, tmp_path: Path
) -> None:
    fill(migrated_engine)
    outbox = tmp_path / "outbox"
    victim = sender(database_url, outbox)
    # Start-up takes about a second and sending the 60 about half of one: kill anywhere from
    # start-up, through planning and sending, to just after the end.
    time.sleep(random.Random(trial).uniform(0.6, 2.5))
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    time.sleep(LEASE_SECONDS + 0.2)  # the dead sender's claims run out
    survivor = sender(database_url, outbox)
    _, errors = survivor.communicate(timeout=120)

    assert survivor.returncode == 0, errors.decode()
    assert recipients(outbox) == sorted(f"member{n}@foundry.example" for n in range(MEMBERS))
    with Session(migrated_engine) as session:
        assert {d.status for d in session.exec(select(Delivery))} == {"sent"}


def test_two_senders_running_the_same_digest_at_once_send_each_email_once(
    database_url: str, migrated_engine: sa.Engine, tmp_path: Path
) -> None:
    fill(migrated_engine)
    outbox = tmp_path / "outbox"

    senders = [sender(database_url, outbox) for _ in range(2)]
    results = [process.communicate(timeout=120) for process in senders]

    assert [process.returncode for process in senders] == [0, 0], [e.decode() for _, e in results]
    assert recipients(outbox) == sorted(f"member{n}@foundry.example" for n in range(MEMBERS))
    with Session(migrated_engine) as session:
        rows = session.exec(select(Delivery)).all()
    assert len(rows) == MEMBERS
    # Each row was claimed by one sender only: neither sent another's email.
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
