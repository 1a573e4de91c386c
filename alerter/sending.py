"""Digest runs over the delivery ledger: plan (one row per member, written before anything is
sent), then claim, send and mark the rows, those with the same content together. Any process
may die at any line; a later run, or another worker, carries on, and no member gets the same
digest twice.

With SendGrid, requests go in batches scheduled a few minutes ahead. A sender that dies between
SendGrid's answer and marking its rows leaves them "sending" in a batch; whoever finds them
after the lease cancels that batch first, then sends its rows again."""

import hashlib
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.bulletins import KIND as BULLETIN
from alerter.bulletins import content_of, get_bulletin, settle_bulletins
from alerter.bulletins import period_of as bulletin_period
from alerter.compose import (
    Recipient,
    bulletin_mailing,
    digest_email,
    digest_mailing,
    personalization,
)
from alerter.config import Settings
from alerter.db import among, insert_ignoring_duplicates
from alerter.delivery import (
    DeliveryError,
    Email,
    Mailing,
    Rejected,
    SendBatch,
    Throttled,
    Transport,
    Unavailable,
)
from alerter.digest import DEFAULT_CAP, DigestItem, build_digest
from alerter.digests import candidates, digest_items, new_items, on_topics
from alerter.models import Delivery, MailBatch
from alerter.progress import Progress
from alerter.topics import Taxonomy
from subscriptions.members import (
    Subscriber,
    active_subscribers,
    awaiting_confirmation,
    subscribers,
)
from subscriptions.models import Frequency
from subscriptions.notices import (
    CONFIRMATION,
    confirmation_mailing,
    confirmation_recipient,
    member_link,
    news_link,
)
from subscriptions.tokens import Purpose

log = logging.getLogger(__name__)
LONDON = ZoneInfo("Europe/London")
_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
_BATCHES: sa.Table = MailBatch.__table__  # type: ignore[attr-defined]
HEADINGS = {
    Frequency.WEEKLY: "Your weekly policy alerts",
    Frequency.DAILY: "Your daily policy alerts",
    Frequency.IMMEDIATE: "New policy alerts",
}


def kind_of(frequency: Frequency) -> str:
    return f"digest-{frequency.value}"


def period_of(frequency: Frequency, now: datetime) -> str:
    """The ledger's period: one digest per member per ISO week, day or minute (London time)."""
    local = now.astimezone(LONDON)
    if frequency == Frequency.WEEKLY:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if frequency == Frequency.DAILY:
        return local.strftime("%Y-%m-%d")
    return local.strftime("%Y-%m-%dT%H:%M")


# Planning this many rows at once changes the ledger enough to refresh its statistics.
REFRESH_STATISTICS_AFTER = 5000


@dataclass
class PlanReport:
    members: int = 0
    planned: int = 0
    nothing_new: int = 0
    already_planned: int = 0


def plan_digests(
    session: Session,
    frequency: Frequency,
    now: datetime,
    *,
    dry_run: bool = False,
    include_empty: bool = False,
    repeat_bulletin_items: bool = False,
) -> PlanReport:
    """Write a ledger row for every active member of this frequency with something new: the
    items first stored since their previous digest (since they joined, for the first). With
    `include_empty`, members with nothing new get a row too (a "nothing new" email). Items a
    member was sent in a bulletin are left out, unless `repeat_bulletin_items`."""
    kind, period = kind_of(frequency), period_of(frequency, now)
    members = subscribers(session, frequency)
    report = PlanReport(members=len(members))
    planned = set(
        session.exec(
            select(Delivery.member_id).where(Delivery.kind == kind, Delivery.period == period)
        )
    )
    previous_end = _previous_window_ends(session, kind)
    # Members with the same window and topics get the same items: look them up once.
    groups: defaultdict[tuple[datetime, tuple[str, ...]], list[Subscriber]] = defaultdict(list)
    for member in members:
        if member.id in planned:
            report.already_planned += 1
            continue
        start = previous_end.get(member.id, member.joined)
        groups[(start, tuple(sorted(member.topics)))].append(member)
    rows: list[dict[str, Any]] = []
    # Every group's items come from one read of what is new since the earliest window began.
    earliest = min((start for start, _ in groups), default=now)
    news = new_items(session, since=earliest, until=now) if groups else []
    bulletined = {} if repeat_bulletin_items else _bulletin_items_sent(session, since=earliest)
    for (start, topics), group in groups.items():
        found = sorted(item.item_id for item in on_topics(news, topics, since=start))
        group_key = _content_key(kind, topics, found)
        for member in group:
            already = bulletined.get(member.id)
            item_ids = [i for i in found if i not in already] if already else found
            if not item_ids:
                report.nothing_new += 1
                if not include_empty:
                    continue
            rows.append(
                {
                    "member_id": member.id,
                    "kind": kind,
                    "period": period,
                    "status": "planned",
                    "window_start": start,
                    "window_end": now,
                    "item_ids": item_ids,
                    "content_key": (
                        group_key if item_ids is found else _content_key(kind, topics, item_ids)
                    ),
                    "planned_at": now,
                    "attempts": 0,
                }
            )
    report.planned = len(rows)
    if rows and not dry_run:
        unique = ["member_id", "kind", "period"]
        session.execute(insert_ignoring_duplicates(session, _DELIVERIES, unique), rows)
        if (
            len(rows) >= REFRESH_STATISTICS_AFTER
            and session.get_bind().dialect.name == "postgresql"
        ):
            # Autovacuum would notice the new rows only later: without fresh statistics the
            # senders' claims, planned for an empty ledger, scan it whole, for every claim.
            session.execute(sa.text("ANALYZE delivery"))
        session.commit()
    return report


