"""A poll cycle: claim sources, fetch them concurrently, parse, store, record each one's health."""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from alerter.config import Settings
from alerter.health import STALE_AFTER, worker_name
from alerter.ingest.api_client import HostPacer, PollingClient
from alerter.ingest.fetch import Fetcher, FetchError, NotModified, Validators
from alerter.ingest.parser_pool import Parsed, ParserPool, PoolKeeper
from alerter.ingest.sources import KINDS
from alerter.ingest.sources.base import (
    ApiKind,
    DocumentKind,
    LayoutChanged,
    RequestFailed,
    SourceError,
    SourceSpec,
    Window,
)
from alerter.ingest.sources.catalog import spec_of
from alerter.ingest.store import store_entries, story_index
from alerter.ingest.stories import StoryIndex
from alerter.models import Source, WorkerHeartbeat
from alerter.progress import Progress
from alerter.topics.labelling import load_classifier, write_topics
from alerter.topics.taxonomy import load_taxonomy

log = logging.getLogger(__name__)

# How long a claimed source stays reserved for the poller that claimed it, should that poller
# die. A worker's claims lapse sooner: as soon as its heartbeat goes stale (see _claim).
CLAIM_LEASE = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=24)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SourceReport:
    """What one source's poll did, for the command line, the logs and the worker."""

    source: str
    status: Literal["fetched", "not_modified", "failed", "busy"]
    new: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: int = 0
    backlog: bool = False
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    new_item_ids: list[int] = field(default_factory=list)
    updated_item_ids: list[int] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        del data["new_item_ids"], data["updated_item_ids"]
        return data

    def lines(self) -> list[str]:
        """The report as `alerter poll` prints it: what the source gave, then its warnings."""
        if self.status == "failed" or self.status == "busy":
            return [f"{self.source}: {self.status.upper()}: {self.error}"]
        fetched = "304 not modified" if self.status == "not_modified" else "fetched"
        summary = (
            f"{self.source}: {fetched}, {self.new} new"
            + (" (backlog)" if self.backlog and self.new else "")
            + f", {self.updated} updated, {self.merged} already known from another source,"
            f" {self.skipped} skipped"
        )
        return [summary, *(f"  warning: {warning}" for warning in self.warnings)]


class UnknownSource(LookupError):
    pass


def backoff_delay(poll_minutes: int, failures: int, retry_after: timedelta | None) -> timedelta:
    """How long a failing source waits: its interval doubled per consecutive failure, capped at a
    day, and never less than the server's own Retry-After."""
    doubled: timedelta = timedelta(minutes=poll_minutes) * 2 ** min(failures - 1, 16)
    delay = min(doubled, MAX_BACKOFF)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF))
    return delay


def poll_sources(
    engine: sa.Engine,
    settings: Settings,
    *,
    names: Sequence[str] = (),
    due_only: bool = False,
    clock: Clock = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
    parsers: PoolKeeper | None = None,
    pacer: HostPacer | None = None,
) -> list[SourceReport]:
    """Poll the named sources (all enabled ones when none are named) and return a report for each.

    With `due_only`, sources whose next poll (interval or back-off) is still ahead are left alone;
    a manual poll does not wait for them. `progress` hears of each source as it finishes.
    `parsers` keeps the parser processes warm between the cycles of a long-running process;
    without it, the cycle starts its own and stops them at the end. `pacer` spaces the requests
    of API kinds to each host (a fresh one per cycle by default).
    """
    return asyncio.run(
        _poll(
            engine,
            settings,
            names=names,
            due_only=due_only,
            clock=clock,
            transport=transport,
            progress=progress or (lambda done, total: None),
            parsers=parsers,
            pacer=pacer or HostPacer(),
        )
    )


async def _poll(
    engine: sa.Engine,
    settings: Settings,
    *,
    names: Sequence[str],
    due_only: bool,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress,
    parsers: PoolKeeper | None,
    pacer: HostPacer,
) -> list[SourceReport]:
    with Session(engine, expire_on_commit=False) as session:
        sources = _select_sources(session, names)
        reports: list[SourceReport] = []
        claimed = _claim(session, sources, clock(), due_only=due_only)
        if not due_only:
            reports += [
                SourceReport(source.name, "busy", error="being polled by another process")
                for source in sources
                if source not in claimed
            ]
        # Read now, though the classifier is loaded only when needed: a broken topics file
        # stops the cycle before any source is touched, as it always did.
        load_taxonomy(settings.topics)
        parser = _Parsers(session, settings, parsers)
        # A source that gives no validators (or was never fetched) will be parsed: start the
        # parser processes now, while its fetch is under way. When every source can answer 304,
        # they start only if one does not, and a poll of unchanged feeds needs none of them.
        if any(_expects_document(source) for source in claimed):
            parser.pool()
        try:
            async with Fetcher(
                deadline_seconds=settings.fetch_deadline_seconds,
                max_bytes=settings.fetch_max_bytes,
                per_host=settings.fetch_per_host,
                contact_url=settings.contact_url,
                transport=transport,
            ) as fetcher:
                cycle = _Cycle(session, fetcher, parser, story_index(session), clock, pacer)
                finished = 0

                async def poll_and_count(source: Source) -> SourceReport:
                    nonlocal finished
                    report = await _poll_one(cycle, source)
                    finished += 1
                    progress(finished, len(claimed))
                    return report

                reports += await asyncio.gather(*(poll_and_count(s) for s in claimed))
        finally:
            await asyncio.to_thread(parser.close)
    order = {name: n for n, name in enumerate(s.name for s in sources)}
    return sorted(reports, key=lambda report: order[report.source])


