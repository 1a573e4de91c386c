"""Digest runs over the delivery ledger: plan (one row per member, written before anything is
sent), then claim, send and mark the rows, those with the same content together. Any process
may die at any line; a later run, or another worker, carries on, and no member gets the same
digest twice.

With SendGrid, each request goes in a batch of its own, scheduled a few minutes ahead, and its
rows are marked as soon as SendGrid answers. A documented answer settles the request: taken
(sent), refused (failed), or not taken (tried again). A request whose outcome is unknown (its
sender died, the connection was lost, an answer SendGrid does not document) is settled by
cancelling its batch and sending its rows again; until that can be done its rows are "in_doubt",
with the reason on each (see "Requests in doubt" below)."""

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
from alerter.db import among, insert_ignoring_duplicates, write_lock_busy
from alerter.deadline_alerts import (
    OUTCOME,
    REMINDER,
    outcome_mailing,
    plan_outcome_alerts,
    plan_reminders,
    reminder_mailing,
)
from alerter.delivery import (
    DeliveryError,
    Email,
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
from alerter.digest import DEFAULT_CAP, DigestItem, build_digest
from alerter.digests import candidates, digest_items, new_items, on_topics
from alerter.models import Delivery, MailBatch
from alerter.progress import Progress
from alerter.topics.taxonomy import Taxonomy
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
    taxonomy: Taxonomy,
    *,
    kind: str | None = None,
    period: str | None = None,
    clock: Clock,
    sleep: Sleep = time.sleep,
    cap: int = DEFAULT_CAP,
    progress: Progress | None = None,
    wait: bool = False,
    waiting: Callable[[Waiting], None] | None = None,
) -> SendReport:
    """Send every planned (or abandoned) delivery, of one kind and period or of all: rows with
    the same content go together, up to the transport's recipients per request. `progress` is
    told how many of those to send at the start are settled (sent, skipped or failed).

    With `wait`, rows another sender holds (a sender that died holds them until its lease
    lapses) and rows in doubt waiting for their batch to be cancelled are waited for and
    finished; `waiting` is told what is waited for, each time."""
    run = _SendRun(session, transport, settings, taxonomy, clock, sleep, cap, kind, period)
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
        self.scope = [_DELIVERIES.c.kind == kind] if kind else []
        if period:
            self.scope.append(_DELIVERIES.c.period == period)
        self._items: dict[int, DigestItem] = {}  # read once per run, shared by every content
        self._bulletins: dict[int, Mailing] = {}
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
                    _DELIVERIES.c.message_token,
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
            try:
                mailing = self._mailing(group[0][0], topics)
            except Exception as error:  # one content that cannot be built never stops the run
                self._cannot_build([d for d, _ in group], error)
                continue
            if mailing is None:  # every item it held has gone since planning
                self._finish([d.id for d, _ in group], "skipped")
                continue
            recipients, to = [], []
            for delivery, member in group:
                try:
                    recipients.append(self._personalization(delivery, member))
                    to.append(delivery)
                except Exception as error:  # nor does one member's
                    self._cannot_build([delivery], error)
            if to:
                self.report.emails_composed += 1
                self._deliver(mailing.with_recipients(tuple(recipients)), to)

    def _personalization(self, delivery: "_Claimed", member: Subscriber) -> Personalization:
        if delivery.kind == CONFIRMATION:
            return confirmation_recipient(
                self.settings, member, str(delivery.id), delivery.message_token
            )
        return personalization(_recipient(self.settings, member, delivery))

    def _cannot_build(self, deliveries: list["_Claimed"], error: Exception) -> None:
        """Fail these rows with the reason: building them again would fail again."""
        reason = f"the email could not be built: {type(error).__name__}: {error}"
        self._finish([d.id for d in deliveries], "failed", error=reason[:1000])
        self.report.errors.append(f"{len(deliveries)} deliveries failed: {reason[:300]}")
        for delivery in deliveries:
            log.error("delivery %d failed: %s", delivery.id, reason[:300], extra=_context(delivery))

    def _mailing(self, first: "_Claimed", topics: tuple[str, ...]) -> Mailing | None:
        """The content of `first`'s email (shared by its group), before recipients."""
        if first.kind == CONFIRMATION:
            return confirmation_mailing()
        if first.kind == REMINDER:
            return reminder_mailing(self.session, first.period, self.taxonomy, self.clock())
        if first.kind == OUTCOME:
            return outcome_mailing(self.session, first.period, self.taxonomy, self.clock())
        if first.kind == BULLETIN:
            bulletin_id = int(first.period)
            if bulletin_id not in self._bulletins:
                bulletin = get_bulletin(self.session, bulletin_id)
                content = content_of(self.session, self.settings, self.taxonomy, bulletin)
                self._bulletins[bulletin_id] = bulletin_mailing(content)
            return self._bulletins[bulletin_id]
        digest = build_digest(
            self._digest_items(first.item_ids),
            topics,
            self.taxonomy,
            now=self.clock(),
            cap=self.cap,
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


@dataclass(frozen=True)
class _Claimed:
    """A ledger row this sender holds, as much of it as sending needs."""

    id: int
    member_id: int
    kind: str
    period: str
    content_key: str
    item_ids: list[int]
    message_token: str


@dataclass
class _OpenBatch:
    send: SendBatch
    opened_at: datetime
    recorded: bool = False  # written to the ledger's mail_batch table


def _hhmm(moment: datetime) -> str:
    return f"{moment:%H:%M:%S} UTC"


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
        message_token=delivery.message_token if delivery else None,
        unsubscribe_mailto=settings.unsubscribe_mailto,
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
    wait: bool = False,
    waiting: Callable[[Waiting], None] | None = None,
) -> tuple[PlanReport, SendReport]:
    """A digest run: plan this period's digests, then send every one still to send (with
    `wait`, also those another sender holds, once its lease lapses: see send_planned)."""
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
        wait=wait,
        waiting=waiting,
    )
    return plan, report


@dataclass(frozen=True)
class DeadlineAlertsReport:
    reminders: int  # rows offered to the ledger (those already there are kept once)
    outcomes: int
    sent: SendReport


def run_deadline_alerts(
    session: Session,
    transport: Transport,
    settings: Settings,
    taxonomy: Taxonomy,
    now: datetime,
    *,
    clock: Clock,
) -> DeadlineAlertsReport:
    """Plan the deadline reminders due now and the outcome alerts newly due, then send them
    (and anything else still to send, as the dispatcher would). Running it again the same day
    sends nothing more."""
    reminders = plan_reminders(session, now)
    outcomes = plan_outcome_alerts(session, now)
    sent = send_planned(session, transport, settings, taxonomy, clock=clock)
    return DeadlineAlertsReport(reminders, outcomes, sent)


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
    now: datetime,
    cap: int = DEFAULT_CAP,
) -> Email | None:
    """This member's digest email from these items, or None when none is on their topics."""
    digest = build_digest(items, member.topics, taxonomy, now=now, cap=cap)
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
    return compose_for(settings, taxonomy, member, frequency, found, now=now), start
