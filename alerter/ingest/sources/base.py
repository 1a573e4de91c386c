"""What every source kind shares: the declaration, the parsed entries, and the kind protocols."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class SourceSpec(BaseModel):
    """A source as declared in the sources file (or by staff): what to poll and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    kind: str
    url: HttpUrl
    publisher: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    poll_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # Kind-specific settings, validated by the kind's own options model.
    options: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A fetched response body with what is needed to interpret it."""

    url: str
    body: bytes
    content_type: str | None = None


# The longest external id the item table keeps (its external_id column).
MAX_EXTERNAL_ID = 300


@dataclass(frozen=True)
class Record:
    """What a publisher's API says about a document beyond its words: the document's stable id
    there, its version, what kind of document it is, where it stands, and its dates.

    An entry with a record is the publisher's own account of the document: it updates the stored
    item in place whichever source stored it first (an answered question, a consultation whose
    closing date moved or whose outcome is out)."""

    # e.g. "parliament:written-question:1679703", "govuk:/government/consultations/x"
    external_id: str
    # Changes whenever the publisher's record does; an API kind skips re-reading a record whose
    # stored revision is the same. None when the record could only be read in part.
    revision: str | None = None
    # consultation, call_for_evidence, committee_inquiry, committee_publication,
    # written_question, written_statement, debate, legislation
    document_type: str | None = None
    # The publisher's own word for where it stands: forthcoming, open, closed, outcome (GOV.UK);
    # accepting_evidence (committees); unanswered, answered, holding, corrected, withdrawn
    # (questions). Whether a deadline has passed is for the reader to compare with the time.
    status: str | None = None
    opens_at: datetime | None = None  # when responses are first accepted
    closes_at: datetime | None = None  # the deadline for responses
    outcome_at: datetime | None = None  # when the outcome or government response was published


@dataclass(frozen=True)
class Entry:
    """One article as a source describes it, already cleaned."""

    identity: str  # the source's guid for it, or its canonical URL where it has none
    url: str
    title: str
    summary: str
    published: datetime | None
    metadata: dict[str, Any] = field(default_factory=dict)
    record: Record | None = None


@dataclass
class ParseResult:
    entries: list[Entry] = field(default_factory=list)
    skipped: int = 0  # entries without a usable title or link
    warnings: list[str] = field(default_factory=list)

    def finish(
        self, *, undated: int = 0, skipped: str = "entries skipped for want of a title or link"
    ) -> "ParseResult":
        """The result, with the warnings every kind ends on: how many entries it skipped
        (`skipped` says which and for want of what) and whose dates it could not read."""
        if self.skipped:
            self.warnings.append(f"{skipped}: {self.skipped}")
        if undated:
            self.warnings.append(f"entries whose date could not be read: {undated}")
        return self


class SourceError(Exception):
    """A source answered but its content cannot be used; the message tells staff what to check."""


class LayoutChanged(SourceError):
    """An HTML page's selectors found nothing to read: the site's layout has probably changed,
    and the source's selectors need capturing again."""


class RequestFailed(SourceError):
    """A request an API kind made got no usable answer (an HTTP error, a timeout)."""

    def __init__(self, message: str, *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DocumentKind(Protocol):
    """A kind of source read from one document per poll (a feed, a page, one search answer):
    how to ask for it and how to read it. Parsing runs in the parser processes.
    """

    options_model: ClassVar[type[BaseModel]]

    def request_params(self, spec: SourceSpec) -> list[tuple[str, str]]:
        """Query parameters to add to the source URL."""
        ...

    def parse(self, document: Document, spec: SourceSpec) -> ParseResult:
        """Entries from a fetched document; raises SourceError when none can be trusted."""
        ...


@dataclass(frozen=True)
class Window:
    """What a poll tells an API kind about its source's history, for `since` windows."""

    now: datetime
    last_success: datetime | None  # None on the first poll, whose items are backlog

    def since(self, *, overlap: timedelta, backlog: timedelta) -> datetime:
        """Where this poll's window starts: `overlap` before the last successful poll (records
        that appear late, or change, are read again), or `backlog` before now on the first."""
        if self.last_success is None:
            return self.now - backlog
        return min(self.last_success, self.now) - overlap


class ApiClient(Protocol):
    """What an API kind may do during a poll: fetch (paced per host, with alerter's User-Agent)
    and ask which revisions of its records are stored."""

    async def get(
        self, url: str, params: Sequence[tuple[str, str]] = (), *, conditional: bool = False
    ) -> Document | None:
        """The answer's body; None when `conditional` and the server says nothing changed
        since the source's last poll. Raises RequestFailed."""
        ...

    async def get_json(self, url: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        """The answer parsed as JSON. Raises RequestFailed, or SourceError when it is not JSON."""
        ...

    def stored_revisions(self, external_ids: Collection[str]) -> dict[str, str | None]:
        """The stored revision of each of these records that is stored."""
        ...

    def records_to_reread(self, prefix: str, limit: int) -> list[str]:
        """External ids starting with `prefix` stored without a revision: records whose details
        an earlier poll could not read, to read again whether or not a list still shows them."""
        ...


@runtime_checkable
class ApiKind(Protocol):
    """A kind of source that asks an API several questions per poll (pages, `since` windows,
    a record's full text by its id) and returns the entries it read.
    """

    options_model: ClassVar[type[BaseModel]]
    # The least time between two requests to the API's host: its fair-use limit, or ours.
    request_interval: ClassVar[float]

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        """Entries for this poll; raises SourceError when the answers cannot be used. A record
        whose details could not be read is kept with what is known and a warning."""
        ...


# Adding a kind is one module implementing one of these and one line in
# `alerter.ingest.sources.KINDS`.
SourceKind = DocumentKind | ApiKind


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiOptions(BaseModel):
    """Settings every API kind takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backlog_days: int = Field(
        default=30, ge=1, le=366, description="How far back the first poll reaches"
    )