def plan_confirmations(session: Session, member_ids: Sequence[int], now: datetime) -> str:
    """Ledger rows for confirmation emails to these pending members (an import's new ones),
    written in the caller's transaction beside the members themselves; `send_planned` sends
    them (the worker's dispatcher, if no one sooner). Returns the run's period."""
    period = now.strftime("%Y-%m-%dT%H:%M:%S")
    rows = [
        {
            "member_id": member_id,
            "kind": CONFIRMATION,
            "period": period,
            "status": "planned",
            "window_start": now,
            "window_end": now,
            "item_ids": [],
            "content_key": CONFIRMATION,
            "planned_at": now,
            "attempts": 0,
        }
        for member_id in member_ids
    ]
    if rows:
        unique = ["member_id", "kind", "period"]
        session.execute(insert_ignoring_duplicates(session, _DELIVERIES, unique), rows)
    return period


def _bulletin_items_sent(session: Session, *, since: datetime) -> dict[int, set[int]]:
    """Member id -> the items bulletins sent them since then."""
    sent: defaultdict[int, set[int]] = defaultdict(set)
    for member_id, item_ids in session.execute(
        sa.select(_DELIVERIES.c.member_id, _DELIVERIES.c.item_ids).where(
            _DELIVERIES.c.kind == BULLETIN,
            _DELIVERIES.c.status == "sent",
            _DELIVERIES.c.sent_at >= since,
        )
    ):
        sent[member_id].update(item_ids)
    return sent


def _content_key(kind: str, topics: Sequence[str], item_ids: Sequence[int]) -> str:
    """Rows planned with the same kind, topics and items get the same email."""
    payload = json.dumps([kind, sorted(topics), list(item_ids)])
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _previous_window_ends(
    session: Session, kind: str, member_id: int | None = None
) -> dict[int, datetime]:
    query = select(Delivery.member_id, sa.func.max(Delivery.window_end)).where(
        Delivery.kind == kind
    )
    if member_id is not None:
        query = query.where(Delivery.member_id == member_id)
    rows = session.exec(query.group_by(col(Delivery.member_id)))
    return {member_id: end for member_id, end in rows}


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0  # no longer subscribed, or nothing left on their topics, when their turn came
    failed: int = 0  # refused by the mail service; the reason is on the ledger row
    deferred: int = 0  # still to send when the run stopped (the mail service was failing)
    emails_composed: int = 0  # distinct contents
    errors: list[str] = field(default_factory=list)


Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

# A request refused as "try later" or failing with a server error is tried this many times,
# waiting RETRY_BASE_SECONDS, then twice that, and so on (or as long as Retry-After says).
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 2.0
RETRY_LONGEST_SECONDS = 120.0


class StopSending(Exception):
    """The mail service cannot be reached to settle a batch: this run ends, nothing is lost."""


