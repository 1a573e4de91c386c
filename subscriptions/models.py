"""Tables owned by subscriptions: members, what they follow, their consent history, and staff."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from alerter.models import utc_column
from subscriptions.choices import Frequency, StaffRole

__all__ = [
    "Attempt",
    "ConsentEvent",
    "Frequency",
    "Member",
    "MemberStatus",
    "MemberTopic",
    "StaffRole",
    "StaffUser",
]


class MemberStatus(StrEnum):
    PENDING = "pending"  # signed up, confirmation link not yet followed
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"  # the address bounced or complained
    ERASED = "erased"  # personal data removed; only the tombstone remains


class Member(SQLModel, table=True):
    """Someone who receives alerts. After erasure only `email_hash` remains, so that a later
    import can recognise the address without keeping it."""

    id: int | None = Field(default=None, primary_key=True)
    # Lower-cased: addresses are compared case-insensitively. None once erased.
    email: str | None = Field(default=None, unique=True, max_length=320)
    email_hash: str = Field(index=True, max_length=64)
    name: str = Field(default="", max_length=200)
    organisation: str = Field(default="", max_length=200)
    frequency: str = Field(default=Frequency.WEEKLY, max_length=20)
    status: str = Field(default=MemberStatus.PENDING, max_length=20, index=True)
    created_at: datetime = utc_column(nullable=False)
    confirmed_at: datetime | None = utc_column()
    status_changed_at: datetime | None = utc_column()
    # Reminders 7 and 2 days before a consultation or inquiry on their topics closes.
    deadline_reminders: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Signed into the member's calendar link; raising it revokes every earlier link.
    calendar_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class MemberTopic(SQLModel, table=True):
    __tablename__ = "member_topic"
    __table_args__ = (sa.UniqueConstraint("member_id", "topic_id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    topic_id: str = Field(max_length=64, index=True)


class ConsentEvent(SQLModel, table=True):
    """What a member agreed to (or withdrew), when, and how: the consent log."""

    __tablename__ = "consent_event"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    at: datetime = utc_column(nullable=False)
    action: str = Field(max_length=40)  # signup, confirm, import, preferences, unsubscribe, ...
    method: str = Field(max_length=200)  # self-signup form, confirmation link, staff import ...
    detail: str = ""


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    password_hash: str
    created_at: datetime = utc_column(nullable=False)
    last_login_at: datetime | None = utc_column()
    # Signed into each session cookie; signing out raises it, which ends every session of
    # this staff member, copies of the cookie included.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    role: str = Field(default=StaffRole.VIEWER, max_length=20)
    # A disabled account cannot sign in; disabling raises session_version too.
    disabled_at: datetime | None = utc_column()


class Attempt(SQLModel, table=True):
    """One attempt at a rate-limited action (a failed staff sign-in, a sign-up, a link asked
    for), kept in the database so that the limit holds across processes."""

    id: int | None = Field(default=None, primary_key=True)
    # What it counts against: "login-client:203.0.113.9", "signup-email:jo@foundry.example"
    key: str = Field(max_length=400, index=True)
    at: datetime = utc_column(nullable=False, index=True)
