"""The scheduled worker: APScheduler jobs for polling, the weekly and daily digests, deadline
reminders and outcome alerts, and the dispatcher that sends immediate alerts and finishes
whatever an earlier run left.

Jobs are kept in the database (APScheduler's SQLAlchemy job store), so a run missed while the
worker was down is run once when it comes back, not once per missed time. Run one scheduler per
database; sending itself is safe with several processes (the delivery ledger sees to that)."""

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

import sqlalchemy as sa
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from alerter import branding
from alerter.bulletins import settle_bulletins
from alerter.config import Settings, get_settings
from alerter.db import get_engine, session_scope
from alerter.delivery import transport_for
from alerter.digests.runs import LONDON, plan_digests, run_digest
from alerter.dispatch import dispatch_planned, run_deadline_alerts
from alerter.health import HEARTBEAT_SECONDS, beat, stop_beating, stopped_by_failure, worker_name
from alerter.ingest.parser_pool import PoolKeeper
from alerter.ingest.poll import poll_sources
from alerter.ingest.sources.catalog import sync_source_file
from alerter.staff_alerts import alert_staff
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.models import Frequency

log = logging.getLogger(__name__)


# The jobs. APScheduler stores them by name, so they are plain module-level functions.


# The parser processes this worker keeps warm between its poll cycles.
_parsers: PoolKeeper | None = None


def poll_due_sources() -> None:
    """Poll every source whose own interval (or back-off) has come round."""
    global _parsers
    settings = get_settings()
    engine = get_engine()
    with session_scope(engine) as session:
        sync_source_file(session, settings.sources)
    if _parsers is None:
        _parsers = PoolKeeper(settings.parse_workers)
    reports = poll_sources(engine, settings, due_only=True, parsers=_parsers)
    if reports:  # each failure is logged by the poll itself, with its source
        log.info(
            "polled %d sources: %d new items, %d failed",
            len(reports),
            sum(r.new for r in reports if not r.backlog),
            sum(r.status == "failed" for r in reports),
        )


