"""GOV.UK consultations and calls for evidence: found with the search API (`/api/search.json`)
and each read from the content API (`/api/content/<path>`) for its opening and closing dates,
how to respond and, later, its outcome.

A consultation is one item for its whole life: GOV.UK keeps its path while its document type
moves from consultation (not yet open) to open_consultation, closed_consultation and
consultation_outcome, and the item is updated in place at each step. Every poll reads the
open ones again (a closing date may move) and those closed or given an outcome since the last
poll; only records whose search result changed are read from the content API."""

from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin

from pydantic import BaseModel, Field, field_validator

from alerter.ingest.clean import InvalidURL, canonical_url, clean_text
from alerter.ingest.sources.apis import (
    OffsetPaging,
    api_datetime,
    capped_warning,
    drop_unchanged,
    fingerprint,
    object_of,
    read_pages,
    text_of,
    uk_date,
)
from alerter.ingest.sources.base import (
    MAX_EXTERNAL_ID,
    ApiClient,
    ApiOptions,
    Entry,
    ParseResult,
    Record,
    SourceError,
    SourceSpec,
    Window,
)
from alerter.ingest.sources.govuk import check_filters, filter_params

API_NAME = "GOV.UK search API"
PREFIX = "govuk:"
_PAGING = OffsetPaging(skip="start", take="count", total="total", results="results", size=100)
_FIELDS = (
    "title",
    "link",
    "description",
    "public_timestamp",
    "start_date",  # the opening date, as the search API names it
    "end_date",  # the closing date
    "display_type",
    "content_store_document_type",
    "organisations",
)
_TYPE_FILTER = "filter_content_store_document_type"
# Outcomes published the day before the last poll are read again.
_OVERLAP = timedelta(days=1)
# At most this many records are read from the content API in one poll; the rest wait.
MAX_CONTENT_READS = 100
Schema = Literal["consultation", "call_for_evidence"]
_SCHEMAS: tuple[Schema, ...] = ("consultation", "call_for_evidence")


class ConsultationOptions(ApiOptions):
    q: str | None = None
    # The search API's filter_* / reject_* parameters, as for `govuk` sources; the document type
    # filter is this kind's own.
    filters: dict[str, str | list[str]] = Field(default_factory=dict)
    document_types: list[Schema] = Field(default_factory=lambda: [*_SCHEMAS], min_length=1)

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, filters: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        if _TYPE_FILTER in filters:
            raise ValueError(f"{_TYPE_FILTER} is set by the kind; choose document_types instead")
        return check_filters(filters)


def status_of(document_type: str) -> str | None:
    """Where a consultation stands, from GOV.UK's document type."""
    if document_type.startswith("open_"):
        return "open"
    if document_type.startswith("closed_"):
        return "closed"
    if document_type.endswith("_outcome"):
        return "outcome"
    if document_type in ("consultation", "call_for_evidence"):
        return "forthcoming"  # published before it opens
    return None


def schema_of(document_type: str) -> str | None:
    for schema in ("call_for_evidence", "consultation"):
        if schema in document_type:
            return schema
    return None


class GovukConsultationsKind:
    options_model: ClassVar[type[BaseModel]] = ConsultationOptions
    # GOV.UK publishes no limit for its APIs; stay well below what a browser session costs.
    request_interval: ClassVar[float] = 0.2

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        options = ConsultationOptions.model_validate(spec.options)
        since = window.since(overlap=_OVERLAP, backlog=timedelta(options.backlog_days))
        search = str(spec.url)
        base = [("order", "-public_timestamp"), *filter_params(options.filters)]
        if options.q:
            base.append(("q", options.q))
        base += [("fields", name) for name in _FIELDS]
        types = options.document_types
        queries = {
            "open and forthcoming": [
                *base,
                *((_TYPE_FILTER, t) for schema in types for t in (schema, f"open_{schema}")),
            ],
            "closed or with an outcome since the last poll": [
                *base,
                *(
                    (_TYPE_FILTER, t)
                    for schema in types
                    for t in (f"closed_{schema}", f"{schema}_outcome")
                ),
                ("filter_public_timestamp", f"from:{uk_date(since)}"),
            ],
        }
        result = ParseResult()
        listed: dict[str, Entry] = {}
        for label, params in queries.items():
            pages = await read_pages(client, search, params, _PAGING, api_name=API_NAME)
            if not pages.complete:
                result.warnings.append(capped_warning(label, len(pages.results)))
            for raw in pages.results:
                entry = search_entry(raw, search) if isinstance(raw, dict) else None
                if entry is None:
                    result.skipped += 1
                else:
                    listed.setdefault(entry.identity, entry)
        to_read = [entry.identity for entry in drop_unchanged(client, list(listed.values()))]
        # Consultations an earlier poll could not read, whether or not a search shows them now.
        to_read += [
            external_id
            for external_id in client.records_to_reread(PREFIX, MAX_CONTENT_READS)
            if external_id not in listed
        ]
        unread = 0
        for number, external_id in enumerate(to_read):
            found = listed.get(external_id)
            full = None
            if number < MAX_CONTENT_READS:
                full = await _read_content(client, search, external_id, found)
            if full is not None:
                result.entries.append(full)
                continue
            unread += 1
            if found is not None and found.record is not None:
                # Without a revision, the next poll reads it again.
                result.entries.append(replace(found, record=replace(found.record, revision=None)))
        if unread:
            result.warnings.append(
                f"content API not read for {unread} consultation(s); kept with the search "
                "API's dates and read again at the next poll"
            )
        return result.finish()


