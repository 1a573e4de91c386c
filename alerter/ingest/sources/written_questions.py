"""UK Parliament written questions and written statements, from the questions-statements API
(`/api/writtenquestions/questions`, `/api/writtenstatements/statements`).

An item per question or statement, keyed on the API's id and updated in place when a question
is answered, given a holding answer or corrected. The lists shorten long texts to "..."; those
records are read again by id for their full text."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from alerter.ingest.clean import InvalidURL, canonical_url, clean_text
from alerter.ingest.sources.apis import (
    OffsetPaging,
    api_datetime,
    capped_warning,
    drop_unchanged,
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
    SourceError,
    SourceSpec,
    Window,
)

API_NAME = "questions-statements API"
WEBSITE = "https://questions-statements.parliament.uk"
_PAGING = OffsetPaging(skip="skip", take="take", total="totalResults", results="results", size=50)
# Dates filter whole days, and answers are filed against the day: read the day before again.
_OVERLAP = timedelta(days=1)
# At most this many records are read again by id in one poll; the rest wait for the next.
MAX_FULL_TEXTS = 100
_SHORTENED = "..."
QUESTION_PREFIX = "parliament:written-question:"
STATEMENT_PREFIX = "parliament:written-statement:"


class WrittenOptions(ApiOptions):
    search_terms: list[str] = Field(
        default_factory=list, description="Each term is one query; results are combined"
    )
    # The API's answeringBodyId values (a department's id), ORed; with terms, both must match.
    answering_bodies: list[int] = Field(default_factory=list)
    house: Literal["Bicameral", "Commons", "Lords"] = "Bicameral"

    @model_validator(mode="after")
    def _narrowed(self) -> "WrittenOptions":
        if not self.search_terms and not self.answering_bodies:
            raise ValueError(
                "give search_terms or answering_bodies (or both): unfiltered, every question "
                "in Parliament would be read"
            )
        if any(len(term.strip()) < 2 for term in self.search_terms):
            raise ValueError("search terms must have at least 2 characters")
        return self


class WrittenQuestionsKind:
    options_model: ClassVar[type[BaseModel]] = WrittenOptions
    # No published limit; the ceiling other clients of Parliament's APIs keep to (10 a second).
    request_interval: ClassVar[float] = 0.1

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        options = WrittenOptions.model_validate(spec.options)
        since = uk_date(window.since(overlap=_OVERLAP, backlog=timedelta(options.backlog_days)))
        # New questions, answers to older ones, and corrections: each has its own date filter.
        windows = [
            (name, since) for name in ("tabledWhenFrom", "answeredWhenFrom", "correctedWhenFrom")
        ]
        return await _collect(spec, client, options, windows, _QUESTIONS)


class WrittenStatementsKind:
    options_model: ClassVar[type[BaseModel]] = WrittenOptions
    request_interval: ClassVar[float] = 0.1

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        options = WrittenOptions.model_validate(spec.options)
        since = uk_date(window.since(overlap=_OVERLAP, backlog=timedelta(options.backlog_days)))
        return await _collect(spec, client, options, [("madeWhenFrom", since)], _STATEMENTS)


@dataclass(frozen=True)
class _Flavour:
    """What differs between questions and statements: the texts the list may shorten, and how
    a record becomes an entry (None when it has no title or link)."""

    noun: str
    prefix: str  # of its external ids
    texts: tuple[str, ...]
    build: Callable[[dict[str, Any]], Entry | None]


async def _collect(
    spec: SourceSpec,
    client: ApiClient,
    options: WrittenOptions,
    windows: list[tuple[str, str]],
    flavour: _Flavour,
) -> ParseResult:
    result = ParseResult()
    common: list[tuple[str, str]] = [("house", options.house), ("expandMember", "true")]
    common += [("answeringBodies", str(body)) for body in options.answering_bodies]
    records: dict[int, dict[str, Any]] = {}
    terms: list[str | None] = [*options.search_terms] or [None]
    for term in terms:
        for window_param, day in windows:
            params = [*common, (window_param, day)]
            if term:
                params.append(("searchTerm", term.strip()))
            pages = await read_pages(client, str(spec.url), params, _PAGING, api_name=API_NAME)
            if not pages.complete:
                query = f"{term or 'answering bodies'}, {window_param}"
                result.warnings.append(capped_warning(query, len(pages.results)))
            for raw in pages.results:
                value = raw.get("value") if isinstance(raw, dict) else None
                if isinstance(value, dict) and isinstance(value.get("id"), int):
                    records[value["id"]] = value
                else:
                    result.skipped += 1
    listed: dict[str, Entry] = {}
    shortened: set[str] = set()
    for value in records.values():
        entry = flavour.build(value)
        if entry is None:
            result.skipped += 1
            continue
        listed[entry.identity] = entry
        if any(text_of(value.get(name)).endswith(_SHORTENED) for name in flavour.texts):
            shortened.add(entry.identity)
    changed = drop_unchanged(client, list(listed.values()))
    entries = [entry for entry in changed if entry.identity not in shortened]
    to_read = [entry.identity for entry in changed if entry.identity in shortened]
    # Records an earlier poll read only in part, whether or not a list shows them now.
    to_read += [
        external_id
        for external_id in client.records_to_reread(flavour.prefix, MAX_FULL_TEXTS)
        if external_id not in listed
    ]
    unread = 0
    for number, external_id in enumerate(to_read):
        full = (
            await _read_full(spec, client, external_id, flavour)
            if number < MAX_FULL_TEXTS
            else None
        )
        short = listed.get(external_id)
        if full is not None:
            entries.append(full)
        else:
            unread += 1
            if short is not None and short.record is not None:
                # Without a revision, the next poll reads it again.
                entries.append(replace(short, record=replace(short.record, revision=None)))
    result.entries = entries
    if unread:
        result.warnings.append(
            f"full text not read for {unread} {flavour.noun}(s); the list's shortened text is "
            "kept and read again at the next poll"
        )
    return result.finish()


async def _read_full(
    spec: SourceSpec, client: ApiClient, external_id: str, flavour: _Flavour
) -> Entry | None:
    """The entry for one record read by its id, or None when it cannot be read."""
    record_id = external_id.removeprefix(flavour.prefix)
    try:
        answer = await client.get_json(f"{spec.url}/{record_id}", [("expandMember", "true")])
    except SourceError:
        return None
    value = _single_value(answer)
    return flavour.build(value) if value is not None else None


def _single_value(answer: Any) -> dict[str, Any] | None:
    """The record in an answer by id: `{"value": {...}}`, or (as the API describes its
    statements) a one-result list `{"results": [{"value": {...}}]}`."""
    if isinstance(answer, dict) and isinstance(answer.get("results"), list) and answer["results"]:
        answer = answer["results"][0]
    value = answer.get("value") if isinstance(answer, dict) else None
    return value if isinstance(value, dict) else None


def _question(value: dict[str, Any]) -> Entry | None:
    tabled = api_datetime(value.get("dateTabled"))
    uin = text_of(value.get("uin")).strip()
    title = clean_text(text_of(value.get("heading")))
    if tabled is None or not uin or not title:
        return None
    try:
        url = canonical_url(f"{WEBSITE}/written-questions/detail/{uk_date(tabled)}/{uin}")
    except InvalidURL:
        return None
    question = clean_text(text_of(value.get("questionText")))
    answer = clean_text(text_of(value.get("answerText")))
    summary = f"{question} Answer: {answer}" if answer else question
    external_id = QUESTION_PREFIX + str(value["id"])
    return Entry(
        identity=external_id,
        url=url,
        title=title,
        summary=summary,
        published=tabled,
        metadata=_question_metadata(value),
        record=Record(
            external_id=external_id,
            # What changes when a question is answered or corrected; not its texts, which the
            # list shortens and the record by id gives in full.
            revision=fingerprint(*(value.get(name) for name in _QUESTION_VERSION)),
            document_type="written_question",
            status=_question_status(value),
        ),
    )


def _question_status(value: dict[str, Any]) -> str:
    if value.get("isWithdrawn") is True:
        return "withdrawn"
    if value.get("answerIsCorrection") is True or value.get("dateAnswerCorrected"):
        return "corrected"
    if value.get("answerIsHolding") is True:
        return "holding"
    return "answered" if value.get("dateAnswered") else "unanswered"


def _question_metadata(value: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "uin": text_of(value.get("uin")),
        "house": text_of(value.get("house")),
        "answering_body": text_of(value.get("answeringBodyName")),
    }
    if isinstance(value.get("answeringBodyId"), int):
        metadata["answering_body_id"] = value["answeringBodyId"]
    metadata["asked_by"] = _member_name(value.get("askingMember"))
    metadata["answered_by"] = _member_name(value.get("answeringMember"))
    for key, name in (
        ("tabled", "dateTabled"),
        ("due", "dateForAnswer"),
        ("answered", "dateAnswered"),
        ("corrected", "dateAnswerCorrected"),
    ):
        if day := api_datetime(value.get(name)):
            metadata[key] = uk_date(day)
    return {key: item for key, item in metadata.items() if item != ""}


def _member_name(member: Any) -> str:
    """A member's name, present when the request asked for `expandMember`."""
    return text_of(member.get("name")) if isinstance(member, dict) else ""


