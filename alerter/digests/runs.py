"""Digest runs over the delivery ledger: plan (one row per member, written before anything is
sent: the items first stored since their previous digest), then send, each distinct digest's
email built once for every member it goes to. And the preview: the digest a member would get
if it ran now."""

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerter.config import Settings
from alerter.delivery import Email, Mailing, Transport
from alerter.delivery.compose.bulletins import BULLETIN
from alerter.delivery.compose.digests import HEADINGS, digest_email, digest_mailing
from alerter.delivery.compose.recipients import member_recipient
from alerter.digests.candidates import candidates, digest_items, new_items, on_topics
from alerter.digests.selection import DEFAULT_CAP, DigestItem, build_digest
from alerter.ledger.planning import Planned, items_sent, plan, planned_members, window_ends
from alerter.ledger.sender import (
    Claimed,
    Clock,
    EmailBuilder,
    SendReport,
    Waiting,
    send_planned,
)
from alerter.member_emails import member_emails
from alerter.progress import Progress
from alerter.topics.taxonomy import Taxonomy
from subscriptions.members import Subscriber, subscribers
from subscriptions.models import Frequency

LONDON = ZoneInfo("Europe/London")


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
    planned = planned_members(session, kind, period)
    previous_end = window_ends(session, kind)
    # Members with the same window and topics get the same items: look them up once.
    groups: defaultdict[tuple[datetime, tuple[str, ...]], list[Subscriber]] = defaultdict(list)
    for member in members:
        if member.id in planned:
            report.already_planned += 1
            continue
        start = previous_end.get(member.id, member.joined)
        groups[(start, tuple(sorted(member.topics)))].append(member)
    rows: list[Planned] = []
    # Every group's items come from one read of what is new since the earliest window began.
    earliest = min((start for start, _ in groups), default=now)
    news = new_items(session, since=earliest, until=now) if groups else []
    bulletined = {} if repeat_bulletin_items else items_sent(session, [BULLETIN], since=earliest)
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
            key = group_key if item_ids is found else _content_key(kind, topics, item_ids)
            rows.append(Planned(member.id, kind, period, key, item_ids, start, now))
    report.planned = len(rows)
    if rows and not dry_run:
        plan(session, rows, now)
        session.commit()
    return report


def _content_key(kind: str, topics: Sequence[str], item_ids: Sequence[int]) -> str:
    """Rows planned with the same kind, topics and items get the same email."""
    payload = json.dumps([kind, sorted(topics), list(item_ids)])
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _heading(kind: str) -> str:
    return HEADINGS[Frequency(kind.removeprefix("digest-"))]


def digest_emails(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    *,
    clock: Clock,
    cap: int = DEFAULT_CAP,
) -> EmailBuilder:
    """The ledger's digest emails, for one sender's run: a digest follows its member's topics
    as they are now, so a member whose topics changed since planning gets their own; items
    deleted since planning are left out, and a digest left with none is skipped."""
    known: dict[int, DigestItem] = {}  # read once per run, shared by every content

    def items_of(item_ids: list[int]) -> list[DigestItem]:
        missing = [item_id for item_id in item_ids if item_id not in known]
        for item in digest_items(session, missing) if missing else []:
            known[item.item_id] = item
        return [known[item_id] for item_id in item_ids if item_id in known]

    def mailing(first: Claimed, member: Subscriber) -> Mailing | None:
        digest = build_digest(
            items_of(first.item_ids), member.topics, taxonomy, now=clock(), cap=cap
        )
        if digest.empty and first.item_ids:
            return None
        return digest_mailing(digest, heading=_heading(first.kind), kind=first.kind)

    return member_emails(
        session,
        settings,
        content=lambda row, member: (row.content_key, member.topics),
        mailing=mailing,
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
    planned = plan_digests(
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
        digest_emails(session, settings, taxonomy, clock=_utc_now),
        kind=kind_of(frequency),
        period=period_of(frequency, now),
        clock=_utc_now,
        progress=progress,
        wait=wait,
        waiting=waiting,
    )
    return planned, report


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
    recipient = member_recipient(settings, member)
    return digest_email(digest, recipient, heading=HEADINGS[frequency], kind=kind_of(frequency))


def preview(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    member: Subscriber,
    frequency: Frequency,
    now: datetime,
) -> tuple[Email | None, datetime]:
    """The digest this member would get if it ran now, and the start of its window."""
    start = window_ends(session, kind_of(frequency), member.id).get(member.id, member.joined)
    found = candidates(session, since=start, until=now, topics=member.topics)
    return compose_for(settings, taxonomy, member, frequency, found, now=now), start