def send_digest(frequency: str) -> None:
    """The weekly or daily digest: plan this period's, send them."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        branding.load(session, settings)  # as staff last saved it
        plan, sent = run_digest(
            session,
            transport_for(settings),
            settings,
            load_taxonomy(settings.topics),
            Frequency(frequency),
            datetime.now(UTC),
        )
    log.info(
        "%s digest: %d planned, %d sent, %d failed, %d deferred",
        frequency,
        plan.planned,
        sent.sent,
        sent.failed,
        sent.deferred,
    )


def dispatch() -> None:
    """Immediate alerts for what arrived since each member's last, then every delivery still
    to send (a crashed or interrupted run's, of any kind)."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        branding.load(session, settings)  # as staff last saved it
        plan_digests(
            session,
            Frequency.IMMEDIATE,
            datetime.now(UTC),
            repeat_bulletin_items=settings.repeat_bulletin_items_in_digests,
        )
        report = dispatch_planned(
            session,
            transport_for(settings),
            settings,
            load_taxonomy(settings.topics),
            clock=lambda: datetime.now(UTC),
        )
        settle_bulletins(session, datetime.now(UTC))
    if report.sent or report.failed or report.deferred:
        log.info(
            "dispatch: %d sent, %d failed, %d deferred", report.sent, report.failed, report.deferred
        )


def send_deadline_alerts() -> None:
    """Plan the deadline reminders due today and the outcome alerts newly due, then send them
    (the dispatcher finishes whatever this leaves)."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        branding.load(session, settings)  # as staff last saved it
        report = run_deadline_alerts(
            session,
            transport_for(settings),
            settings,
            load_taxonomy(settings.topics),
            datetime.now(UTC),
            clock=lambda: datetime.now(UTC),
        )
    log.info(
        "deadline alerts: %d reminders and %d outcome alerts offered, %d sent, %d failed",
        report.reminders,
        report.outcomes,
        report.sent.sent,
        report.sent.failed,
    )


def watch() -> None:
    """Email staff about problems they have not yet heard of (see alerter.staff_alerts)."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        branding.load(session, settings)  # as staff last saved it
        alert_staff(session, transport_for(settings), settings, datetime.now(UTC))


def heartbeat(worker: str, started_at: datetime) -> None:
    """This worker's sign of life, read by /readyz."""
    with session_scope(get_engine()) as session:
        beat(session, worker, started_at, datetime.now(UTC))


def schedule(settings: Settings) -> dict[str, tuple[str, BaseTrigger, tuple[str, ...]]]:
    """Job id -> (function, trigger, arguments)."""
    return {
        "poll": ("alerter.worker:poll_due_sources", IntervalTrigger(minutes=1), ()),
        "dispatch": ("alerter.worker:dispatch", IntervalTrigger(minutes=1), ()),
        "watch": ("alerter.worker:watch", IntervalTrigger(minutes=5), ()),
        "digest-weekly": (
            "alerter.worker:send_digest",
            CronTrigger.from_crontab(settings.weekly_digest_cron, timezone=LONDON),
            (Frequency.WEEKLY.value,),
        ),
        "digest-daily": (
            "alerter.worker:send_digest",
            CronTrigger.from_crontab(settings.daily_digest_cron, timezone=LONDON),
            (Frequency.DAILY.value,),
        ),
        "deadline-alerts": (
            "alerter.worker:send_deadline_alerts",
            CronTrigger.from_crontab(settings.deadline_alerts_cron, timezone=LONDON),
            (),
        ),
    }


class SchedulerFailed(Exception):
    """The worker's scheduler can no longer run jobs; the message says why. The worker exits
    non-zero on it, so that its supervisor starts a fresh one."""


class WorkerScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's background scheduler, telling why it stopped running jobs."""

    # Why the scheduler's thread died, if it did: it runs no job after that.
    failure: str | None = None

    def _main_loop(self) -> None:
        # APScheduler lets an error from its job store (such as "database is locked" while it
        # records a job's next run) end its thread silently, leaving a process that runs nothing.
        try:
            super()._main_loop()
        except Exception as error:
            log.exception("the scheduler's thread died")
            self.failure = f"its scheduler's thread died: {_first_line(error)}"

    def _process_jobs(self) -> float | None:
        # APScheduler 3 looks for due jobs once more after shutdown; it cannot submit them then,
        # but still moves their next run on, so a run due at that moment would be lost.
        if self.state == STATE_STOPPED:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def build_scheduler(settings: Settings) -> WorkerScheduler:
    """A paused scheduler over the database's job store, with alerter's jobs in it; `resume()`
    starts it. Jobs already stored keep their next run time, which is how a run missed while
    the worker was down is noticed; a changed schedule replaces its job."""
    scheduler = WorkerScheduler(
        # Shared jobs live in the database; each process's heartbeat is its own.
        jobstores={"default": SQLAlchemyJobStore(engine=get_engine()), "local": MemoryJobStore()},
        # A run missed while the worker was down happens once on its return, however late.
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=LONDON,
    )
    scheduler.start(paused=True)
    wanted = schedule(settings)
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
    for job_id, (function, trigger, args) in wanted.items():
        existing = scheduler.get_job(job_id)
        if existing is not None and str(existing.trigger) == str(trigger):
            continue
        scheduler.add_job(function, trigger, args=args, id=job_id, replace_existing=True)
    now = datetime.now(UTC)
    scheduler.add_job(
        heartbeat,
        IntervalTrigger(seconds=HEARTBEAT_SECONDS),
        args=(worker_name(), now),
        id="heartbeat",
        jobstore="local",
        next_run_time=now,
    )
    return scheduler


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def scheduler_problem(scheduler: WorkerScheduler) -> str | None:
    """Why this scheduler can no longer run jobs, or None while it can."""
    if scheduler.failure:
        return scheduler.failure
    if scheduler.state == STATE_STOPPED:
        return "its scheduler was shut down"
    thread = getattr(scheduler, "_thread", None)
    if thread is None or not thread.is_alive():
        return "its scheduler's thread has stopped"
    return None


# How often a running worker checks that its scheduler can still run jobs.
CHECK_SECONDS = 1.0


def watch_scheduler(
    scheduler: WorkerScheduler, stop: threading.Event, every: float = CHECK_SECONDS
) -> str | None:
    """Wait until `stop` is set (None) or the scheduler can no longer run jobs (why)."""
    while not stop.wait(every):
        problem = scheduler_problem(scheduler)
        if problem is not None:
            return problem
    return None


def stop_scheduler(scheduler: WorkerScheduler, problem: str | None = None) -> None:
    """Let jobs under way finish, then stop, telling /readyz that this worker has gone, or,
    given the `problem` that stopped its scheduler, why it went."""
    if scheduler.state != STATE_STOPPED:
        scheduler.shutdown(wait=True)
    if _parsers is not None:
        _parsers.close()
    with session_scope(get_engine()) as session:
        if problem is None:
            stop_beating(session, worker_name())
        else:
            stopped_by_failure(session, worker_name(), problem, datetime.now(UTC))


def fail_worker(scheduler: WorkerScheduler, problem: str) -> SchedulerFailed:
    """Stop a worker whose scheduler can no longer run jobs, leaving the reason for /readyz
    (when the database takes it); the error to exit on."""
    log.error("worker stopping: %s", problem)
    try:
        stop_scheduler(scheduler, problem)
    except sa.exc.SQLAlchemyError as error:
        log.error("could not record why the worker stopped: %s", _first_line(error))
    return SchedulerFailed(f"{problem}; exiting so that a supervisor can restart the worker")


def run_worker(settings: Settings) -> None:
    """Run the jobs until SIGTERM or Ctrl-C; jobs under way are allowed to finish. Raises
    SchedulerFailed when the scheduler can no longer run jobs."""
    scheduler = build_scheduler(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the jobs under way", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.resume()
    log.info("worker started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    problem = watch_scheduler(scheduler, stop)
    if problem is not None:
        raise fail_worker(scheduler, problem)
    stop_scheduler(scheduler)
    log.info("worker stopped")