def _statement(value: dict[str, Any]) -> Entry | None:
    made = api_datetime(value.get("dateMade"))
    uin = text_of(value.get("uin")).strip()
    title = clean_text(text_of(value.get("title")))
    if made is None or not uin or not title:
        return None
    try:
        url = canonical_url(f"{WEBSITE}/written-statements/detail/{uk_date(made)}/{uin.lower()}")
    except InvalidURL:
        return None
    external_id = STATEMENT_PREFIX + str(value["id"])
    metadata: dict[str, Any] = {
        "uin": uin,
        "house": text_of(value.get("house")),
        "answering_body": text_of(value.get("answeringBodyName")),
        "made_by": _member_name(value.get("member")),
        "member_role": text_of(value.get("memberRole")),
    }
    return Entry(
        identity=external_id,
        url=url,
        title=title,
        summary=clean_text(text_of(value.get("text"))),
        published=made,
        metadata={key: item for key, item in metadata.items() if item != ""},
        record=Record(
            external_id=external_id,
            revision=fingerprint(value.get("title"), value.get("dateMade")),
            document_type="written_statement",
        ),
    )


_QUESTION_VERSION = (
    "heading",
    "dateAnswered",
    "dateAnswerCorrected",
    "dateHoldingAnswer",
    "answerIsHolding",
    "answerIsCorrection",
    "isWithdrawn",
)
_QUESTIONS = _Flavour("question", QUESTION_PREFIX, ("questionText", "answerText"), _question)
_STATEMENTS = _Flavour("statement", STATEMENT_PREFIX, ("text",), _statement)
