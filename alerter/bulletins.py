"""Staff bulletins: drafts, their audience, the one press of send that plans their deliveries,
sending them over the delivery ledger, and the record of what happened."""

import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.config import Settings
from alerter.delivery import Mailing, Transport, single
from alerter.delivery.compose.bulletins import (
    BULLETIN,
    BulletinContent,
    bulletin_mailing,
    sample_email,
)
from alerter.delivery.message import to_mime
from alerter.digests.candidates import digest_items
from alerter.ledger.planning import Planned, plan
from alerter.ledger.sender import Claimed, EmailBuilder, SendReport, send_planned
from alerter.member_emails import member_emails
from alerter.models import Bulletin, Delivery, Item, MailBatch
from alerter.progress import Progress
from alerter.topics.taxonomy import Taxonomy
from subscriptions.members import Audience, Subscriber, audience

KIND = BULLETIN
MAX_ITEMS = 20
MAX_SUBJECT = 200
# The same subject and message are not sent again within this time unless staff insist: what
# a command run twice, or a second tab, would otherwise do.
REPEAT_GUARD = timedelta(hours=24)
_BULLETINS: sa.Table = Bulletin.__table__  # type: ignore[attr-defined]
_DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]


class BulletinError(ValueError):
    """A bulletin that cannot be saved or sent as asked; the message says why."""


class AlreadySent(BulletinError):
    """Send was pressed for a bulletin already sent: a second press, a reload, a colleague."""


class RepeatRefused(BulletinError):
    """The same subject and message went out within REPEAT_GUARD; sending it once more needs
    `again`."""

    def __init__(self, earlier: Bulletin) -> None:
        assert earlier.sent_at is not None
        super().__init__(
            f"bulletin {earlier.id} with this subject and message was sent at "
            f"{earlier.sent_at:%H:%M on %d %B} (UTC)"
        )
        self.earlier = earlier


@dataclass(frozen=True)
class BulletinDraft:
    subject: str
    introduction: str
    item_ids: tuple[int, ...] = ()
    topic_ids: tuple[str, ...] = ()
    everyone: bool = False


def check_draft(session: Session, taxonomy: Taxonomy, draft: BulletinDraft) -> None:
    """Refuse a draft that could not be sent: BulletinError naming what to fix."""
    check_subject(draft.subject)
    if not draft.introduction.strip() and not draft.item_ids:
        raise BulletinError("write an introduction or include at least one item")
    if not draft.everyone and not draft.topic_ids:
        raise BulletinError("choose the topics whose followers get it, or all members")
    unknown = sorted(set(draft.topic_ids) - set(taxonomy.ids))
    if unknown:
        raise BulletinError(f"unknown topic: {', '.join(unknown)}")
    if len(draft.item_ids) > MAX_ITEMS:
        raise BulletinError(f"a bulletin carries at most {MAX_ITEMS} items")
    found = set(session.exec(select(Item.id).where(col(Item.id).in_(draft.item_ids))))
    missing = [str(item_id) for item_id in draft.item_ids if item_id not in found]
    if missing:
        raise BulletinError(f"no stored item with id {', '.join(missing)}")


def check_subject(subject: str) -> None:
    """Refuse a subject an email header cannot carry: BulletinError naming what to fix."""
    if not subject.strip():
        raise BulletinError("a bulletin needs a subject")
    if len(subject) > MAX_SUBJECT:
        raise BulletinError(f"the subject is longer than {MAX_SUBJECT} characters")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in subject):
        raise BulletinError(
            "the subject must be one line of text, without line breaks, tabs or other "
            "control characters"
        )


def save_draft(
    session: Session,
    taxonomy: Taxonomy,
    draft: BulletinDraft,
    *,
    by: str,
    now: datetime,
    bulletin_id: int | None = None,
) -> Bulletin:
    """A new draft, or the changed draft `bulletin_id`; a bulletin being sent or sent is final."""
    check_draft(session, taxonomy, draft)
    fields: dict[str, Any] = {
        "subject": draft.subject.strip(),
        "introduction": draft.introduction.strip(),
        "item_ids": list(dict.fromkeys(draft.item_ids)),
        "topic_ids": [] if draft.everyone else sorted(set(draft.topic_ids)),
        "everyone": draft.everyone,
        "updated_at": now,
    }
    if bulletin_id is None:
        bulletin = Bulletin(**fields, composed_by=by, created_at=now)
        session.add(bulletin)
        session.commit()
        return bulletin
    changed = cast(
        sa.CursorResult[Any],
        session.execute(
            sa.update(_BULLETINS)
            .where(_BULLETINS.c.id == bulletin_id, _BULLETINS.c.status == "draft")
            .values(**fields)
        ),
    ).rowcount
    session.commit()
    if not changed:
        raise BulletinError("this bulletin has been sent; it can no longer be changed")
    return get_bulletin(session, bulletin_id)


