"""Members and their choices: sign-up, confirmation, preferences, unsubscribing, erasure.

Functions take a session and change rows; they never send mail. Callers (the web pages, the
command line) send what the result asks for, through alerter's delivery layer."""

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import EMAIL_MAX_LENGTH
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, delete, select

from alerter.db import among
from subscriptions.models import ConsentEvent, Frequency, Member, MemberStatus, MemberTopic

_MEMBERS: sa.Table = Member.__table__  # type: ignore[attr-defined]
_MEMBER_TOPICS: sa.Table = MemberTopic.__table__  # type: ignore[attr-defined]
_CONSENT_EVENTS: sa.Table = ConsentEvent.__table__  # type: ignore[attr-defined]


class InvalidEmail(ValueError):
    pass


class InvalidChoice(ValueError):
    """An unknown topic or frequency."""


# An address of the usual shape: ASCII letters, digits and a few signs in dot-separated runs
# before the @ (each a valid local part as it is), a plain domain after it.
_USUAL_ADDRESS = re.compile(r"([A-Za-z0-9_%+'-]+(?:\.[A-Za-z0-9_%+'-]+)*)@([A-Za-z0-9.-]+)")


def normalise_email(raw: str) -> str:
    """The address in the form alerter stores and compares: checked, lower-cased."""
    address = raw.strip()
    usual = _USUAL_ADDRESS.fullmatch(address)
    domain = _checked_domain(usual[2]) if usual else None
    if usual and domain:
        # What email_validator would answer, without checking the same domain again: an
        # import names a few domains thousands of times, and the domain is most of the work.
        forms = (address, f"{usual[1]}@{domain[0]}", f"{usual[1]}@{domain[1]}")
        if all(len(form.encode()) <= EMAIL_MAX_LENGTH for form in forms):
            return forms[1].lower()
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmail(f"not a valid email address: {address!r} ({error})") from None
    return checked.normalized.lower()


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    """The domain as email_validator normalises it and in its ASCII form, or None if invalid."""
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def email_hash(email: str) -> str:
    """What remains of an address after erasure: enough to recognise it, not to read it."""
    return hashlib.sha256(email.encode()).hexdigest()


def check_choices(
    topics: Iterable[str], frequency: str, known_topics: Sequence[str]
) -> tuple[list[str], Frequency]:
    """Topics in taxonomy order and the frequency, or InvalidChoice naming what is wrong."""
    chosen = set(topics)
    unknown = sorted(chosen - set(known_topics))
    if unknown:
        raise InvalidChoice(f"unknown topic {', '.join(unknown)}")
    try:
        return [t for t in known_topics if t in chosen], Frequency(frequency)
    except ValueError:
        raise InvalidChoice(
            f"unknown frequency {frequency!r}: use {', '.join(f.value for f in Frequency)}"
        ) from None


def find_member(session: Session, email: str) -> Member | None:
    return session.exec(select(Member).where(Member.email == email)).one_or_none()


def is_erased(session: Session, email: str) -> bool:
    """Whether this address belonged to a member who asked to be erased."""
    return (
        session.exec(
            select(Member.id).where(
                Member.email_hash == email_hash(email), Member.status == MemberStatus.ERASED
            )
        ).first()
        is not None
    )


def topics_of(session: Session, member_id: int) -> list[str]:
    return list(
        session.exec(
            select(MemberTopic.topic_id)
            .where(MemberTopic.member_id == member_id)
            .order_by(col(MemberTopic.id))
        )
    )


