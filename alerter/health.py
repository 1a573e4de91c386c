"""What /readyz and /metrics report. Everything is read from the database, so the web app tells
the same story whether the worker runs in its own process, in several, or beside it."""

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlmodel import Session, col, select

from alerter.models import Delivery, ItemTopic, Sighting, Source, WorkerHeartbeat

# A worker beats every HEARTBEAT_SECONDS; one not heard from for STALE_AFTER has stopped.
HEARTBEAT_SECONDS = 30
STALE_AFTER = timedelta(seconds=4 * HEARTBEAT_SECONDS)


# A worker restarted in its container after a crash has the host name and process id (1, say)
# of the one that died; this tells the two apart, so the dead one's heartbeat goes stale and
# its claims lapse instead of being taken for the new one's.
_INCARNATION = secrets.token_hex(4)


def worker_name() -> str:
    """This process as a worker: "host:pid:incarnation"."""
    return f"{socket.gethostname()}:{os.getpid()}:{_INCARNATION}"


def beat(session: Session, worker: str, started_at: datetime, now: datetime) -> None:
    """Record that this worker's scheduler is running jobs."""
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        session.add(WorkerHeartbeat(worker=worker, started_at=started_at, beat_at=now))
    else:
        row.beat_at = now
    session.commit()


def stopped_by_failure(session: Session, worker: str, reason: str, now: datetime) -> None:
    """Record that this worker exits because its scheduler can no longer run jobs, and why:
    /readyz says so until a worker beats again."""
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        row = WorkerHeartbeat(worker=worker, started_at=now, beat_at=now)
        session.add(row)
    row.beat_at = now
    row.stopped_because = reason
    session.commit()


def stop_beating(session: Session, worker: str) -> None:
    """A worker stopping cleanly says so, rather than being noticed only when it goes stale."""
    row = session.get(WorkerHeartbeat, worker)
    if row is not None:
        session.delete(row)
        session.commit()


@dataclass(frozen=True)
class Readiness:
    database: bool
    scheduler: bool  # a worker has beaten recently
    sources: bool  # not every enabled source is failing
    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return self.database and self.scheduler and self.sources


def readiness(engine: sa.Engine, now: datetime) -> Readiness:
    try:
        with Session(engine) as session:
            last_beat = session.exec(
                select(sa.func.max(WorkerHeartbeat.beat_at)).where(
                    col(WorkerHeartbeat.stopped_because).is_(None)
                )
            ).one()
            last_failure = session.exec(
                select(WorkerHeartbeat)
                .where(col(WorkerHeartbeat.stopped_because).is_not(None))
                .order_by(col(WorkerHeartbeat.beat_at).desc())
                .limit(1)
            ).one_or_none()
            failing, enabled = session.exec(
                select(
                    sa.func.count().filter(col(Source.consecutive_failures) > 0),
                    sa.func.count(),
                ).where(col(Source.enabled).is_(True))
            ).one()
    except sa.exc.SQLAlchemyError as error:
        reason = str(error.__cause__ or error).splitlines()[0]
        return Readiness(False, False, False, (f"database unreachable: {reason}",))
    problems = []
    scheduler = last_beat is not None and last_beat >= now - STALE_AFTER
    if not scheduler:
        if last_failure is not None and (last_beat is None or last_failure.beat_at >= last_beat):
            problems.append(
                f"the worker {last_failure.worker} stopped at "
                f"{last_failure.beat_at:%Y-%m-%d %H:%M:%S} UTC: {last_failure.stopped_because}"
            )
        elif last_beat is None:
            problems.append("no worker is running: start `alerter worker` (or `alerter run`)")
        else:
            problems.append(f"no worker heard from since {last_beat:%Y-%m-%d %H:%M:%S} UTC")
    sources = enabled == 0 or failing < enabled
    if not sources:
        problems.append(f"all {enabled} enabled sources are failing")
    return Readiness(True, scheduler, sources, tuple(problems))


class DatabaseMetrics(Collector):
    """Prometheus metrics computed from the database when scraped."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            yield from _source_metrics(session)
            yield from _topic_metrics(session)
            yield from _email_metrics(session)


def _source_metrics(session: Session) -> Iterator[Metric]:
    ingested = CounterMetricFamily(
        "alerter_items_ingested",
        "Items each source brought (stories merged included)",
        labels=["source"],
    )
    for name, count in session.exec(
        select(Source.name, sa.func.count(col(Sighting.id)))
        .join(Sighting, col(Sighting.source_id) == Source.id)
        .group_by(col(Source.name))
    ):
        ingested.add_metric([name], count)
    errors = CounterMetricFamily(
        "alerter_fetch_errors",
        "Failed polls of each source",
        labels=["source"],
    )
    failing = GaugeMetricFamily(
        "alerter_source_consecutive_failures",
        "Failed polls in a row, 0 when healthy",
        labels=["source"],
    )
    for name, total, in_a_row in session.exec(
        select(Source.name, Source.failures_total, Source.consecutive_failures)
    ):
        errors.add_metric([name], total)
        failing.add_metric([name], in_a_row)
    yield from (ingested, errors, failing)


def _topic_metrics(session: Session) -> Iterator[Metric]:
    topics = GaugeMetricFamily(
        "alerter_items_by_topic",
        "Items carrying each topic",
        labels=["topic"],
    )
    for topic, count in session.exec(
        select(ItemTopic.topic_id, sa.func.count()).group_by(col(ItemTopic.topic_id))
    ):
        topics.add_metric([topic], count)
    yield topics


def _email_metrics(session: Session) -> Iterator[Metric]:
    settled = CounterMetricFamily(
        "alerter_emails",
        "Emails by kind and outcome (sent, failed, skipped)",
        labels=["kind", "status"],
    )
    pending = GaugeMetricFamily(
        "alerter_emails_pending",
        "Emails still to send",
        labels=["kind"],
    )
    for kind, status, count in session.exec(
        select(Delivery.kind, Delivery.status, sa.func.count()).group_by(
            col(Delivery.kind), col(Delivery.status)
        )
    ):
        if status in ("planned", "sending"):
            pending.add_metric([kind], count)
        else:
            settled.add_metric([kind, status], count)
    yield from (settled, pending)
    durations = GaugeMetricFamily(
        "alerter_digest_duration_seconds",
        "The latest digest run of each kind: from planning to its last email sent",
        labels=["kind"],
    )
    latest = (
        select(Delivery.kind, sa.func.max(Delivery.period).label("period"))
        .where(col(Delivery.kind).startswith("digest-"))
        .group_by(col(Delivery.kind))
        .subquery()
    )
    for kind, started, finished in session.exec(
        select(Delivery.kind, sa.func.min(Delivery.planned_at), sa.func.max(Delivery.sent_at))
        .join(latest, sa.and_(latest.c.kind == Delivery.kind, latest.c.period == Delivery.period))
        .group_by(col(Delivery.kind))
    ):
        if started is not None and finished is not None:
            durations.add_metric([kind], (finished - started).total_seconds())
    yield durations
