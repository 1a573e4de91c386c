"""What every source kind shares: the declaration, the parsed entries, and the kind protocol."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

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


@dataclass(frozen=True)
class Entry:
    """One article as a source describes it, already cleaned."""

    identity: str  # the source's guid for it, or its canonical URL where it has none
    url: str
    title: str
    summary: str
    published: datetime | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParseResult:
    entries: list[Entry] = field(default_factory=list)
    skipped: int = 0  # entries without a usable title or link
    warnings: list[str] = field(default_factory=list)


class SourceError(Exception):
    """A source answered but its content cannot be used; the message tells staff what to check."""


class LayoutChanged(SourceError):
    """An HTML page's selectors found nothing to read: the site's layout has probably changed,
    and the source's selectors need capturing again."""


class SourceKind(Protocol):
    """A kind of source: how to ask it for news and how to read the answer.

    Adding a kind is one module implementing this and one line in `alerter.sources.KINDS`.
    """

    options_model: ClassVar[type[BaseModel]]

    def request_params(self, spec: SourceSpec) -> list[tuple[str, str]]:
        """Query parameters to add to the source URL."""
        ...

    def parse(self, document: Document, spec: SourceSpec) -> ParseResult:
        """Entries from a fetched document; raises SourceError when none can be trusted."""
        ...


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
