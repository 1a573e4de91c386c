"""The delivery ledger's senders: claim planned rows, send them, and mark them, those with the
same content together. Any process may die at any line; a later run, or another worker,
carries on, and no member gets the same email twice. What an email says is not the ledger's:
the use case (a digest run, a bulletin, ...) hands `send_planned` a function that builds the
emails for the rows it claimed.

With SendGrid, each request goes in a batch of its own, scheduled a few minutes ahead, and its
rows are marked as soon as SendGrid answers. A documented answer settles the request: taken
(sent), refused (failed), or not taken (tried again). A request whose outcome is unknown (its
sender died, the connection was lost, an answer SendGrid does not document) is settled by
cancelling its batch and sending its rows again; until that can be done its rows are "in_doubt",
with the reason on each (see "Requests in doubt" below)."""

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlmodel import Session

from alerter.config import Settings
from alerter.db import among, write_lock_busy
from alerter.delivery import (
    DeliveryError,
    InDoubt,
    Mailing,
    Personalization,
    Rejected,
    SendBatch,
    Throttled,
    TooManyCancelled,
    Transport,
    Unavailable,
)
from alerter.models import Delivery, MailBatch
from alerter.progress import Progress

log = logging.getLogger(__name__)
_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
_BATCHES: sa.Table = MailBatch.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    """A ledger row this sender holds, as much of it as building and sending its email needs."""

    id: int
    member_id: int
    kind: str
    period: str
    content_key: str
    item_ids: list[int]
    message_token: str


@dataclass(frozen=True)
class Outgoing:
    """One email for these rows: one content, its recipients in the rows' order."""

    mailing: Mailing
    rows: Sequence[Claimed]


@dataclass(frozen=True)
class Skipped:
    """Rows with nothing to send any more: their member unsubscribed (`reason` says so, and is
    logged), or everything their email held has gone since planning."""

    rows: Sequence[Claimed]
    reason: str | None = None


@dataclass(frozen=True)
class Unbuildable:
    """Rows whose email could not be built: failed with the error, as building it again would
    fail again."""

    rows: Sequence[Claimed]
    error: Exception


Built = Outgoing | Skipped | Unbuildable
# What a use case hands the ledger: the emails for rows it claimed, each built as it is needed.
EmailBuilder = Callable[[Sequence[Claimed]], Iterable[Built]]
AddresseeT = TypeVar("AddresseeT")


def by_kind(builders: Mapping[str, EmailBuilder]) -> EmailBuilder:
    """One builder for rows of several kinds (the dispatcher's), each kind's rows to its own."""

    def build(rows: Sequence[Claimed]) -> Iterator[Built]:
        kinds: defaultdict[str, list[Claimed]] = defaultdict(list)
        for row in rows:
            kinds[row.kind].append(row)
        for kind, of_kind in kinds.items():
            builder = builders.get(kind)
            if builder is None:
                yield Unbuildable(of_kind, LookupError(f"alerter builds no {kind!r} email"))
            else:
                yield from builder(of_kind)

    return build