def send_planned(
    session: Session,
    transport: Transport,
    settings: Settings,
    taxonomy: Taxonomy,
    *,
    kind: str | None = None,
    period: str | None = None,
    clock: Clock,
    sleep: Sleep = time.sleep,
    cap: int = DEFAULT_CAP,
    progress: Progress | None = None,
) -> SendReport:
    """Send every planned (or abandoned) delivery, of one kind and period or of all: rows with
    the same content go together, up to the transport's recipients per request. `progress` is
    told how many of those to send at the start are settled (sent, skipped or failed)."""
    run = _SendRun(session, transport, settings, taxonomy, clock, sleep, cap, kind, period)
    total = run.unsettled()
    try:
        while True:
            run.recover_abandoned_batches()
            ids = run.claim_next()
            if not ids:
                break
            run.send_claimed(ids)
            if progress is not None:
                report = run.report
                progress(min(report.sent + report.skipped + report.failed, total), total)
    except StopSending as error:
        run.report.errors.append(str(error))
        run.report.deferred = run.unsettled()
    return run.report


class _SendRun:
    """One sender's pass over the ledger; its claim id marks the rows it holds."""

    def __init__(
        self,
        session: Session,
        transport: Transport,
        settings: Settings,
        taxonomy: Taxonomy,
        clock: Clock,
        sleep: Sleep,
        cap: int,
        kind: str | None,
        period: str | None,
    ) -> None:
        self.session = session
        self.transport = transport
        self.settings = settings
        self.taxonomy = taxonomy
        self.clock = clock
        self.sleep = sleep
        self.cap = cap
        self.claim = uuid.uuid4().hex
        # Claimed rows are this sender's for the lease, renewed before each request; after
        # it, a dead sender's rows are taken over.
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.report = SendReport()
        self.batch: _OpenBatch | None = None
        self.scope = [_DELIVERIES.c.kind == kind] if kind else []
        if period:
            self.scope.append(_DELIVERIES.c.period == period)
        self._items: dict[int, DigestItem] = {}  # read once per run, shared by every content
        self._bulletins: dict[int, Mailing] = {}
        self._sent: list[int] = []  # taken by the mail service, not yet marked
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

    # Composing ------------------------------------------------------------------------------

    def send_claimed(self, ids: list[int]) -> None:
        # Plain rows, not ORM objects, which every commit below would expire and reload.
        deliveries = [
            _Claimed(*row)
            for row in self.session.execute(
                sa.select(
                    _DELIVERIES.c.id,
                    _DELIVERIES.c.member_id,
                    _DELIVERIES.c.kind,
                    _DELIVERIES.c.period,
                    _DELIVERIES.c.content_key,
                    _DELIVERIES.c.item_ids,
                ).where(among(self.session, _DELIVERIES.c.id, ids))
            )
        ]
        # A confirmation goes to a member still pending; everything else to active members.
        members = active_subscribers(
            self.session, [d.member_id for d in deliveries if d.kind != CONFIRMATION]
        )
        pending = awaiting_confirmation(
            self.session, [d.member_id for d in deliveries if d.kind == CONFIRMATION]
        )

        def member_of(delivery: _Claimed) -> Subscriber | None:
            return (pending if delivery.kind == CONFIRMATION else members).get(delivery.member_id)

        gone = [d for d in deliveries if member_of(d) is None]
        if gone:  # unsubscribed, suppressed, erased (or, for a confirmation, confirmed) since
            self._finish([d.id for d in gone], "skipped")
            for delivery in gone:
                log.info(
                    "delivery %d skipped: no longer subscribed",
                    delivery.id,
                    extra=_context(delivery),
                )
        # One email per content. A digest follows the member's topics, so a member whose topics
        # changed since planning gets their own; a bulletin is the same for its whole audience.
        groups: defaultdict[tuple[str, tuple[str, ...]], list[tuple[_Claimed, Subscriber]]] = (
            defaultdict(list)
        )
        for delivery in deliveries:
            member = member_of(delivery)
            if member is not None:
                topics = member.topics if delivery.kind.startswith("digest-") else ()
                groups[(delivery.content_key, topics)].append((delivery, member))
        for (_, topics), group in groups.items():
            first = group[0][0]
            mailing = self._mailing(first, topics)
            if mailing is None:  # every item it held has gone since planning
                self._finish([d.id for d, _ in group], "skipped")
                continue
            recipients = tuple(
                confirmation_recipient(self.settings, member, str(delivery.id))
                if delivery.kind == CONFIRMATION
                else personalization(_recipient(self.settings, member, delivery))
                for delivery, member in group
            )
            self.report.emails_composed += 1
            self._deliver(mailing.with_recipients(recipients), [d for d, _ in group])
        self._flush_sent()

    def _flush_sent(self) -> None:
        """Mark sent the rows whose requests the mail service took: one statement per claim
        rather than one per request, which on PostgreSQL halves the ledger's writes."""
        if self._sent:
            ids, self._sent = self._sent, []
            self._finish(ids, "sent")

    def _mailing(self, first: "_Claimed", topics: tuple[str, ...]) -> Mailing | None:
        """The content of `first`'s email (shared by its group), before recipients."""
        if first.kind == CONFIRMATION:
            return confirmation_mailing()
        if first.kind == BULLETIN:
            bulletin_id = int(first.period)
            if bulletin_id not in self._bulletins:
                bulletin = get_bulletin(self.session, bulletin_id)
                content = content_of(self.session, self.settings, self.taxonomy, bulletin)
                self._bulletins[bulletin_id] = bulletin_mailing(content)
            return self._bulletins[bulletin_id]
        digest = build_digest(
            self._digest_items(first.item_ids), topics, self.taxonomy, cap=self.cap
        )
        if digest.empty and first.item_ids:
            return None
        return digest_mailing(digest, heading=_heading(first.kind), kind=first.kind)

    def _digest_items(self, item_ids: list[int]) -> list[DigestItem]:
        missing = [item_id for item_id in item_ids if item_id not in self._items]
        for item in digest_items(self.session, missing) if missing else []:
            self._items[item.item_id] = item
        # An item deleted since planning is simply left out.
        return [self._items[item_id] for item_id in item_ids if item_id in self._items]

    # Sending --------------------------------------------------------------------------------

    def _deliver(self, mailing: Mailing, deliveries: list["_Claimed"]) -> None:
        ids = [d.id for d in deliveries]
        while True:
            try:
                if not self._hold(ids):
                    return  # another sender took these rows over
                self.transport.send(mailing, self.batch.send if self.batch else None)
            except Rejected as error:
                self._finish(ids, "failed", error=str(error))
                self.report.errors.append(f"{len(ids)} deliveries refused: {error}")
                for delivery in deliveries:
                    log.warning(
                        "delivery %d refused: %s", delivery.id, error, extra=_context(delivery)
                    )
                return
            except Throttled as error:
                self._wait_after_failure(error, error.retry_after)
            except Unavailable as error:
                if self.batch is not None:
                    # It may have been taken: cancel the batch, whose rows are then sent again.
                    self._withdraw(self.batch.send.id)
                    self._wait_after_failure(error)
                    return
                self._wait_after_failure(error)
            else:
                self.failures_in_a_row = 0
                # Marked once per claim (see _flush_sent): a sender that dies first leaves
                # these rows to recovery, which cancels their batch before sending again.
                self._sent.extend(ids)
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
            self._flush_sent()
            self._release_mine(f"{error} ({MAX_ATTEMPTS} failures in a row; a later run retries)")
            raise StopSending(f"mail service failing, run stopped: {error}")
        if retry_after is None:
            retry_after = RETRY_BASE_SECONDS * 2 ** (self.failures_in_a_row - 1)
        self.sleep(min(retry_after, RETRY_LONGEST_SECONDS))

    def _hold(self, ids: list[int]) -> bool:
        """Renew the lease on these rows and put them in the current batch, before a request:
        False when they are no longer this sender's."""
        now = self.clock()
        batch = self._current_batch(now)
        held = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(
                    among(self.session, _DELIVERIES.c.id, ids), _DELIVERIES.c.claim == self.claim
                )
                .values(claimed_until=now + self.lease, batch_id=batch.send.id if batch else None)
            ),
        ).rowcount
        self.session.commit()
        if held == len(ids):
            return True
        self._flush_sent()
        self._release_mine("taken over by another sender", ids)
        return False

    def _current_batch(self, now: datetime) -> "_OpenBatch | None":
        """The batch to send in: this sender's, while young and not cancelled, else a new one."""
        if self.batch is not None:
            # Not read back from the ledger before each request: had another sender cancelled
            # it, it would have taken these rows from this sender too (the hold then fails),
            # and rows sent in a cancelled batch are never marked sent (see _finish).
            if now < self.batch.opened_at + self.lease:
                return self.batch
            self.batch = None
        opened = self.transport.open_batch(now)
        if opened is None:
            return None
        self.session.execute(
            sa.insert(_BATCHES).values(
                id=opened.id,
                opened_at=now,
                send_at=opened.send_at,
                cancel_by=opened.cancel_by,
                claim=self.claim,
                status="open",
            )
        )
        self.session.commit()
        self.batch = _OpenBatch(opened, now)
        return self.batch

    def _finish(self, ids: list[int], status: str, error: str | None = None) -> None:
        """Settle rows this sender still holds. A row sent in a batch is only marked while the
        batch is open: once cancelled, its emails will not go out and it is sent again."""
        condition = sa.and_(
            among(self.session, _DELIVERIES.c.id, ids), _DELIVERIES.c.claim == self.claim
        )
        if status == "sent":
            open_batches = sa.select(_BATCHES.c.id).where(_BATCHES.c.status == "open")
            condition = sa.and_(
                condition,
                sa.or_(_DELIVERIES.c.batch_id.is_(None), _DELIVERIES.c.batch_id.in_(open_batches)),
            )
        settled = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(condition)
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

    def _release_mine(self, reason: str, ids: list[int] | None = None) -> None:
        """Hand rows this sender holds back to the ledger, for this or a later run."""
        condition = _DELIVERIES.c.claim == self.claim
        condition = sa.and_(condition, _DELIVERIES.c.status == "sending")
        if ids is not None:
            condition = sa.and_(condition, among(self.session, _DELIVERIES.c.id, ids))
        self.session.execute(
            sa.update(_DELIVERIES)
            .where(condition, _DELIVERIES.c.batch_id.is_(None))
            .values(status="planned", claim=None, claimed_until=None, error=reason)
        )
        # Rows whose last request went in a batch stay in doubt until the batch is cancelled.
        self.session.execute(
            sa.update(_DELIVERIES)
            .where(condition, _DELIVERIES.c.batch_id.is_not(None))
            .values(claimed_until=self.clock(), error=reason)
        )
        self.session.commit()

    def unsettled(self) -> int:
        """Rows in this run's scope still to send, by this sender or a later one."""
        return int(
            self.session.execute(
                sa.select(sa.func.count()).where(
                    *self.scope, _DELIVERIES.c.status.in_(["planned", "sending"])
                )
            ).scalar_one()
        )

    # Recovering -----------------------------------------------------------------------------

    def recover_abandoned_batches(self) -> None:
        """Cancel the batches of rows whose sender died mid-request, so they can be resent."""
        in_doubt = self.session.execute(
            sa.select(_DELIVERIES.c.batch_id)
            .where(
                *self.scope,
                _DELIVERIES.c.status == "sending",
                _DELIVERIES.c.claimed_until < self.clock(),
                _DELIVERIES.c.batch_id.is_not(None),
            )
            .distinct()
        ).scalars()
        for batch_id in list(in_doubt):
            self._withdraw(batch_id)

    def _withdraw(self, batch_id: str) -> None:
        """Cancel a batch at the mail service and send its rows again; when it can no longer be
        cancelled, its rows in doubt are marked failed rather than risk a second copy."""
        if self.batch is not None and self.batch.send.id == batch_id:
            self.batch = None  # this sender's next request goes in a new batch
        query = sa.select(_BATCHES.c.status).where(_BATCHES.c.id == batch_id)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()  # one sender settles a batch; the others wait
        status = self.session.execute(query).scalar()
        if status == "open":
            try:
                self.transport.cancel_batch(batch_id)
            except Rejected as error:
                self._give_up_on(batch_id, error)
                return
            except DeliveryError as error:
                self.session.rollback()
                raise StopSending(
                    f"SendGrid batch {batch_id} could not be cancelled ({error}); "
                    "its deliveries wait for a later run"
                ) from None
            self.session.execute(
                sa.update(_BATCHES).where(_BATCHES.c.id == batch_id).values(status="cancelled")
            )
        elif status == "uncancellable":
            self.session.commit()
            return
        mine_sent = self.session.execute(
            sa.select(sa.func.count()).where(
                _DELIVERIES.c.batch_id == batch_id,
                _DELIVERIES.c.status == "sent",
                _DELIVERIES.c.claim == self.claim,
            )
        ).scalar_one()
        self.session.execute(
            sa.update(_DELIVERIES)
            .where(
                _DELIVERIES.c.batch_id == batch_id,
                _DELIVERIES.c.status.in_(["sending", "sent"]),
            )
            .values(status="planned", batch_id=None, claim=None, claimed_until=None, sent_at=None)
        )
        self.session.commit()
        self.report.sent -= mine_sent

    def _give_up_on(self, batch_id: str, error: DeliveryError) -> None:
        reason = (
            f"in doubt: the sender stopped during its request and SendGrid batch {batch_id} "
            f"could no longer be cancelled ({error}); it may have been delivered, so it was "
            "not sent again"
        )
        self.session.execute(
            sa.update(_BATCHES).where(_BATCHES.c.id == batch_id).values(status="uncancellable")
        )
        failed = cast(
            sa.CursorResult[Any],
            self.session.execute(
                sa.update(_DELIVERIES)
                .where(_DELIVERIES.c.batch_id == batch_id, _DELIVERIES.c.status == "sending")
                .values(status="failed", error=reason, claimed_until=None)
            ),
        ).rowcount
        self.session.commit()
        self.report.failed += failed
        self.report.errors.append(reason)