def _select_sources(session: Session, names: Sequence[str]) -> list[Source]:
    query = select(Source).order_by(col(Source.name))
    if names:
        rows = list(session.exec(query.where(col(Source.name).in_(names))))
        missing = set(names) - {row.name for row in rows}
        if missing:
            raise UnknownSource(f"no source named {', '.join(sorted(missing))}")
        return rows
    return list(session.exec(query.where(col(Source.enabled).is_(True))))


def _claim(
    session: Session, sources: list[Source], now: datetime, *, due_only: bool
) -> list[Source]:
    """Reserve sources for this poller, leaving those another poller holds (and, if due_only,
    those not yet due). One conditional update makes this safe across processes. A claim
    lapses when its lease runs out, or as soon as its poller's heartbeat is stale: a worker
    killed mid-poll holds nothing for long. (A poller with no heartbeat, a one-off
    `alerter poll`, holds its claims for the lease.)"""
    if not sources:
        return []
    table = Source.__table__  # type: ignore[attr-defined]
    dead = select(WorkerHeartbeat.worker).where(col(WorkerHeartbeat.beat_at) < now - STALE_AFTER)
    condition = sa.and_(
        table.c.id.in_([source.id for source in sources]),
        sa.or_(
            table.c.claimed_until.is_(None),
            table.c.claimed_until < now,
            table.c.claimed_by.in_(dead),
        ),
    )
    if due_only:
        condition = sa.and_(
            condition, sa.or_(table.c.next_poll_at.is_(None), table.c.next_poll_at <= now)
        )
    lease = now + CLAIM_LEASE
    poller = worker_name()
    update = (
        sa.update(table)
        .where(condition)
        .values(claimed_until=lease, claimed_by=poller)
        .returning(table.c.id)
    )
    claimed_ids = set(session.connection().execute(update).scalars())
    session.commit()
    claimed = [source for source in sources if source.id in claimed_ids]
    for source in claimed:
        # Tell the ORM what the database now holds, so releasing the claim is seen as a change.
        set_committed_value(source, "claimed_until", lease)
        set_committed_value(source, "claimed_by", poller)
    return claimed


def _expects_document(source: Source) -> bool:
    kind = KINDS[spec_of(source).kind]
    return isinstance(kind, ApiKind) or (source.etag is None and source.last_modified is None)


class _Parsers:
    """The cycle's parser processes and the classifier they use, loaded and started when the
    cycle first needs them: a cycle where nothing changed reads neither."""

    def __init__(self, session: Session, settings: Settings, keeper: PoolKeeper | None) -> None:
        self._session = session
        self._settings = settings
        self._keeper = keeper  # a long-running process's warm pool, which outlives the cycle
        self._pool: ParserPool | None = None

    def pool(self) -> ParserPool:
        if self._pool is None:
            classifier = load_classifier(self._session, self._settings.topics)
            if self._keeper is None:
                self._pool = ParserPool(self._settings.parse_workers, classifier)
            else:
                self._pool = self._keeper.pool_for(classifier)
            self._pool.start()
        return self._pool

    def close(self) -> None:
        """Stop the processes this cycle started itself (not the keeper's)."""
        if self._keeper is None and self._pool is not None:
            self._pool.close()


@dataclass
class _Cycle:
    """What every source's poll in one cycle shares."""

    session: Session
    fetcher: Fetcher
    parser: _Parsers
    stories: StoryIndex
    clock: Clock
    pacer: HostPacer


@dataclass(frozen=True)
class _Answer:
    """What a source said in one poll, read and classified."""

    parsed: Parsed | None  # None: nothing changed since the last poll
    validators: Validators  # for the next poll's conditional request
    moved_to: str | None = None  # set when the URL redirected permanently