def by_content(
    rows: Sequence[Claimed],
    addressees: Mapping[int, AddresseeT],
    *,
    content: Callable[[Claimed, AddresseeT], Hashable],
    mailing: Callable[[Claimed, AddresseeT], Mailing | None],
    personalize: Callable[[Claimed, AddresseeT], Personalization],
) -> Iterator[Built]:
    """The emails for these rows, one per content: `addressees` are the members still to be
    sent them, by member id (the others are skipped); `content` says which rows share an
    email, `mailing` builds it from the first of them (None: nothing left to send), and
    `personalize` gives each row's recipient. One content that cannot be built never stops the
    run, nor does one member's."""
    gone = [row for row in rows if row.member_id not in addressees]
    if gone:  # unsubscribed, suppressed, erased (or, for a confirmation, confirmed) since
        yield Skipped(gone, "no longer subscribed")
    groups: defaultdict[Hashable, list[Claimed]] = defaultdict(list)
    for row in rows:
        if row.member_id in addressees:
            groups[content(row, addressees[row.member_id])].append(row)
    for group in groups.values():
        first = group[0]
        try:
            built = mailing(first, addressees[first.member_id])
        except Exception as error:  # one content that cannot be built never stops the run
            yield Unbuildable(group, error)
            continue
        if built is None:  # every item it held has gone since planning
            yield Skipped(group)
            continue
        recipients, to = [], []
        for row in group:
            try:
                recipients.append(personalize(row, addressees[row.member_id]))
                to.append(row)
            except Exception as error:  # nor does one member's
                yield Unbuildable([row], error)
        if to:
            yield Outgoing(built.with_recipients(tuple(recipients)), to)


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0  # no longer subscribed, or nothing left on their topics, when their turn came
    failed: int = 0  # refused by the mail service, or the email could not be built (see the row)
    deferred: int = 0  # still to send when the run stopped (the mail service was failing)
    # May have been delivered: held until their batch is cancelled (then sent again), SendGrid
    # reports them, or staff decide. Counted at the end of the run; the reason is on each row.
    in_doubt: int = 0
    held: int = 0  # held by another sender when the run ended (one that died: until its lease)
    held_until: datetime | None = None
    emails_composed: int = 0  # distinct contents
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Waiting:
    """What a run that waits is waiting for: rows another sender holds, until its lease lapses,
    and rows in doubt, until their batch can be cancelled."""

    held: int
    held_until: datetime | None
    in_doubt: int
    in_doubt_until: datetime | None

    @property
    def until(self) -> datetime:
        """When the first of them can be taken up."""
        return min(t for t in (self.held_until, self.in_doubt_until) if t is not None)


Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

# A request refused as "try later" or failing with a server error is tried this many times,
# waiting RETRY_BASE_SECONDS, then twice that, and so on (or as long as Retry-After says).
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 2.0
RETRY_LONGEST_SECONDS = 120.0
# A batch is cancelled no later than this before the mail service's cut-off, for the request
# to arrive in time; a cancelled batch is released this long after its send time, once the
# service has surely discarded its emails; a cancel that failed is tried again after this.
CANCEL_MARGIN = timedelta(seconds=30)
RELEASE_AFTER = timedelta(minutes=2)
CANCEL_RETRY = timedelta(seconds=30)
# How long a sender whose email went waits before trying again to mark it, the database busy.
MARK_RETRY_SECONDS = 1.0
# A row's error says first why it is in doubt, then (after this) what is being done about it.
_THEN = "\n"


class StopSending(Exception):
    """The mail service keeps failing: this run ends, nothing is lost."""


def send_planned(
    session: Session,
    transport: Transport,
    settings: Settings,
    build: EmailBuilder,
    *,
    kind: str | None = None,
    period: str | None = None,
    clock: Clock,
    sleep: Sleep = time.sleep,
    progress: Progress | None = None,
    wait: bool = False,
    waiting: Callable[[Waiting], None] | None = None,
) -> SendReport:
    """Send every planned (or abandoned) delivery, of one kind and period or of all, its email
    built by `build`: rows with the same content go together, up to the transport's recipients
    per request. `progress` is told how many of those to send at the start are settled (sent,
    skipped or failed).

    With `wait`, rows another sender holds (a sender that died holds them until its lease
    lapses) and rows in doubt waiting for their batch to be cancelled are waited for and
    finished; `waiting` is told what is waited for, each time."""
    run = _SendRun(session, transport, settings, build, clock, sleep, kind, period)
    total = run.unsettled()
    try:
        while True:
            run.settle_in_doubt_requests()
            ids = run.claim_next()
            if ids:
                run.send_claimed(ids)
                if progress is not None:
                    report = run.report
                    progress(min(report.sent + report.skipped + report.failed, total), total)
                continue
            pending = run.pending()
            if pending is None or not wait:
                break
            if waiting is not None:
                waiting(pending)
            run.sleep(max(0.0, (pending.until - run.clock()).total_seconds()) + 0.1)
    except StopSending as error:
        run.report.errors.append(str(error))
        run.report.deferred = run.unsettled()
    run.conclude()
    return run.report