async def _read_content(
    client: ApiClient, search: str, external_id: str, found: Entry | None
) -> Entry | None:
    """The entry for one consultation read from the content API, or None when it cannot be.
    It keeps the search result's revision, which the next poll's search is compared with."""
    path = external_id.removeprefix(PREFIX)
    try:
        item = await client.get_json(urljoin(search, "/api/content" + path))
    except SourceError:
        return None
    entry = content_entry(item, search) if isinstance(item, dict) else None
    if entry is None or entry.record is None or found is None or found.record is None:
        return entry
    return replace(entry, record=replace(entry.record, revision=found.record.revision))


def _revision(public: Any, opens: Any, closes: Any, document_type: Any) -> str:
    """What changes when a consultation's dates, type or publication do; the same from a
    search result as from its content item (times compared as instants)."""
    return fingerprint(*(api_datetime(v) for v in (public, opens, closes)), document_type)


def search_entry(raw: dict[str, Any], search: str) -> Entry | None:
    """An entry from a search result alone: what is kept when the content API cannot be read."""
    title = clean_text(text_of(raw.get("title")))
    link = text_of(raw.get("link"))
    document_type = text_of(raw.get("content_store_document_type"))
    if not title or not _usable_path(link):
        return None
    try:
        url = canonical_url(link, base=search)
    except InvalidURL:
        return None
    metadata: dict[str, Any] = {"content_store_document_type": document_type}
    if display_type := text_of(raw.get("display_type")):
        metadata["display_type"] = display_type
    organisations = [
        {key: org[key] for key in ("slug", "title", "acronym") if org.get(key)}
        for org in raw.get("organisations") or []
        if isinstance(org, dict)
    ]
    if organisations:
        metadata["organisations"] = organisations
    return Entry(
        identity=PREFIX + link,
        url=url,
        title=title,
        summary=clean_text(text_of(raw.get("description"))),
        published=api_datetime(raw.get("public_timestamp")),
        metadata=metadata,
        record=Record(
            external_id=PREFIX + link,
            revision=_revision(
                raw.get("public_timestamp"),
                raw.get("start_date"),
                raw.get("end_date"),
                document_type,
            ),
            document_type=schema_of(document_type),
            status=status_of(document_type),
            opens_at=api_datetime(raw.get("start_date")),
            closes_at=api_datetime(raw.get("end_date")),
            outcome_at=api_datetime(raw.get("public_timestamp"))
            if status_of(document_type) == "outcome"
            else None,
        ),
    )


def content_entry(item: dict[str, Any], search: str) -> Entry | None:
    """An entry from a content item: its dates, how to respond, and its outcome when out."""
    title = clean_text(text_of(item.get("title")))
    path = text_of(item.get("base_path"))
    document_type = text_of(item.get("document_type"))
    if not title or not _usable_path(path):
        return None
    try:
        url = canonical_url(path, base=search)
    except InvalidURL:
        return None
    details = object_of(item.get("details"))
    status = status_of(document_type)
    outcome_at = api_datetime(details.get("final_outcome_publication_date"))
    if outcome_at is None and status == "outcome":
        outcome_at = api_datetime(item.get("public_updated_at"))
    metadata: dict[str, Any] = {
        "content_id": text_of(item.get("content_id")),
        "content_store_document_type": document_type,
        "organisations": _organisations(item),
        "how_to_respond": _how_to_respond(details),
    }
    if outcome := clean_text(text_of(details.get("final_outcome_detail"))):
        metadata["outcome"] = outcome
    published = (
        api_datetime(item.get("first_published_at"))
        or api_datetime(details.get("first_public_at"))
        or api_datetime(item.get("public_updated_at"))
    )
    return Entry(
        identity=PREFIX + path,
        url=url,
        title=title,
        summary=clean_text(text_of(item.get("description"))),
        published=published,
        metadata={key: value for key, value in metadata.items() if value not in ("", [], {})},
        record=Record(
            external_id=PREFIX + path,
            revision=_revision(
                item.get("public_updated_at"),
                details.get("opening_date"),
                details.get("closing_date"),
                document_type,
            ),
            document_type=schema_of(document_type) or text_of(item.get("schema_name")) or None,
            status=status,
            opens_at=api_datetime(details.get("opening_date")),
            closes_at=api_datetime(details.get("closing_date")),
            outcome_at=outcome_at,
        ),
    )


def _usable_path(path: str) -> bool:
    """A site path short enough to be kept as the record's external id."""
    return path.startswith("/") and len(PREFIX + path) <= MAX_EXTERNAL_ID


def _organisations(item: dict[str, Any]) -> list[dict[str, str]]:
    """The publishing organisations, with the slug the classifier knows them by."""
    organisations = []
    for org in object_of(item.get("links")).get("organisations") or []:
        if isinstance(org, dict) and text_of(org.get("base_path")):
            slug = text_of(org.get("base_path")).rstrip("/").rsplit("/", 1)[-1]
            organisations.append({"slug": slug, "title": text_of(org.get("title"))})
    return organisations


def _how_to_respond(details: dict[str, Any]) -> dict[str, str]:
    ways = object_of(details.get("ways_to_respond"))
    respond = {
        "url": text_of(ways.get("link_url")) or text_of(details.get("held_on_another_website_url")),
        "email": text_of(ways.get("email")),
        "postal_address": text_of(ways.get("postal_address")),
        "response_form_url": text_of(ways.get("attachment_url")),
    }
    return {key: value for key, value in respond.items() if value}
