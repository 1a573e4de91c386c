"""Tables owned by the worker: sources, the items they publish, and which source saw which item."""

import secrets
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field, SQLModel

# Named constraints, so that later migrations can alter them on SQLite too.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database.

    SQLite has no time zones, so values are stored as naive UTC and made aware again on load.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: alerter stores only aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def json_column() -> Any:
    return Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))


class Source(SQLModel, table=True):
    """A place alerter polls, with its declared configuration and its health."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=20)
    url: str
    publisher: str = Field(max_length=200)
    enabled: bool = True
    poll_minutes: int = 60
    # Kind-specific settings: selectors for `html`, filters for `govuk`.
    options: dict[str, Any] = json_column()
    # Hash of the declaration last synced from the sources file; the file only overrides edits
    # made elsewhere (the staff pages) when its own entry changes.
    declared_hash: str | None = Field(default=None, max_length=64)

    etag: str | None = None
    last_modified: str | None = None
    first_success_at: datetime | None = utc_column()
    last_polled_at: datetime | None = utc_column()
    last_success_at: datetime | None = utc_column()
    last_error: str | None = None
    last_warnings: list[str] = Field(
        default_factory=list, sa_column=Column(sa.JSON, nullable=False)
    )
    consecutive_failures: int = 0
    failing_since: datetime | None = utc_column()  # the first of the current run of failures
    failures_total: int = 0  # every failed poll ever, for the metrics
    # "layout" when an HTML page's selectors matched nothing: the site has probably changed.
    last_error_kind: str | None = Field(default=None, max_length=20)
    next_poll_at: datetime | None = utc_column()
    # A poll in progress holds the source until this time, so two workers never poll it at once.
    claimed_until: datetime | None = utc_column()
    # The process holding it (its heartbeat's name): once that heartbeat is stale, the claim
    # lapses without waiting for claimed_until.
    claimed_by: str | None = Field(default=None, max_length=200)


class Item(SQLModel, table=True):
    """One story, stored once however many sources carry it."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    url: str = Field(unique=True)
    title: str
    summary: str = ""
    published_at: datetime = utc_column(nullable=False, index=True)
    first_seen_at: datetime = utc_column(nullable=False, index=True)
    # Set when the origin source later changed the title or summary.
    updated_at: datetime | None = utc_column()
    content_hash: str = Field(max_length=64)
    # Normalised title words, for recognising the same story re-posted by another source.
    title_key: str = Field(index=True)
    # Stored from a source's first poll: listed and searchable, never news for a digest.
    backlog: bool = False
    # What the source said beyond title and summary (GOV.UK content type, organisations).
    source_metadata: dict[str, Any] = json_column()
    # Set from a publisher's API record (see alerter.ingest.sources.base.Record); None for news
    # items.
    # The record's stable id there: the item is updated in place when the record changes.
    external_id: str | None = Field(default=None, unique=True, max_length=300)
    revision: str | None = Field(default=None, max_length=64)
    document_type: str | None = Field(default=None, max_length=40, index=True)
    status: str | None = Field(default=None, max_length=40)
    opens_at: datetime | None = utc_column()
    closes_at: datetime | None = utc_column(index=True)
    outcome_at: datetime | None = utc_column(index=True)


class AssociationResponse(SQLModel, table=True):
    """Staff's note that the association is responding to a consultation or call for evidence,
    with its own earlier deadline for members' views: shown to members beside the item."""

    __tablename__ = "association_response"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", unique=True)
    respond_by: date  # members' views wanted by this day (UK)
    marked_by: str = Field(max_length=320)
    marked_at: datetime = utc_column(nullable=False)


