"""The worker: its jobs and their schedules, a missed run run once on return, a clean stop
on SIGTERM, and an exit saying why when its scheduler can no longer run jobs."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import alerter.worker
from alerter.config import Settings
from alerter.health import readiness
from alerter.worker import build_scheduler, scheduler_problem
from tests.support.fake_web import free_port


@pytest.fixture
def worker_settings(env_settings: Settings, engine: sa.Engine) -> Iterator[Settings]:
    """Settings from the environment, with no job left in the store by an earlier test."""
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS apscheduler_jobs"))
    yield env_settings


def test_the_worker_polls_dispatches_and_sends_digests_on_their_schedules(
    worker_settings: Settings,
) -> None:
    scheduler = build_scheduler(worker_settings)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        weekly = jobs["digest-weekly"].trigger.get_next_fire_time(
            None,
            datetime(2026, 3, 4, 12, 0, tzinfo=UTC),  # a Wednesday
        )
        # British Summer Time: 07:00 in London is 06:00 UTC.
        daily = jobs["digest-daily"].trigger.get_next_fire_time(
            None, datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
        )
    finally:
        scheduler.shutdown(wait=False)

    assert set(jobs) == {
        "poll",
        "dispatch",
        "watch",
        "digest-weekly",
        "digest-daily",
        "deadline-alerts",
        "heartbeat",
    }
    assert weekly.astimezone(UTC) == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # Monday 07:00
    assert daily.astimezone(UTC) == datetime(2026, 7, 2, 6, 0, tzinfo=UTC)
    assert jobs["digest-weekly"].args == ("weekly",)


def test_a_digest_missed_while_the_worker_was_down_runs_once_when_it_returns(
    worker_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker ran once, then was down over two Monday mornings.
    first = build_scheduler(worker_settings)
    first.modify_job("digest-weekly", next_run_time=datetime.now(UTC) - timedelta(days=9))
    for other in ("poll", "dispatch", "watch", "digest-daily"):
        first.modify_job(other, next_run_time=datetime.now(UTC) + timedelta(hours=1))
    first.shutdown(wait=False)
    runs: list[str] = []
    monkeypatch.setattr(alerter.worker, "send_digest", runs.append)

    second = build_scheduler(worker_settings)
    second.resume()
    deadline = time.monotonic() + 60  # generous: the scheduler's thread may start late
    while not runs and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # room for a second run, which must not come
    next_weekly = second.get_job("digest-weekly").next_run_time
    second.shutdown(wait=True)

    assert runs == ["weekly"]
    assert next_weekly > datetime.now(UTC)


def test_sigterm_stops_the_worker_cleanly(worker_settings: Settings) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", "from alerter.cli import app; app()", "-v", "worker"],
        env=dict(os.environ),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    started = ""
    deadline = time.monotonic() + 60
    while "worker started" not in started and time.monotonic() < deadline:
        started += worker.stderr.readline()
    worker.send_signal(signal.SIGTERM)
    rest = worker.communicate(timeout=60)[1]

    assert "worker started" in started
    assert worker.returncode == 0, rest
    assert "worker stopped" in rest


def test_a_scheduler_that_was_shut_down_is_a_problem_a_running_one_is_not(
    worker_settings: Settings,
) -> None:
    scheduler = build_scheduler(worker_settings)
    scheduler.resume()
    running = scheduler_problem(scheduler)
    scheduler.shutdown(wait=True)

    assert running is None
    assert scheduler_problem(scheduler) == "its scheduler was shut down"


# The worker, started as a supervisor starts it, with a job store that fails as a busy SQLite
# did: "database is locked" while recording a job's next run, which ends APScheduler's thread.
LOCKED_JOB_STORE = """
import sqlite3
import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

def locked(self, job):
    raise sa.exc.OperationalError(
        "UPDATE apscheduler_jobs", {}, sqlite3.OperationalError("database is locked")
    )

SQLAlchemyJobStore.update_job = locked
from alerter.cli import app
app()
"""


@pytest.mark.parametrize("command", [["worker"], ["run", "--port", "free"]])
def test_a_worker_whose_scheduler_dies_exits_non_zero_saying_why(
    worker_settings: Settings, engine: sa.Engine, command: list[str]
) -> None:
    before = build_scheduler(worker_settings)
    before.modify_job("watch", next_run_time=datetime.now(UTC))  # due as soon as it starts
    before.shutdown(wait=False)
    command = [str(free_port()) if part == "free" else part for part in command]

    worker = subprocess.Popen(
        [sys.executable, "-c", LOCKED_JOB_STORE, *command],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        errors = worker.communicate(timeout=120)[1]
    finally:
        worker.kill()
    ready = readiness(engine, datetime.now(UTC))

    assert worker.returncode == 1, errors
    assert "error: the worker stopped: its scheduler's thread died: OperationalError" in errors
    assert "database is locked" in errors
    assert "a supervisor can restart the worker" in errors
    assert not ready.scheduler
    assert "stopped at" in ready.problems[0]
    assert "its scheduler's thread died" in ready.problems[0]
    assert "database is locked" in ready.problems[0]