def get_bulletin(session: Session, bulletin_id: int) -> Bulletin:
    bulletin = session.exec(
        select(Bulletin).where(Bulletin.id == bulletin_id).execution_options(populate_existing=True)
    ).one_or_none()
    if bulletin is None:
        raise BulletinError(f"there is no bulletin {bulletin_id}")
    return bulletin


def list_bulletins(session: Session, *, sent_only: bool = False) -> list[Bulletin]:
    """Newest first; with `sent_only`, those members have been sent (the public archive)."""
    query = select(Bulletin)
    if sent_only:
        query = query.where(col(Bulletin.status).in_(["sending", "sent"]))
    return list(session.exec(query.order_by(col(Bulletin.id).desc())))


def audience_of(session: Session, bulletin: Bulletin | BulletinDraft) -> Audience:
    return audience(session, None if bulletin.everyone else list(bulletin.topic_ids))


def audience_words(bulletin: Bulletin, taxonomy: Taxonomy) -> str:
    """Who the bulletin is for, as its email says it."""
    if bulletin.everyone:
        return "every member subscribed to alerts"
    labels = [topic.label for topic in taxonomy.topics if topic.id in bulletin.topic_ids]
    return "members following " + _and_list(labels)


def _and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def archive_url(settings: Settings, bulletin_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/bulletins/{bulletin_id}"


def content_of(
    session: Session, settings: Settings, taxonomy: Taxonomy, bulletin: Bulletin
) -> BulletinContent:
    """The bulletin as its email and archive page show it, items in the order chosen."""
    assert bulletin.id is not None
    by_id = {item.item_id: item for item in digest_items(session, bulletin.item_ids)}
    return BulletinContent(
        subject=bulletin.subject,
        introduction=bulletin.introduction,
        items=tuple(by_id[i] for i in bulletin.item_ids if i in by_id),
        audience=audience_words(bulletin, taxonomy),
        archive_url=archive_url(settings, bulletin.id),
    )


def period_of(bulletin_id: int) -> str:
    """The ledger's period for a bulletin: each bulletin is sent once per member."""
    return str(bulletin_id)


def start_sending(
    session: Session,
    settings: Settings,
    taxonomy: Taxonomy,
    bulletin_id: int,
    *,
    by: str,
    now: datetime,
    again: bool = False,
) -> int:
    """The one press of send that counts: turns the draft final and writes a ledger row for
    each member of its audience, in one transaction. Returns the audience size. Nothing changes
    when it cannot start: AlreadySent (a second press, a reload, or a colleague first),
    RepeatRefused (the same bulletin went out within REPEAT_GUARD, and not `again`), or
    BulletinError (no one to send to, or an email that cannot be composed), each saying why."""
    bulletin = get_bulletin(session, bulletin_id)
    if bulletin.status != "draft":
        session.rollback()
        raise AlreadySent(f"bulletin {bulletin_id} has already been sent")
    try:
        check_sendable(session, settings, taxonomy, bulletin)
        if not again:
            check_not_repeated(session, bulletin, now)
    except BulletinError:
        session.rollback()
        raise
    members = audience_of(session, bulletin).member_ids
    if not members:
        session.rollback()
        raise BulletinError("no active member is in this bulletin's audience")
    taken = cast(
        sa.CursorResult[Any],
        session.execute(
            sa.update(_BULLETINS)
            .where(_BULLETINS.c.id == bulletin_id, _BULLETINS.c.status == "draft")
            .values(status="sending", sent_by=by, sent_at=now, audience_size=len(members))
        ),
    ).rowcount
    if taken != 1:  # another press won between reading and writing
        session.rollback()
        raise AlreadySent(f"bulletin {bulletin_id} has already been sent")
    period, key = period_of(bulletin_id), f"bulletin-{bulletin_id}"
    rows = [Planned(member_id, KIND, period, key, bulletin.item_ids) for member_id in members]
    plan(session, rows, now)
    session.commit()
    return len(members)


@dataclass(frozen=True)
class BulletinResults:
    planned: int  # ledger rows written when send was pressed
    to_send: int  # not yet settled: waiting, or being sent
    sent: int
    failed: int
    skipped: int  # unsubscribed or suppressed between the press and their turn
    errors: tuple[str, ...]  # the mail service's reasons for failures
    in_doubt: int = 0  # may have been delivered; the Deliveries page says why
    # When SendGrid hands the last of them to inboxes: it holds each batch for a few minutes,
    # the window in which a request whose answer was lost can still be cancelled.
    delivered_by: datetime | None = None


def results(session: Session, bulletin_id: int) -> BulletinResults:
    ours = sa.and_(_DELIVERIES.c.kind == KIND, _DELIVERIES.c.period == period_of(bulletin_id))
    rows = session.exec(select(Delivery.status, Delivery.error).where(ours)).all()
    counts = Counter(status for status, _ in rows)
    errors = tuple(dict.fromkeys(e for status, e in rows if status == "failed" and e))
    delivered_by = session.exec(
        select(sa.func.max(MailBatch.send_at))
        .join(Delivery, col(Delivery.batch_id) == MailBatch.id)
        .where(ours, Delivery.status == "sent")
    ).one()
    return BulletinResults(
        planned=len(rows),
        to_send=counts["planned"] + counts["sending"],
        sent=counts["sent"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        errors=errors,
        in_doubt=counts["in_doubt"],
        delivered_by=delivered_by,
    )


def settle_bulletins(session: Session, now: datetime) -> list[int]:
    """Mark sent every bulletin being sent whose deliveries are all settled (none in doubt
    either); their ids."""
    unsettled = (
        sa.select(_DELIVERIES.c.id)
        .where(
            _DELIVERIES.c.kind == KIND,
            _DELIVERIES.c.period == sa.cast(_BULLETINS.c.id, sa.String),
            _DELIVERIES.c.status.in_(["planned", "sending", "in_doubt"]),
        )
        .exists()
    )
    done = list(
        session.execute(
            sa.update(_BULLETINS)
            .where(_BULLETINS.c.status == "sending", ~unsettled)
            .values(status="sent", finished_at=now)
            .returning(_BULLETINS.c.id)
        ).scalars()
    )
    session.commit()
    return done


def check_sendable(
    session: Session, settings: Settings, taxonomy: Taxonomy, bulletin: Bulletin
) -> None:
    """Refuse a bulletin whose email cannot be composed (a draft saved before a rule existed,
    items too long for one email): BulletinError saying why, before anything is planned."""
    check_subject(bulletin.subject)
    try:
        email = sample_email(settings, content_of(session, settings, taxonomy, bulletin), "x@y.z")
        to_mime(email, settings.mail_from)
    except ValueError as error:
        raise BulletinError(f"the email cannot be composed: {error}") from None


def repeat_of(session: Session, draft: Bulletin | BulletinDraft, now: datetime) -> Bulletin | None:
    """A bulletin with the same subject and introduction sent within REPEAT_GUARD."""
    return session.exec(
        select(Bulletin)
        .where(
            col(Bulletin.status).in_(["sending", "sent"]),
            Bulletin.subject == draft.subject.strip(),
            Bulletin.introduction == draft.introduction.strip(),
            col(Bulletin.sent_at) >= now - REPEAT_GUARD,
        )
        # start_sending writes with plain updates: never the session's stale copy.
        .execution_options(populate_existing=True)
    ).first()


def check_not_repeated(session: Session, draft: Bulletin | BulletinDraft, now: datetime) -> None:
    """RepeatRefused if the same bulletin went out within REPEAT_GUARD."""
    earlier = repeat_of(session, draft, now)
    if earlier is not None:
        raise RepeatRefused(earlier)


def check_before_sending(
    session: Session, taxonomy: Taxonomy, draft: BulletinDraft, now: datetime, *, again: bool
) -> None:
    """What a draft must pass before anyone is asked to confirm sending it: BulletinError naming
    what to fix, or RepeatRefused when the same bulletin went out within REPEAT_GUARD and not
    `again`."""
    check_draft(session, taxonomy, draft)
    if not again:
        check_not_repeated(session, draft, now)


def send_test(transport: Transport, settings: Settings, content: BulletinContent, to: str) -> None:
    """A copy for staff to check in their own inbox, marked as a test; no ledger row."""
    email = sample_email(settings, replace(content, subject=f"[Test] {content.subject}"), to)
    transport.send(single(replace(email, kind="bulletin-test")))


def bulletin_emails(session: Session, settings: Settings, taxonomy: Taxonomy) -> EmailBuilder:
    """The ledger's bulletin emails, for one sender's run: one content per bulletin, the same
    for its whole audience, composed once."""
    composed: dict[int, Mailing] = {}

    def mailing(first: Claimed, _member: Subscriber) -> Mailing:
        bulletin_id = int(first.period)
        if bulletin_id not in composed:
            bulletin = get_bulletin(session, bulletin_id)
            composed[bulletin_id] = bulletin_mailing(
                content_of(session, settings, taxonomy, bulletin)
            )
        return composed[bulletin_id]

    return member_emails(session, settings, content=lambda row, _: row.content_key, mailing=mailing)


def send_bulletin(
    session: Session,
    transport: Transport,
    settings: Settings,
    taxonomy: Taxonomy,
    bulletin_id: int,
    *,
    progress: Progress | None = None,
) -> SendReport:
    """Send a bulletin's planned deliveries (see start_sending), then record it as sent once
    none is left. Run again after an outage, it sends only what is still to send."""
    report = send_planned(
        session,
        transport,
        settings,
        bulletin_emails(session, settings, taxonomy),
        kind=KIND,
        period=period_of(bulletin_id),
        clock=lambda: datetime.now(UTC),
        progress=progress,
    )
    settle_bulletins(session, datetime.now(UTC))
    return report
