"""Hansard: spoken contributions in either House that mention the search terms, from the
Hansard API's `/search/contributions/Spoken.json`, gathered into one item per debate section."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from alerter.ingest.clean import clean_text
from alerter.ingest.sources.apis import (
    OffsetPaging,
    api_datetime,
    capped_warning,
    fingerprint,
    read_pages,
    text_of,
    uk_date,
)
from alerter.ingest.sources.base import (
    ApiClient,
    ApiOptions,
    Entry,
    ParseResult,
    Record,
    SourceSpec,
    Window,
)

API_NAME = "Hansard API"
WEBSITE = "https://hansard.parliament.uk"
DEBATE_PREFIX = "hansard:debate:"
# The spec's own (prefixed) parameter names.
_PAGING = OffsetPaging(
    skip="queryParameters.skip",
    take="queryParameters.take",
    total="TotalResultCount",
    results="Results",
    size=100,
)
# Contributions appear, and are corrected, days after the sitting: sittings of the week before
# the last poll are read again.
_OVERLAP = timedelta(days=7)
# How many contributions a debate's summary quotes, and how much of each.
QUOTED = 3
QUOTE_LENGTH = 300


class HansardOptions(ApiOptions):
    search_terms: list[str] = Field(min_length=1, description="Each term is one query")
    house: Literal["Commons", "Lords"] | None = None  # both when unset

    @field_validator("search_terms")
    @classmethod
    def _real_terms(cls, terms: list[str]) -> list[str]:
        if any(len(term.strip()) < 2 for term in terms):
            raise ValueError("search terms must have at least 2 characters")
        return terms


@dataclass
class _Debate:
    """The contributions of one debate section that the queries found."""

    ext_id: str
    title: str
    house: str
    sitting: datetime
    section: str
    contributions: dict[str, dict[str, Any]] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)


class HansardKind:
    options_model: ClassVar[type[BaseModel]] = HansardOptions
    request_interval: ClassVar[float] = 0.1

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        options = HansardOptions.model_validate(spec.options)
        since = window.since(overlap=_OVERLAP, backlog=timedelta(options.backlog_days))
        result = ParseResult()
        debates: dict[str, _Debate] = {}
        for term in options.search_terms:
            params = [
                ("queryParameters.searchTerm", term.strip()),
                ("queryParameters.startDate", uk_date(since)),
                ("queryParameters.orderBy", "SittingDateDesc"),
            ]
            if options.house:
                params.append(("queryParameters.house", options.house))
            pages = await read_pages(client, str(spec.url), params, _PAGING, api_name=API_NAME)
            if not pages.complete:
                result.warnings.append(capped_warning(term, len(pages.results)))
            for raw in pages.results:
                if not _add(debates, raw, term.strip()):
                    result.skipped += 1
        result.entries = [debate_entry(debate) for debate in debates.values()]
        return result.finish(skipped="contributions skipped for want of a debate, title or date")


def _add(debates: dict[str, _Debate], raw: Any, term: str) -> bool:
    """File one contribution under its debate; False when it names no usable debate."""
    if not isinstance(raw, dict):
        return False
    ext_id = text_of(raw.get("DebateSectionExtId")).strip().lower()
    title = clean_text(text_of(raw.get("DebateSection")))
    sitting = api_datetime(raw.get("SittingDate"))
    house = text_of(raw.get("House")).strip()
    if not ext_id or not title or sitting is None or house not in ("Commons", "Lords"):
        return False
    debate = debates.setdefault(
        ext_id, _Debate(ext_id, title, house, sitting, text_of(raw.get("HansardSection")))
    )
    debate.contributions[_contribution_key(raw, ext_id)] = raw
    if term not in debate.terms:
        debate.terms.append(term)
    return True


def _contribution_key(raw: dict[str, Any], debate: str) -> str:
    """The contribution's id; some have none, and are known by what they say and where."""
    if ext_id := text_of(raw.get("ContributionExtId")).strip().lower():
        return ext_id
    order = raw.get("OrderInDebateSection")
    return hashlib.sha256(f"{debate}\x1f{order}\x1f{_text(raw)}".encode()).hexdigest()[:32]


def _text(raw: dict[str, Any]) -> str:
    """A contribution's full text, else the extract the search gives."""
    return text_of(raw.get("ContributionTextFull")) or text_of(raw.get("ContributionText"))


def debate_entry(debate: _Debate) -> Entry:
    """One debate: its title and page, and a summary quoting the first contributions found."""
    ordered = sorted(
        debate.contributions.items(),
        key=lambda pair: (_order(pair[1].get("OrderInDebateSection")), pair[0]),
    )
    quotes = []
    for _, raw in ordered[:QUOTED]:
        speaker = clean_text(text_of(raw.get("AttributedTo")) or text_of(raw.get("MemberName")))
        words = clean_text(_text(raw))
        if words:
            quotes.append(f"{speaker}: {_shortened(words)}" if speaker else _shortened(words))
    day = uk_date(debate.sitting)
    page = f"{WEBSITE}/{debate.house}/{day}/debates/{debate.ext_id.upper()}/link"
    speakers = []
    for _, raw in ordered:
        name = clean_text(text_of(raw.get("MemberName")))
        if name and name not in speakers:
            speakers.append(name)
    external_id = DEBATE_PREFIX + debate.ext_id
    metadata: dict[str, Any] = {
        "house": debate.house,
        "sitting_date": day,
        "hansard_section": debate.section,
        "speakers": speakers,
        "contributions": len(ordered),
        "matched_terms": debate.terms,
    }
    return Entry(
        identity=external_id,
        url=page,
        title=debate.title,
        summary=" ".join([f"{debate.house} debate.", *quotes]),
        published=debate.sitting,
        metadata={key: value for key, value in metadata.items() if value not in ("", [])},
        record=Record(
            external_id=external_id,
            revision=fingerprint(sorted(debate.contributions)),
            document_type="debate",
        ),
    )


def _order(value: Any) -> int:
    return value if isinstance(value, int) else 1_000_000


def _shortened(text: str) -> str:
    if len(text) <= QUOTE_LENGTH:
        return text
    cut = text[:QUOTE_LENGTH].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