class _SendRun:
    """One sender's pass over the ledger; its claim id marks the rows it holds."""

    def __init__(
        self,
        session: Session,
        transport: Transport,
        settings: Settings,
        build: EmailBuilder,
        clock: Clock,
        sleep: Sleep,
        kind: str | None,
        period: str | None,
    ) -> None:
        self.session = session
        self.transport = transport
        self.build = build
        self.clock = clock
        self.sleep = sleep
        self.claim = uuid.uuid4().hex
        # Claimed rows are this sender's for the lease, renewed before each request; after
        # it, a dead sender's rows are taken over.
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.report = SendReport()
        self.scope = [_DELIVERIES.c.kind == kind] if kind else []
        if period:
            self.scope.append(_DELIVERIES.c.period == period)
        self.failures_in_a_row = 0

    # Claiming -------------------------------------------------------------------------------

    def claim_next(self) -> list[int]:
        """Take up to a request's worth of claimable rows, in content order so that rows with
        the same content come together: first those a dead sender left outside any batch
        (they are simply sent again), then planned ones. Each condition alone is served by the
        ledger's claimable index; an OR of both is not."""
        now = self.clock()
        abandoned = sa.and_(
            _DELIVERIES.c.status == "sending",
            _DELIVERIES.c.claimed_until < now,
            _DELIVERIES.c.batch_id.is_(None),
        )
        for condition in (abandoned, _DELIVERIES.c.status == "planned"):
            claimed = self._claim(sa.and_(*self.scope, condition), now)
            if claimed:
                return claimed
        return []

    def _claim(self, available: sa.ColumnElement[bool], now: datetime) -> list[int]:
        query = (
            sa.select(_DELIVERIES.c.id)
            .where(available)
            .order_by(_DELIVERIES.c.content_key, _DELIVERIES.c.id)
            .limit(self.transport.max_recipients)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # Concurrent senders each take different rows instead of queueing behind one another.
            query = query.with_for_update(skip_locked=True)
        ids = list(self.session.execute(query).scalars())
        if not ids:
            self.session.commit()
            return []
        update = (
            sa.update(_DELIVERIES)
            .where(among(self.session, _DELIVERIES.c.id, ids), available)
            .values(
                status="sending",
                claim=self.claim,
                claimed_until=now + self.lease,
                attempts=_DELIVERIES.c.attempts + 1,
            )
            .returning(_DELIVERIES.c.id)
        )
        claimed = list(cast(sa.CursorResult[Any], self.session.execute(update)).scalars())
        self.session.commit()
        return claimed

    def pending(self) -> Waiting | None:
        """Rows in scope that are not this sender's to take yet, or None when there are none:
        held by another sender, or in doubt until their batch can be cancelled."""
        now = self.clock()
        held, held_until = self.session.execute(
            sa.select(sa.func.count(), sa.func.max(_DELIVERIES.c.claimed_until)).where(
                *self.scope,
                _DELIVERIES.c.status == "sending",
                _DELIVERIES.c.claimed_until >= now,
            )
        ).one()
        in_doubt, in_doubt_until = self.session.execute(
            sa.select(sa.func.count(), sa.func.min(_DELIVERIES.c.claimed_until)).where(
                *self.scope,
                _DELIVERIES.c.status == "in_doubt",
                _DELIVERIES.c.claimed_until.is_not(None),
            )
        ).one()
        self.session.commit()
        if not held and not in_doubt:
            return None
        return Waiting(held, held_until, in_doubt, in_doubt_until)

    def unsettled(self) -> int:
        """Rows in this run's scope still to send, by this sender or a later one."""
        return self._count("planned", "sending")

    def conclude(self) -> None:
        """What the run leaves: rows in doubt, and rows another sender still holds."""
        self.report.in_doubt = self._count("in_doubt")
        waiting = self.pending()
        if waiting is not None and waiting.held:
            self.report.held, self.report.held_until = waiting.held, waiting.held_until

    def _count(self, *statuses: str) -> int:
        count = self.session.execute(
            sa.select(sa.func.count()).where(*self.scope, _DELIVERIES.c.status.in_(statuses))
        ).scalar_one()
        self.session.commit()
        return int(count)

    # Building -------------------------------------------------------------------------------

    def send_claimed(self, ids: list[int]) -> None:
        # Plain rows, not ORM objects, which every commit below would expire and reload.
        rows = [
            Claimed(*row)
            for row in self.session.execute(
                sa.select(
                    _DELIVERIES.c.id,
                    _DELIVERIES.c.member_id,
                    _DELIVERIES.c.kind,
                    _DELIVERIES.c.period,
                    _DELIVERIES.c.content_key,
                    _DELIVERIES.c.item_ids,
                    _DELIVERIES.c.message_token,
                ).where(among(self.session, _DELIVERIES.c.id, ids))
            )
        ]
        for built in self.build(rows):
            if isinstance(built, Outgoing):
                self.report.emails_composed += 1
                self._deliver(built.mailing, list(built.rows))
            elif isinstance(built, Skipped):
                self._finish([row.id for row in built.rows], "skipped")
                for row in built.rows if built.reason else ():
                    log.info("delivery %d skipped: %s", row.id, built.reason, extra=_context(row))
            else:
                self._cannot_build(list(built.rows), built.error)

    def _cannot_build(self, deliveries: list[Claimed], error: Exception) -> None:
        """Fail these rows with the reason: building them again would fail again."""
        reason = f"the email could not be built: {type(error).__name__}: {error}"
        self._finish([d.id for d in deliveries], "failed", error=reason[:1000])
        self.report.errors.append(f"{len(deliveries)} deliveries failed: {reason[:300]}")
        for delivery in deliveries:
            log.error("delivery %d failed: %s", delivery.id, reason[:300], extra=_context(delivery))

    # Sending --------------------------------------------------------------------------------

    def _deliver(self, mailing: Mailing, deliveries: list[Claimed]) -> None:
        """One request for these rows, tried until it is taken, refused for good, or in doubt.
        Each request goes in a batch of its own, so that cancelling it withdraws nothing else."""
        ids = [d.id for d in deliveries]
        batch: _OpenBatch | None = None
        while True:
            try:
                batch = self._batch_for(batch)
                if not self._hold(ids, batch):
                    return  # another sender took these rows over
                self.transport.send(mailing, batch.send if batch else None)
            except Rejected as error:
                self._finish(ids, "failed", error=str(error))
                self.report.errors.append(f"{len(ids)} deliveries refused: {error}")
                for delivery in deliveries:
                    log.warning(
                        "delivery %d refused: %s", delivery.id, error, extra=_context(delivery)
                    )
                return
            except InDoubt as error:
                if batch is None:  # nothing to cancel: sending it again is all there is
                    self._wait_after_failure(error)
                    continue
                self._settle(batch.send.id, f"SendGrid's answer to the request is unknown: {error}")
                self._wait_after_failure(error)
                return
            except (Throttled, Unavailable) as error:
                # Not taken: the batch is still unused, and these rows leave it while waiting,
                # so that a sender dying now costs no cancellation.
                if batch is not None:
                    self._out_of_batch(ids)
                retry_after = error.retry_after if isinstance(error, Throttled) else None
                self._wait_after_failure(error, retry_after)
            else:
                self.failures_in_a_row = 0
                self._mark_sent(ids)
                log.info(
                    "sent %d %s emails (deliveries %d to %d)",
                    len(ids),
                    deliveries[0].kind,
                    min(ids),
                    max(ids),
                    extra={"kind": deliveries[0].kind, "period": deliveries[0].period},
                )
                return

    def _wait_after_failure(self, error: DeliveryError, retry_after: float | None = None) -> None:
        """Back off before trying again, or end the run when the service keeps failing."""
        self.failures_in_a_row += 1
        if self.failures_in_a_row >= MAX_ATTEMPTS:
            self._release_mine(f"{error} ({MAX_ATTEMPTS} failures in a row; a later run retries)")
            raise StopSending(f"mail service failing, run stopped: {error}")
        if retry_after is None:
            retry_after = RETRY_BASE_SECONDS * 2 ** (self.failures_in_a_row - 1)
        self.sleep(min(retry_after, RETRY_LONGEST_SECONDS))

    def _batch_for(self, batch: "_OpenBatch | None") -> "_OpenBatch | None":
        """The batch for a request's next attempt: the one its last attempt was refused in,
        while young, else a new one (None for transports without batches)."""
        now = self.clock()
        if batch is not None and now < batch.opened_at + self.lease:
            return batch
        opened = self.transport.open_batch(now)
        return _OpenBatch(opened, now) if opened is not None else None

    def _hold(self, ids: list[int], batch: "_OpenBatch | None") -> bool:
        """Renew the lease on these rows and put them in the batch, before a request: False
        when they are no longer this sender's."""
        now = self.clock()
        if batch is not None and not batch.recorded:
            self.session.execute(
                sa.insert(_BATCHES).values(
                    id=batch.send.id,
                    opened_at=batch.opened_at,
                    send_at=batch.send.send_at,
                    cancel_by=batch.send.cancel_by,
                    claim=self.claim,
                    status="open",
                )
            )
        held = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(self._mine(ids))
                .values(claimed_until=now + self.lease, batch_id=batch.send.id if batch else None)
            ),
        ).rowcount
        self.session.commit()
        if batch is not None:
            batch.recorded = True
        if held == len(ids):
            return True
        self._release_mine("taken over by another sender", ids)
        return False

    def _out_of_batch(self, ids: list[int]) -> None:
        self.session.execute(sa.update(_DELIVERIES).where(self._mine(ids)).values(batch_id=None))
        self.session.commit()

    def _mine(self, ids: list[int] | None = None) -> sa.ColumnElement[bool]:
        """Rows this sender holds and is sending (of these ids)."""
        condition = sa.and_(_DELIVERIES.c.claim == self.claim, _DELIVERIES.c.status == "sending")
        if ids is not None:
            condition = sa.and_(condition, among(self.session, _DELIVERIES.c.id, ids))
        return condition

    def _finish(self, ids: list[int], status: str, error: str | None = None) -> None:
        """Settle rows this sender still holds (those taken over by another are its now)."""
        settled = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(self._mine(ids))
                .values(
                    status=status,
                    sent_at=self.clock() if status == "sent" else None,
                    error=error,
                    claimed_until=None,
                )
            ),
        ).rowcount
        self.session.commit()
        setattr(self.report, status, getattr(self.report, status) + settled)

    def _mark_sent(self, ids: list[int]) -> None:
        """Mark rows the mail service took as sent. A database too busy to take the mark (the
        SQLite write lock held past a writer's patience) is waited for as long as the rows are
        still this sender's: unmarked, they would be sent again once the lease lapsed."""
        while True:
            try:
                self._finish(ids, "sent")
                return
            except sa.exc.OperationalError as error:
                if not write_lock_busy(error):
                    raise
                self.session.rollback()
            if not self._count_mine(ids):  # a read: it never waits for the write lock
                log.error(
                    "%d emails were sent, then taken over by another sender before they could "
                    "be marked: it sends them again",
                    len(ids),
                )
                return
            log.warning(
                "%d emails sent, not marked yet: the database is busy; trying again", len(ids)
            )
            self.sleep(MARK_RETRY_SECONDS)

    def _count_mine(self, ids: list[int]) -> int:
        count = self.session.execute(
            sa.select(sa.func.count()).select_from(_DELIVERIES).where(self._mine(ids))
        ).scalar_one()
        self.session.commit()
        return int(count)

    def _release_mine(self, reason: str, ids: list[int] | None = None) -> None:
        """Hand rows this sender holds, and has no request out for, back to the ledger."""
        self.session.execute(
            sa.update(_DELIVERIES)
            .where(self._mine(ids))
            .values(status="planned", claim=None, claimed_until=None, batch_id=None, error=reason)
        )
        self.session.commit()

    # Requests in doubt ----------------------------------------------------------------------
    # A request whose outcome is unknown is settled by cancelling its batch, then sending its
    # rows again. The mail service allows only `cancel_limit` cancelled batches at one time: a
    # cancellation is released once its batch's send time has passed, and while none is free
    # the rows stay "in_doubt", until one frees or (past the batch's cut-off) for good, when
    # SendGrid's events or staff settle them. They are never marked failed: they may have gone.

    def settle_in_doubt_requests(self) -> None:
        """Settle the requests in doubt whose turn has come: those of senders that died
        (their lease lapsed while their rows were in a batch), and those waiting to be
        cancelled."""
        if not self.transport.cancel_limit:
            return
        now = self.clock()
        self._release_cancellations(now)
        due = self.session.execute(
            sa.select(_DELIVERIES.c.batch_id)
            .where(
                *self.scope,
                _DELIVERIES.c.status.in_(["sending", "in_doubt"]),
                _DELIVERIES.c.claimed_until < now,
                _DELIVERIES.c.batch_id.is_not(None),
            )
            .distinct()
        ).scalars()
        for batch_id in list(due):
            cause = self._take(batch_id, now)
            if cause is not None:
                self._settle(batch_id, cause)

    def _take(self, batch_id: str, now: datetime) -> str | None:
        """Hold a request's rows, so that no other sender settles them too; why they are in
        doubt, or None when another sender took them first."""
        taken = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(
                    _DELIVERIES.c.batch_id == batch_id,
                    _DELIVERIES.c.status.in_(["sending", "in_doubt"]),
                    _DELIVERIES.c.claimed_until < now,
                )
                .values(claim=self.claim, claimed_until=now + self.lease)
                .returning(_DELIVERIES.c.status, _DELIVERIES.c.error)
            ),
        ).all()
        self.session.commit()
        if not taken:
            return None
        earlier = [str(row.error) for row in taken if row.status == "in_doubt" and row.error]
        if earlier:
            return earlier[0].split(_THEN)[0]
        return "its sender stopped before it recorded SendGrid's answer"

    def _settle(self, batch_id: str, cause: str) -> None:
        """Cancel the request's batch and send its rows again; when it cannot be cancelled
        now, hold them in doubt, until it can or for good."""
        now = self.clock()
        batch = self.session.execute(
            sa.select(_BATCHES.c.status, _BATCHES.c.send_at, _BATCHES.c.cancel_by).where(
                _BATCHES.c.id == batch_id
            )
        ).one()
        status, send_at, cancel_by = batch
        if status in ("cancelled", "released"):  # cancelled by a sender that died after it
            self._send_again(batch_id)
            return
        if now >= cancel_by - CANCEL_MARGIN:
            self._in_doubt_for_good(
                batch_id, cause, f"batch {batch_id} could no longer be cancelled", send_at
            )
            return
        if status != "cancelling":
            free_at = self._cancellation_free_at(now)
            if free_at is not None and free_at >= cancel_by - CANCEL_MARGIN:
                self._in_doubt_for_good(
                    batch_id,
                    cause,
                    f"batch {batch_id} could not be cancelled: the {self.transport.cancel_limit} "
                    "cancellations SendGrid allows at one time were in use until its cut-off",
                    send_at,
                )
                return
            if free_at is not None:
                self._in_doubt_until(
                    batch_id,
                    cause,
                    free_at,
                    f"the {self.transport.cancel_limit} cancellations SendGrid allows at one "
                    f"time are in use; batch {batch_id} is cancelled when one frees, at "
                    f"{_hhmm(free_at)} (it can be until {_hhmm(cancel_by)}), and these emails "
                    "are sent again",
                )
                return
            # Counted as in use from now: the cancel may take effect with its answer lost.
            self._batch_status(batch_id, "cancelling")
        try:
            self.transport.cancel_batch(batch_id)
        except TooManyCancelled as error:  # cancellations alerter does not know of
            self._batch_status(batch_id, "open")
            self._in_doubt_until(
                batch_id,
                cause,
                now + CANCEL_RETRY,
                f"SendGrid would not cancel batch {batch_id} now ({error}); tried again after "
                f"{_hhmm(now + CANCEL_RETRY)}, until {_hhmm(cancel_by)}",
            )
        except Rejected as error:
            self._in_doubt_for_good(
                batch_id, cause, f"SendGrid refused to cancel batch {batch_id} ({error})", send_at
            )
        except DeliveryError as error:
            self._in_doubt_until(
                batch_id,
                cause,
                now + CANCEL_RETRY,
                f"cancelling batch {batch_id} failed ({error}); tried again after "
                f"{_hhmm(now + CANCEL_RETRY)}, until {_hhmm(cancel_by)}",
            )
        else:
            self._batch_status(batch_id, "cancelled")
            self._send_again(batch_id)

    def _send_again(self, batch_id: str) -> None:
        """The batch is cancelled: nothing of it goes out, so its rows are planned again."""
        again = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(*self._held_in(batch_id))
                .values(status="planned", batch_id=None, claim=None, claimed_until=None, error=None)
            ),
        ).rowcount
        self.session.commit()
        log.info("SendGrid batch %s cancelled; %d deliveries to send again", batch_id, again)

    def _in_doubt_until(self, batch_id: str, cause: str, until: datetime, then: str) -> None:
        """Hold the rows in doubt until `until`, when a sender settles them again."""
        self._mark_in_doubt(batch_id, f"{cause}{_THEN}{then}", until)

    def _in_doubt_for_good(self, batch_id: str, cause: str, why: str, send_at: datetime) -> None:
        """Nothing more can be done from here: the rows may have been delivered at send_at."""
        reason = (
            f"{cause}{_THEN}{why}; they may have been delivered at {_hhmm(send_at)}. SendGrid's "
            "events for them (processed, delivered) mark them sent; without those, staff decide "
            "on the Deliveries page."
        )
        self._mark_in_doubt(batch_id, reason, None)
        if (
            self.session.execute(
                sa.select(_BATCHES.c.status).where(_BATCHES.c.id == batch_id)
            ).scalar_one()
            == "open"
        ):
            self._batch_status(batch_id, "uncancellable")
        self.report.errors.append(f"in doubt: {cause}; {why}")

    def _mark_in_doubt(self, batch_id: str, reason: str, until: datetime | None) -> None:
        count = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(*self._held_in(batch_id))
                .values(status="in_doubt", claim=None, claimed_until=until, error=reason)
            ),
        ).rowcount
        self.session.commit()
        log.warning("%d deliveries in doubt: %s", count, reason.replace(_THEN, "; "))

    def _held_in(self, batch_id: str) -> list[sa.ColumnElement[bool]]:
        return [
            _DELIVERIES.c.batch_id == batch_id,
            _DELIVERIES.c.claim == self.claim,
            _DELIVERIES.c.status.in_(["sending", "in_doubt"]),
        ]

    def _batch_status(self, batch_id: str, status: str) -> None:
        self.session.execute(
            sa.update(_BATCHES).where(_BATCHES.c.id == batch_id).values(status=status)
        )
        self.session.commit()

    def _cancellation_free_at(self, now: datetime) -> datetime | None:
        """None when a cancellation is free now, else when the first in use can be released."""
        in_use = _BATCHES.c.status.in_(["cancelling", "cancelled"])
        count, earliest = self.session.execute(
            sa.select(sa.func.count(), sa.func.min(_BATCHES.c.send_at)).where(in_use)
        ).one()
        self.session.commit()
        if count < self.transport.cancel_limit:
            return None
        first: datetime = earliest
        return max(first + RELEASE_AFTER, now + CANCEL_RETRY)

    def _release_cancellations(self, now: datetime) -> None:
        """Delete the cancellations of batches whose send time has passed: their emails were
        discarded then, and each frees one of the cancellations the service allows."""
        due = list(
            self.session.execute(
                sa.select(_BATCHES.c.id).where(
                    _BATCHES.c.status.in_(["cancelling", "cancelled"]),
                    _BATCHES.c.send_at <= now - RELEASE_AFTER,
                )
            ).scalars()
        )
        self.session.commit()
        for batch_id in due:
            try:
                self.transport.release_batch(batch_id)
            except DeliveryError as error:
                log.warning("SendGrid batch %s: its cancellation stays (%s)", batch_id, error)
                continue
            self._batch_status(batch_id, "released")


@dataclass
class _OpenBatch:
    send: SendBatch
    opened_at: datetime
    recorded: bool = False  # written to the ledger's mail_batch table


def _hhmm(moment: datetime) -> str:
    return f"{moment:%H:%M:%S} UTC"


def _context(delivery: Claimed) -> dict[str, object]:
    """A delivery's fields for structured logs: ids, never the address."""
    return {
        "delivery_id": delivery.id,
        "member_id": delivery.member_id,
        "kind": delivery.kind,
        "period": delivery.period,
    }