class Sighting(SQLModel, table=True):
    """One source's report of an item: how the item is known there (its guid, or its URL)."""

    __table_args__ = (sa.UniqueConstraint("source_id", "identity"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    source_id: int = Field(foreign_key="source.id")
    identity: str
    url: str
    first_seen_at: datetime = utc_column(nullable=False)


class ItemTopic(SQLModel, table=True):
    """A topic an item carries, with the evidence for it."""

    __tablename__ = "item_topic"
    __table_args__ = (sa.UniqueConstraint("item_id", "topic_id"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    topic_id: str = Field(max_length=64, index=True)
    # "classifier", or "staff" when a correction put it there.
    assigned_by: str = Field(max_length=20)
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(sa.JSON, nullable=False)
    )


class TopicCorrection(SQLModel, table=True):
    """A staff decision that an item does (present) or does not carry a topic. It wins over the
    classifier for that item and teaches the classifier about similar ones."""

    __tablename__ = "topic_correction"
    __table_args__ = (sa.UniqueConstraint("item_id", "topic_id"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    topic_id: str = Field(max_length=64)
    present: bool
    corrected_by: str = Field(max_length=320)
    corrected_at: datetime = utc_column(nullable=False)


class Delivery(SQLModel, table=True):
    """The ledger: one row per (member, email kind, period), written before anything is sent,
    so that every member gets each email once whatever crashes and however many workers run."""

    __table_args__ = (
        sa.UniqueConstraint("member_id", "kind", "period"),
        # Senders claim the rows of one content at a time.
        sa.Index("ix_delivery_claimable", "kind", "period", "status", "content_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: str = Field(max_length=40)  # digest-weekly, digest-daily, digest-immediate, bulletin
    period: str = Field(max_length=40)  # 2026-W10, 2026-03-02, ...
    # planned -> sending -> sent | failed | skipped (no longer subscribed when its turn came)
    # | in_doubt (its request's outcome is unknown: until its batch is cancelled, then planned
    # again; or, past the batch's cut-off, until SendGrid's events or staff settle it)
    status: str = Field(default="planned", max_length=20, index=True)
    # The items first stored in [window_start, window_end) that the email carries.
    window_start: datetime = utc_column(nullable=False)
    window_end: datetime = utc_column(nullable=False)
    item_ids: list[int] = Field(default_factory=list, sa_column=Column(sa.JSON, nullable=False))
    planned_at: datetime = utc_column(nullable=False)
    claimed_until: datetime | None = utc_column()
    # Rows with the same key were planned with the same content (items and topics): they are
    # sent together, one request for up to 1,000 of them.
    content_key: str = Field(default="", max_length=40)
    claim: str | None = Field(default=None, max_length=40)  # which sender holds it
    # The SendGrid batch its request went in (one batch per request): if that request's
    # outcome is unknown, the batch is cancelled before the row is sent again. For a row in
    # doubt, claimed_until is when a sender next tries to cancel it (None: no sender can).
    batch_id: str | None = Field(default=None, max_length=100, index=True)
    attempts: int = 0
    sent_at: datetime | None = utc_column()
    error: str | None = None
    # Random, made with the row: its email's Message-ID, the same on every retry of this
    # delivery and never that of another one, even in a database made again from scratch.
    message_token: str = Field(
        max_length=32, sa_column_kwargs={"default": lambda: new_message_token()}
    )


def new_message_token() -> str:
    """A delivery's Message-ID token: 128 random bits."""
    return secrets.token_hex(16)


class MailBatch(SQLModel, table=True):
    """A SendGrid batch a sender opened for one request: its emails go out at send_at unless it
    is cancelled (possible until cancel_by)."""

    __tablename__ = "mail_batch"

    id: str = Field(primary_key=True, max_length=100)
    opened_at: datetime = utc_column(nullable=False)
    send_at: datetime = utc_column(nullable=False)
    cancel_by: datetime = utc_column(nullable=False)
    claim: str = Field(max_length=40)  # the sender that opened it
    # open -> cancelling (asked; counted among SendGrid's 10) -> cancelled -> released (the
    # cancellation deleted after send_at, freeing its place) | uncancellable (found too late)
    status: str = Field(default="open", max_length=20)


class MailEvent(SQLModel, table=True):
    """A SendGrid event received by the webhook, kept so that a replay is recognised."""

    __tablename__ = "mail_event"

    id: int | None = Field(default=None, primary_key=True)
    sg_event_id: str = Field(max_length=100, unique=True)
    event: str = Field(max_length=40)
    delivery_id: int | None = None
    member_id: int | None = None
    received_at: datetime = utc_column(nullable=False)


class Bulletin(SQLModel, table=True):
    """An email staff compose and send now: an introduction, chosen items, and an audience.
    Its record is also its audit trail: who composed and sent it, when, and to how many."""

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=200)
    introduction: str = ""  # Markdown
    item_ids: list[int] = Field(default_factory=list, sa_column=Column(sa.JSON, nullable=False))
    # Members following any of these topics; every active member when `everyone`.
    topic_ids: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON, nullable=False))
    everyone: bool = False
    # draft -> sending -> sent. Only a draft can change, and only one press of send wins.
    status: str = Field(default="draft", max_length=20, index=True)
    composed_by: str = Field(max_length=320)
    created_at: datetime = utc_column(nullable=False)
    updated_at: datetime = utc_column(nullable=False)
    sent_by: str | None = Field(default=None, max_length=320)
    sent_at: datetime | None = utc_column()  # when send was pressed
    finished_at: datetime | None = utc_column()
    audience_size: int | None = None  # members planned when send was pressed


class WorkerHeartbeat(SQLModel, table=True):
    """Each running worker's last sign of life: how the web app, another process, can tell
    that the scheduler is running."""

    __tablename__ = "worker_heartbeat"

    worker: str = Field(primary_key=True, max_length=200)  # worker_name(): host, pid, incarnation
    started_at: datetime = utc_column(nullable=False)
    beat_at: datetime = utc_column(nullable=False)
    # Set when its scheduler could no longer run jobs and the worker exited (beat_at: then).
    stopped_because: str | None = None


class StaffAlert(SQLModel, table=True):
    """A problem staff were told about by email. While it stays open, the same problem is not
    mailed again; it closes when the problem goes away."""

    __tablename__ = "staff_alert"

    id: int | None = Field(default=None, primary_key=True)
    # What the problem is about: "source-failing:3", "layout:3", "deliveries:digest-weekly:2026-W10"
    key: str = Field(max_length=200, index=True)
    subject: str = Field(max_length=300)
    detail: str = ""
    opened_at: datetime = utc_column(nullable=False)
    notified: bool = False  # False when no staff address is set, or sending it failed
    closed_at: datetime | None = utc_column()


class AuditEvent(SQLModel, table=True):
    """One staff action, recorded in the transaction that made it (alerter/audit.py). Who did
    it is copied, so the record outlives the staff account."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column(nullable=False, index=True)
    # No foreign key: the row stays when the account is removed; None for no one signed in.
    actor_id: int | None = Field(default=None, index=True)
    actor_email: str = Field(default="", max_length=320, index=True)
    action: str = Field(max_length=80, index=True)  # "staff.sign_in", "source.update"
    target_type: str = Field(default="", max_length=80)
    target_id: str = Field(default="", max_length=200)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(sa.JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(sa.JSON, nullable=True))
    ip: str | None = Field(default=None, max_length=64)


class AssociationSettings(SQLModel, table=True):
    """The association's own name, look and sender, set by staff on the Settings page: one
    row (id 1); until it is saved, alerter.branding's defaults from the environment apply."""

    __tablename__ = "association_settings"

    id: int = Field(default=1, primary_key=True)
    name: str = Field(max_length=200)
    logo_url: str = Field(default="", max_length=500)  # https, so email clients can load it
    colour: str = Field(max_length=7)  # #rrggbb behind white text: headers and buttons
    sender_name: str = Field(max_length=200)
    sender_address: str = Field(max_length=320)
    reply_to: str = Field(default="", max_length=320)
    postal_address: str = Field(default="", max_length=500)
    contact: str = Field(default="", max_length=320)
    updated_at: datetime | None = utc_column()