def topics_by_member(session: Session, member_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each of these members' topics, as `topics_of` gives one member's, in a query per
    thousand members. A member following nothing is absent."""
    topics: dict[int, list[str]] = {}
    for start in range(0, len(member_ids), 1000):
        for member_id, topic_id in session.exec(
            select(MemberTopic.member_id, MemberTopic.topic_id)
            .where(among(session, col(MemberTopic.member_id), member_ids[start : start + 1000]))
            .order_by(col(MemberTopic.id))
        ):
            topics.setdefault(member_id, []).append(topic_id)
    return topics


def set_topics(session: Session, member: Member, topics: Sequence[str]) -> None:
    """Replace the member's topics. The member's row is locked first, so two saves at once (a
    double click, two tabs) take turns instead of both inserting the same topics."""
    assert member.id is not None
    session.execute(sa.select(_MEMBERS.c.id).where(_MEMBERS.c.id == member.id).with_for_update())
    session.exec(delete(MemberTopic).where(col(MemberTopic.member_id) == member.id))
    session.add_all(MemberTopic(member_id=member.id, topic_id=topic) for topic in topics)


def log_consent(
    session: Session, member: Member, action: str, method: str, now: datetime, detail: str = ""
) -> None:
    assert member.id is not None
    session.add(
        ConsentEvent(member_id=member.id, at=now, action=action, method=method, detail=detail)
    )


def choices_detail(topics: Sequence[str], frequency: str) -> str:
    """How the consent log records what a member chose."""
    return f"topics: {', '.join(topics) or 'none'}; frequency: {frequency}"


def create_member(
    session: Session,
    email: str,
    *,
    name: str,
    organisation: str,
    topics: Sequence[str],
    frequency: Frequency,
    active: bool,
    action: str,
    method: str,
    now: datetime,
) -> Member:
    """A new member row with their topics and the consent-log entry saying how it came about;
    active at once only when consent is already confirmed, otherwise pending."""
    member = Member(
        email=email,
        email_hash=email_hash(email),
        name=name,
        organisation=organisation,
        frequency=frequency,
        status=MemberStatus.ACTIVE if active else MemberStatus.PENDING,
        created_at=now,
        confirmed_at=now if active else None,
        status_changed_at=now,
    )
    session.add(member)
    session.flush()
    set_topics(session, member, topics)
    log_consent(session, member, action, method, now, choices_detail(topics, frequency))
    return member


@dataclass(frozen=True)
class NewMember:
    """One of many members created at once (an import)."""

    email: str
    name: str
    organisation: str
    topics: Sequence[str]
    frequency: Frequency


def create_members(
    session: Session,
    new: Sequence[NewMember],
    *,
    active: bool,
    action: str,
    method: str,
    now: datetime,
) -> dict[str, int]:
    """Many new members, each as `create_member` makes one, in a few statements per thousand
    rather than several per member. Their ids, by address."""
    ids: dict[str, int] = {}
    status = MemberStatus.ACTIVE if active else MemberStatus.PENDING
    for start in range(0, len(new), 1000):
        chunk = new[start : start + 1000]
        rows = [
            {
                "email": member.email,
                "email_hash": email_hash(member.email),
                "name": member.name,
                "organisation": member.organisation,
                "frequency": member.frequency,
                "status": status,
                "created_at": now,
                "confirmed_at": now if active else None,
                "status_changed_at": now,
            }
            for member in chunk
        ]
        chunk_ids = _insert_members(session, rows)
        ids |= chunk_ids
        _insert_many(
            session,
            _MEMBER_TOPICS,
            [
                {"member_id": chunk_ids[m.email], "topic_id": topic}
                for m in chunk
                for topic in m.topics
            ],
        )
        _insert_many(
            session,
            _CONSENT_EVENTS,
            [
                {
                    "member_id": chunk_ids[m.email],
                    "at": now,
                    "action": action,
                    "method": method,
                    "detail": choices_detail(m.topics, m.frequency),
                }
                for m in chunk
            ],
        )
    return ids


def _insert_members(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """New member rows; their ids by address. On PostgreSQL the ids are taken from the table's
    sequence first, so the rows can go in by COPY like the rest (see `_insert_many`)."""
    if session.get_bind().dialect.name != "postgresql":
        inserted = session.execute(
            sa.insert(_MEMBERS).returning(_MEMBERS.c.id, _MEMBERS.c.email), rows
        )
        return {email: member_id for member_id, email in inserted}
    reserved = session.execute(
        sa.text(
            "SELECT nextval(pg_get_serial_sequence('member', 'id')) FROM generate_series(1, :n)"
        ),
        {"n": len(rows)},
    ).scalars()
    for row, member_id in zip(rows, reserved, strict=True):
        row["id"] = member_id
    _insert_many(session, _MEMBERS, rows)
    return {row["email"]: row["id"] for row in rows}


def _insert_many(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Rows (each with the same keys) into a table. On PostgreSQL by COPY: psycopg sends an
    executemany's rows one statement each, or parses a thousand rows' placeholders in every
    multi-row INSERT, which was most of a large import's time there. Each value goes through
    its column type's own conversion, as in an INSERT."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(table), rows)
        return
    dialect = session.get_bind().dialect
    columns = list(rows[0])
    convert = [table.c[name].type.bind_processor(dialect) for name in columns]
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    quoted_table = dialect.identifier_preparer.format_table(table)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {quoted_table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    value if process is None else process(value)
                    for process, value in zip(convert, [row[name] for name in columns], strict=True)
                ]
            )


@dataclass(frozen=True)
class MemberChange:
    """New details for one of many members changed at once (an import updating them)."""

    member_id: int
    name: str
    organisation: str
    frequency: Frequency
    topics: Sequence[str]
    topics_changed: bool  # False: their topic rows stay as they are


def update_members(
    session: Session, changes: Sequence[MemberChange], *, action: str, method: str, now: datetime
) -> None:
    """Many members' new details, each as `update_preferences` saves one member's (the row
    locked, topics replaced, a consent-log entry), in a few statements per thousand members."""
    for start in range(0, len(changes), 1000):
        chunk = changes[start : start + 1000]
        ids = [change.member_id for change in chunk]
        session.execute(
            sa.select(_MEMBERS.c.id).where(among(session, _MEMBERS.c.id, ids)).with_for_update()
        )
        session.execute(
            sa.update(_MEMBERS).where(_MEMBERS.c.id == sa.bindparam("member_id")),
            [
                {
                    "member_id": change.member_id,
                    "name": change.name,
                    "organisation": change.organisation,
                    "frequency": change.frequency,
                }
                for change in chunk
            ],
        )
        retopiced = [change for change in chunk if change.topics_changed]
        if retopiced:
            session.execute(
                sa.delete(_MEMBER_TOPICS).where(
                    among(session, _MEMBER_TOPICS.c.member_id, [c.member_id for c in retopiced])
                )
            )
            topics = [
                {"member_id": change.member_id, "topic_id": topic}
                for change in retopiced
                for topic in change.topics
            ]
            _insert_many(session, _MEMBER_TOPICS, topics)
        _insert_many(
            session,
            _CONSENT_EVENTS,
            [
                {
                    "member_id": change.member_id,
                    "at": now,
                    "action": action,
                    "method": method,
                    "detail": choices_detail(change.topics, change.frequency),
                }
                for change in chunk
            ],
        )
        # Member objects this session already holds are read again when next used.
        for member_id in ids:
            held = session.identity_map.get(identity_key(Member, member_id))
            if held is not None:
                session.expire(held)


def _set_status(member: Member, status: MemberStatus, now: datetime) -> None:
    member.status = status
    member.status_changed_at = now


@dataclass(frozen=True)
class SignupResult:
    member: Member
    # What to email: "confirm" (a confirmation link), "manage" (already subscribed: their
    # manage link), or None (nothing may be sent: the address is suppressed).
    send: str | None


def sign_up(
    session: Session,
    email: str,
    *,
    name: str,
    organisation: str,
    topics: Sequence[str],
    frequency: Frequency,
    now: datetime,
) -> SignupResult:
    """Self-signup with double opt-in. The caller shows the same page whatever happens, so the
    response never reveals whether the address was known."""
    member = find_member(session, email)
    if member is None:
        member = create_member(
            session,
            email,
            name=name,
            organisation=organisation,
            topics=topics,
            frequency=frequency,
            active=False,
            action="signup",
            method="self-signup form",
            now=now,
        )
        return SignupResult(member, "confirm")
    if member.status == MemberStatus.ACTIVE:
        return SignupResult(member, "manage")
    elif member.status == MemberStatus.SUPPRESSED:
        return SignupResult(member, None)
    else:  # pending, or unsubscribed and signing up again
        member.name, member.organisation, member.frequency = name, organisation, frequency
        _set_status(member, MemberStatus.PENDING, now)
    set_topics(session, member, topics)
    log_consent(
        session, member, "signup", "self-signup form", now, choices_detail(topics, frequency)
    )
    return SignupResult(member, "confirm")


def confirm(session: Session, member: Member, now: datetime) -> bool:
    """Follow a confirmation link: a pending member becomes active. False if nothing changed."""
    if member.status != MemberStatus.PENDING:
        return False
    _set_status(member, MemberStatus.ACTIVE, now)
    member.confirmed_at = now
    log_consent(session, member, "confirm", "confirmation link", now)
    return True


def update_preferences(
    session: Session,
    member: Member,
    topics: Sequence[str],
    frequency: Frequency,
    now: datetime,
    *,
    deadline_reminders: bool | None = None,
) -> None:
    """The member's new choices; `deadline_reminders` None leaves that one as it is."""
    set_topics(session, member, topics)
    member.frequency = frequency
    if deadline_reminders is not None:
        member.deadline_reminders = deadline_reminders
    detail = choices_detail(topics, frequency)
    if member.deadline_reminders:
        detail += "; deadline reminders"
    log_consent(session, member, "preferences", "manage page", now, detail)


def renew_calendar_link(session: Session, member: Member) -> None:
    """Revoke the member's calendar link (a new one replaces it): someone else may have it."""
    member.calendar_version += 1
    session.add(member)


def unsubscribe(session: Session, member: Member, method: str, now: datetime) -> bool:
    """Stop all mail to the member. False if they were not receiving any."""
    if member.status in (MemberStatus.UNSUBSCRIBED, MemberStatus.ERASED):
        return False
    _set_status(member, MemberStatus.UNSUBSCRIBED, now)
    log_consent(session, member, "unsubscribe", method, now)
    return True


def suppress(session: Session, member: Member, reason: str, now: datetime) -> None:
    """The address bounced or complained: nothing more is sent to it."""
    if member.status in (MemberStatus.SUPPRESSED, MemberStatus.ERASED):
        return
    _set_status(member, MemberStatus.SUPPRESSED, now)
    log_consent(session, member, "suppress", reason, now)


def erase(session: Session, member: Member, requested_by: str, now: datetime) -> None:
    """Right to erasure: personal data goes, an anonymous tombstone stays."""
    assert member.id is not None
    member.email = None
    member.name = ""
    member.organisation = ""
    _set_status(member, MemberStatus.ERASED, now)
    set_topics(session, member, [])
    for event in session.exec(select(ConsentEvent).where(ConsentEvent.member_id == member.id)):
        event.detail = ""
    log_consent(session, member, "erase", requested_by, now)


def _members_matching(query: Any, text: str, topic: str, frequency: str, status: str) -> Any:
    """`query` (over Member) narrowed as search_members and count_members narrow it."""
    query = query.where(Member.status != MemberStatus.ERASED)
    if text.strip():
        # autoescape: a `%` or `_` typed in a search is that character, not a wildcard.
        words = text.strip()
        query = query.where(
            sa.or_(
                col(Member.email).icontains(words, autoescape=True),
                col(Member.name).icontains(words, autoescape=True),
                col(Member.organisation).icontains(words, autoescape=True),
            )
        )
    if topic:
        following = select(MemberTopic.member_id).where(MemberTopic.topic_id == topic)
        query = query.where(col(Member.id).in_(following))
    if frequency:
        query = query.where(Member.frequency == frequency)
    if status:
        query = query.where(Member.status == status)
    return query


def search_members(
    session: Session,
    text: str = "",
    limit: int = 100,
    *,
    topic: str = "",
    frequency: str = "",
    status: str = "",
    offset: int = 0,
) -> list[Member]:
    """Members (erased ones excepted) whose address, name or organisation contains `text`,
    following `topic`, at `frequency` and in `status` (each only when given), by address."""
    query = _members_matching(select(Member), text, topic, frequency, status)
    return list(session.exec(query.order_by(col(Member.email)).offset(offset).limit(limit)))


def count_members(
    session: Session, text: str = "", *, topic: str = "", frequency: str = "", status: str = ""
) -> int:
    """How many members search_members finds with these filters and no limit (in SQL)."""
    query = _members_matching(
        select(sa.func.count()).select_from(Member), text, topic, frequency, status
    )
    return int(session.exec(query).one())


def subscriber_counts(session: Session) -> dict[str, int]:
    """Active members following each topic."""
    rows = session.exec(
        select(MemberTopic.topic_id, sa.func.count())
        .join(Member, col(Member.id) == MemberTopic.member_id)
        .where(Member.status == MemberStatus.ACTIVE)
        .group_by(col(MemberTopic.topic_id))
    )
    return {topic_id: count for topic_id, count in rows}


def add_member(
    session: Session,
    email: str,
    *,
    name: str,
    organisation: str,
    topics: Sequence[str],
    frequency: Frequency,
    consent_confirmed: bool,
    added_by: str,
    now: datetime,
) -> Member:
    """A member added by staff: active when staff confirm consent, otherwise pending."""
    if find_member(session, email) is not None:
        raise InvalidChoice(f"{email} is already a member")
    if is_erased(session, email):
        raise InvalidChoice(f"{email} asked to be erased; they can only sign up themselves")
    method = f"added by staff ({added_by})" + (
        ", consent confirmed by staff" if consent_confirmed else ""
    )
    return create_member(
        session,
        email,
        name=name,
        organisation=organisation,
        topics=topics,
        frequency=frequency,
        active=consent_confirmed,
        action="staff-add",
        method=method,
        now=now,
    )


@dataclass(frozen=True)
class Subscriber:
    """An active member as the sending side needs them (subscriptions' view, not its tables)."""

    id: int
    email: str
    email_hash: str
    name: str
    topics: tuple[str, ...]
    joined: datetime  # when they confirmed (or were added with consent)


def subscribers(session: Session, frequency: Frequency) -> list[Subscriber]:
    """Every active member receiving this frequency, with their topics."""
    return _with_status(session, MemberStatus.ACTIVE, _MEMBERS.c.frequency == frequency)


def reminder_subscribers(session: Session) -> list[Subscriber]:
    """Every active member who asked for deadline reminders, with their topics."""
    return _with_status(session, MemberStatus.ACTIVE, _MEMBERS.c.deadline_reminders.is_(True))


def subscriber(session: Session, member_id: int) -> Subscriber | None:
    """The member if they may still be sent mail (active), else None."""
    return active_subscribers(session, [member_id]).get(member_id)


def active_subscribers(session: Session, member_ids: Sequence[int]) -> dict[int, Subscriber]:
    """Those of these members who may still be sent mail, by id."""
    return _among(session, member_ids, MemberStatus.ACTIVE)


def awaiting_confirmation(session: Session, member_ids: Sequence[int]) -> dict[int, Subscriber]:
    """Those of these members who may be sent a confirmation email (still pending), by id."""
    return _among(session, member_ids, MemberStatus.PENDING)


def _among(
    session: Session, member_ids: Sequence[int], status: MemberStatus
) -> dict[int, Subscriber]:
    found: list[Subscriber] = []
    for start in range(0, len(member_ids), 1000):
        chunk = member_ids[start : start + 1000]
        found += _with_status(session, status, among(session, _MEMBERS.c.id, chunk))
    return {s.id: s for s in found}


def _with_status(
    session: Session, status: MemberStatus, condition: sa.ColumnElement[bool]
) -> list[Subscriber]:
    """Members with this status meeting the condition, with their topics. Plain columns rather
    than Member objects: a digest run reads every member, and objects cost far more."""
    table = _MEMBERS
    rows = session.execute(
        sa.select(
            table.c.id,
            table.c.email,
            table.c.email_hash,
            table.c.name,
            table.c.confirmed_at,
            table.c.created_at,
        )
        .where(table.c.status == status, condition)
        .order_by(table.c.id)
    ).all()
    topics = topics_by_member(session, [row[0] for row in rows])
    return [
        Subscriber(
            id=member_id or 0,
            email=email or "",
            email_hash=hashed,
            name=name,
            topics=tuple(topics.get(member_id or 0, [])),
            joined=confirmed or created,
        )
        for member_id, email, hashed, name, confirmed, created in rows
    ]


@dataclass(frozen=True)
class Audience:
    """Who a bulletin reaches: active members, and how many others it leaves out."""

    member_ids: list[int]
    left_out: int  # members it would have reached who unsubscribed or were suppressed


def audience(session: Session, topics: Sequence[str] | None) -> Audience:
    """Members following any of `topics` (every member when None), by status."""
    query = sa.select(_MEMBERS.c.id, _MEMBERS.c.status).where(
        _MEMBERS.c.status.in_(
            [MemberStatus.ACTIVE, MemberStatus.UNSUBSCRIBED, MemberStatus.SUPPRESSED]
        )
    )
    if topics is not None:
        following = select(MemberTopic.member_id).where(col(MemberTopic.topic_id).in_(topics))
        query = query.where(_MEMBERS.c.id.in_(following))
    rows = session.execute(query.order_by(_MEMBERS.c.id)).all()
    active = [member_id for member_id, status in rows if status == MemberStatus.ACTIVE]
    return Audience(active, len(rows) - len(active))


def emails_of(session: Session, member_ids: Sequence[int]) -> dict[int, str]:
    """Member id -> address, for staff pages (erased members have none)."""
    rows = session.execute(
        sa.select(_MEMBERS.c.id, _MEMBERS.c.email).where(among(session, _MEMBERS.c.id, member_ids))
    )
    return {member_id: email for member_id, email in rows if email}