@dataclass(frozen=True)
class _Claimed:
    """A ledger row this sender holds, as much of it as sending needs."""

    id: int
    member_id: int
    kind: str
    period: str
    content_key: str
    item_ids: list[int]


@dataclass(frozen=True)
class _OpenBatch:
    send: SendBatch
    opened_at: datetime


def _context(delivery: _Claimed) -> dict[str, object]:
    """A delivery's fields for structured logs: ids, never the address."""
    return {
        "delivery_id": delivery.id,
        "member_id": delivery.member_id,
        "kind": delivery.kind,
        "period": delivery.period,
    }


def _heading(kind: str) -> str:
    return HEADINGS[Frequency(kind.removeprefix("digest-"))]


def _recipient(settings: Settings, member: Subscriber, delivery: "_Claimed | None") -> Recipient:
    manage = member_link(settings, member, Purpose.MANAGE)
    return Recipient(
        member.email,
        member.name,
        manage,
        member_link(settings, member, Purpose.UNSUBSCRIBE),
        news_link(manage),
        key=str(delivery.id) if delivery else None,
    )


def run_digest(
    session: Session,
    transport: Transport,
    settings: Settings,
    taxonomy: Taxonomy,
    frequency: Frequency,
    now: datetime,
    *,
    progress: Progress | None = None,
) -> tuple[PlanReport, SendReport]:
    """A digest run: plan this period's digests, then send every one still to send."""
    empty_too = settings.send_empty_digests and frequency != Frequency.IMMEDIATE
    plan = plan_digests(
        session,
        frequency,
        now,
        include_empty=empty_too,
        repeat_bulletin_items=settings.repeat_bulletin_items_in_digests,
    )
    report = send_planned(
        session,
        transport,
        settings,
        taxonomy,
        kind=kind_of(frequency),
        period=period_of(frequency, now),
        clock=lambda: datetime.now(UTC),
        progress=progress,
    )
    return plan, report


