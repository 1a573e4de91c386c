"""Kill the digest sender with SIGKILL at random moments, restart it, and check every member
received exactly one digest: with the outbox (whose fixed file names make a rewrite harmless)
and with SendGrid (a fake on 127.0.0.1, whose batches the restarted sender cancels before
sending their rows again)."""

import email
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
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
from tests.fake_sendgrid import API_KEY, FakeSendGrid

TRIALS = 20
MEMBERS = 60
CONTENTS = 12  # members joined at 12 different times, so 12 different digests
LEASE_SECONDS = 0.5
EVERYONE = Counter(f"member{n}@foundry.example" for n in range(MEMBERS))


def fill(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    start = datetime.now(UTC) - timedelta(days=6)
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
                start + timedelta(hours=n),
            )
            for n in range(CONTENTS)
        ]
        classifier = load_classifier(session, DEFAULT_TOPICS_FILE)
        for n, entry in enumerate(entries):
            stored = store_entries(
                session,
                source,
                [entry],
                now=start + timedelta(hours=n),
                backlog=False,
                stories=story_index(session),
            )
            classify_items(session, classifier, stored.new_item_ids)
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
                now=start + timedelta(hours=n % CONTENTS, minutes=-30),
            )
        session.commit()


class Mail:
    """Where the senders' mail goes, and who received what."""

    def __init__(self, backend: str, folder: Path, sendgrid: FakeSendGrid) -> None:
        self.backend = backend
        self.outbox = folder / "outbox"
        self.sendgrid = sendgrid

    def environment(self) -> dict[str, str]:
        if self.backend == "outbox":
            return {"ALERTER_OUTBOX_DIR": str(self.outbox)}
        return {
            "ALERTER_MAIL_BACKEND": "sendgrid",
            "SENDGRID_API_KEY": API_KEY,
            "ALERTER_SENDGRID_BASE_URL": self.sendgrid.url,
        }

    def received(self) -> Counter[str]:
        if self.backend == "outbox":
            return Counter(
                email.message_from_bytes(p.read_bytes())["To"] for p in self.outbox.glob("*.eml")
            )
        return Counter(d.to for d in self.sendgrid.delivered())


@pytest.fixture(params=["outbox", "sendgrid"])
def mail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mail]:
    with FakeSendGrid(answer_delay=0.15) as sendgrid:
        yield Mail(request.param, tmp_path, sendgrid)


def sender(database_url: str, mail: Mail) -> subprocess.Popen[bytes]:
    env = (
        os.environ
        | {
            "ALERTER_DATABASE_URL": database_url,
            "ALERTER_SECRET_KEY": "crash test",
            "ALERTER_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        | mail.environment()
    )
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


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_sender_killed_at_any_moment_and_restarted_sends_each_digest_once(
    trial: int, database_url: str, migrated_engine: sa.Engine, mail: Mail
) -> None:
    fill(migrated_engine)
    victim = sender(database_url, mail)
    # Start-up takes about a second and sending the 60 about half of one: kill anywhere from
    # start-up, through planning and sending, to just after the end.
    time.sleep(random.Random(trial).uniform(0.6, 2.5))
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    time.sleep(LEASE_SECONDS + 0.2)  # the dead sender's claims run out
    survivor = sender(database_url, mail)
    _, errors = survivor.communicate(timeout=120)

    assert survivor.returncode == 0, errors.decode()
    assert mail.received() == EVERYONE
    with Session(migrated_engine) as session:
        assert {d.status for d in session.exec(select(Delivery))} == {"sent"}


def test_three_senders_running_the_same_digest_at_once_send_each_email_once(
    database_url: str, migrated_engine: sa.Engine, mail: Mail
) -> None:
    fill(migrated_engine)

    senders = [sender(database_url, mail) for _ in range(3)]
    results = [process.communicate(timeout=120) for process in senders]

    assert [p.returncode for p in senders] == [0, 0, 0], [e.decode() for _, e in results]
    assert mail.received() == EVERYONE
    with Session(migrated_engine) as session:
        rows = session.exec(select(Delivery)).all()
    assert len(rows) == MEMBERS
    # Each row was claimed by one sender only: neither sent another's email.
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