async def _poll_one(cycle: _Cycle, source: Source) -> SourceReport:
    session, clock = cycle.session, cycle.clock
    spec = spec_of(source)
    kind = KINDS[spec.kind]
    try:
        if isinstance(kind, ApiKind):
            answer = await _collect(cycle, source, spec, kind)
        else:
            answer = await _read(cycle, source, spec, kind)
    except FetchError as error:
        return _fail(session, source, str(error), clock(), error.retry_after)
    except SourceError as error:
        error_kind = "layout" if isinstance(error, LayoutChanged) else None
        retry_after = error.retry_after if isinstance(error, RequestFailed) else None
        return _fail(session, source, str(error), clock(), retry_after, kind=error_kind)
    except Exception as error:
        log.exception("parsing %s failed", source.name, extra={"source": source.name})
        return _fail(session, source, f"internal error while parsing: {error!r}", clock(), None)
    # From here on nothing awaits: this source's store runs alone on the shared session.
    now = clock()
    if answer.parsed is None:
        _record_success(source, now, answer.validators, warnings=source.last_warnings)
        session.commit()
        return SourceReport(source.name, "not_modified")
    try:
        return _store(cycle, source, answer, answer.parsed, now)
    except Exception as error:
        log.exception("poll of %s failed", source.name, extra={"source": source.name})
        session.rollback()
        return _fail(session, source, f"internal error while storing: {error!r}", now, None)


async def _read(cycle: _Cycle, source: Source, spec: SourceSpec, kind: DocumentKind) -> _Answer:
    """One document, fetched conditionally and parsed in the parser processes."""
    validators = Validators(source.etag, source.last_modified)
    url = str(httpx.URL(source.url).copy_merge_params(tuple(kind.request_params(spec))))
    outcome = await cycle.fetcher.fetch(url, validators)
    if isinstance(outcome, NotModified):
        return _Answer(None, validators)
    parsed = await cycle.parser.pool().parse(outcome.document, spec)
    return _Answer(parsed, outcome.validators, outcome.moved_to)


async def _collect(cycle: _Cycle, source: Source, spec: SourceSpec, kind: ApiKind) -> _Answer:
    """The entries an API kind collects, classified in the parser processes."""
    client = PollingClient(
        cycle.fetcher,
        cycle.pacer,
        cycle.session,
        validators=Validators(source.etag, source.last_modified),
        interval=kind.request_interval,
    )
    window = Window(now=cycle.clock(), last_success=source.last_success_at)
    result = await kind.collect(spec, client, window)
    if client.not_modified and not result.entries:
        return _Answer(None, client.validators)
    classifications = await cycle.parser.pool().classify(result.entries)
    return _Answer(Parsed(result, classifications), client.validators)


def _store(
    cycle: _Cycle, source: Source, answer: _Answer, parsed: Parsed, now: datetime
) -> SourceReport:
    session = cycle.session
    backlog = source.first_success_at is None
    stored = store_entries(
        session, source, parsed.result.entries, now=now, backlog=backlog, stories=cycle.stories
    )
    topics = parsed.classifications
    write_topics(session, {i: topics[e] for i, e in stored.new_items.items()}, new_items=True)
    write_topics(session, {i: topics[e] for i, e in stored.updated_items.items()})
    warnings = list(parsed.result.warnings) + stored.warnings
    if answer.moved_to:
        warnings.append(f"moved permanently to {answer.moved_to}; update the source URL")
    _record_success(source, now, answer.validators, warnings=warnings)
    session.commit()
    report = SourceReport(
        source.name,
        "fetched",
        new=len(stored.new_item_ids),
        updated=len(stored.updated_item_ids),
        merged=stored.merged,
        unchanged=stored.unchanged,
        skipped=parsed.result.skipped,
        backlog=backlog,
        warnings=warnings,
        new_item_ids=stored.new_item_ids,
        updated_item_ids=stored.updated_item_ids,
    )
    log.info(
        "polled %s: %d new, %d updated",
        source.name,
        report.new,
        report.updated,
        extra={"source": source.name},
    )
    return report


def _record_success(
    source: Source, now: datetime, validators: Validators, *, warnings: list[str]
) -> None:
    source.etag = validators.etag
    source.last_modified = validators.last_modified
    source.first_success_at = source.first_success_at or now
    source.last_polled_at = now
    source.last_success_at = now
    source.last_error = None
    source.last_warnings = warnings
    source.consecutive_failures = 0
    source.failing_since = None
    source.last_error_kind = None
    source.next_poll_at = now + timedelta(minutes=source.poll_minutes)
    source.claimed_until = None
    source.claimed_by = None


def _fail(
    session: Session,
    source: Source,
    message: str,
    now: datetime,
    retry_after: timedelta | None,
    *,
    kind: str | None = None,
) -> SourceReport:
    source.last_polled_at = now
    source.last_error = message
    source.last_error_kind = kind
    source.consecutive_failures += 1
    source.failures_total += 1
    source.failing_since = source.failing_since or now
    source.next_poll_at = now + backoff_delay(
        source.poll_minutes, source.consecutive_failures, retry_after
    )
    source.claimed_until = None
    source.claimed_by = None
    session.commit()
    # INFO: the failure is in the report and on the source; staff alerts come from its health.
    log.info("poll of %s failed: %s", source.name, message, extra={"source": source.name})
    return SourceReport(source.name, "failed", error=message)