def send_bulletin(
    session: Session,
    transport: Transport,
    settings: Settings,
    taxonomy: Taxonomy,
    bulletin_id: int,
    *,
    progress: Progress | None = None,
) -> SendReport:
    """Send a bulletin's planned deliveries (see bulletins.start_sending), then record it as
    sent once none is left. Run again after an outage, it sends only what is still to send."""
    report = send_planned(
        session,
        transport,
        settings,
        taxonomy,
        kind=BULLETIN,
        period=bulletin_period(bulletin_id),
        clock=lambda: datetime.now(UTC),
        progress=progress,
    )
    settle_bulletins(session, datetime.now(UTC))
    return report


def compose_for(
    settings: Settings,
    taxonomy: Taxonomy,
    member: Subscriber,
    frequency: Frequency,
    items: Sequence[DigestItem],
    *,
    cap: int = DEFAULT_CAP,
) -> Email | None:
    """This member's digest email from these items, or None when none is on their topics."""
    digest = build_digest(items, member.topics, taxonomy, cap=cap)
    if digest.empty:
        return None
    kind = kind_of(frequency)
    return digest_email(
        digest, _recipient(settings, member, None), heading=HEADINGS[frequency], kind=kind
    )


def preview(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    member: Subscriber,
    frequency: Frequency,
    now: datetime,
) -> tuple[Email | None, datetime]:
    """The digest this member would get if it ran now, and the start of its window."""
    start = _previous_window_ends(session, kind_of(frequency), member.id).get(
        member.id, member.joined
    )
    found = candidates(session, since=start, until=now, topics=member.topics)
    return compose_for(settings, taxonomy, member, frequency, found), start
