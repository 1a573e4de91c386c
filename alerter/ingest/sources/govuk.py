"""GOV.UK's search API (`/api/search.json`): news with the content type and organisations that
the Atom feeds leave out."""

import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerter.ingest.clean import InvalidURL, canonical_url, clean_text
from alerter.ingest.sources.base import Document, Entry, ParseResult, SourceError, SourceSpec

# The search API answers 422 to any parameter it does not know, so filters are checked up front.
_FILTER_NAME = re.compile(r"^(filter|reject)_(any_|all_)?[a-z][a-z_]*$")
_FIELDS = (
    "title",
    "link",
    "description",
    "public_timestamp",
    "display_type",
    "content_store_document_type",
    "organisations",
)
_SORTABLE = ("public_timestamp", "release_timestamp", "closing_date", "start_date", "title")


class GovukOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str | None = None
    count: int = Field(default=50, ge=1, le=1500)
    order: str = "-public_timestamp"
    # e.g. {"filter_organisations": ["department-for-business-and-trade"]}; values are ORed.
    filters: dict[str, str | list[str]] = Field(default_factory=dict)

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, filters: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        return check_filters(filters)

    @field_validator("order")
    @classmethod
    def _sortable(cls, order: str) -> str:
        if order.removeprefix("-") not in _SORTABLE:
            raise ValueError(f"order must be one of {', '.join(_SORTABLE)}, optionally with '-'")
        return order


def check_filters(filters: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
    """The filters, if each is a search API filter name; the API answers any other with 422."""
    for name in filters:
        if not _FILTER_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a search API filter (use filter_<field>, reject_<field>, "
                "filter_any_<field> or filter_all_<field>)"
            )
    return filters


def filter_params(filters: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    """Each filter once per value: repeated values are ORed."""
    return [
        (name, value)
        for name, values in filters.items()
        for value in ([values] if isinstance(values, str) else values)
    ]


class GovukKind:
    options_model: ClassVar[type[BaseModel]] = GovukOptions

    def request_params(self, spec: SourceSpec) -> list[tuple[str, str]]:
        options = GovukOptions.model_validate(spec.options)
        params = [("count", str(options.count)), ("order", options.order)]
        if options.q:
            params.append(("q", options.q))
        params += filter_params(options.filters)
        params.extend(("fields", field) for field in _FIELDS)
        return params

    def parse(self, document: Document, spec: SourceSpec) -> ParseResult:
        try:
            payload = json.loads(document.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SourceError(
                f"the GOV.UK search API did not answer with JSON ({error}); check the URL"
            ) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise SourceError("the GOV.UK search API answer has no `results` list; check the URL")
        result = ParseResult()
        undated = 0
        for raw in payload["results"]:
            entry = _entry(raw, document.url) if isinstance(raw, dict) else None
            if entry is None:
                result.skipped += 1
                continue
            undated += entry.published is None and bool(raw.get("public_timestamp"))
            result.entries.append(entry)
        return result.finish(undated=undated)


def _entry(raw: dict[str, Any], api_url: str) -> Entry | None:
    title = clean_text(raw.get("title"))
    link = raw.get("link")
    if not title or not isinstance(link, str) or not link:
        return None
    try:
        url = canonical_url(link, base=api_url)  # links are site-relative paths
    except InvalidURL:
        return None
    metadata: dict[str, Any] = {}
    for name in ("display_type", "content_store_document_type", "format"):
        if isinstance(raw.get(name), str):
            metadata[name] = raw[name]
    organisations = [
        {key: org[key] for key in ("slug", "title", "acronym") if org.get(key)}
        for org in raw.get("organisations") or []
        if isinstance(org, dict)
    ]
    if organisations:
        metadata["organisations"] = organisations
    return Entry(
        identity=url,
        url=url,
        title=title,
        summary=clean_text(raw.get("description")),
        published=_timestamp(raw.get("public_timestamp")),
        metadata=metadata,
    )


def _timestamp(value: Any) -> datetime | None:
    """GOV.UK writes both `2017-12-07T12:54:39Z` and `2023-08-16T11:17:43.000+01:00`."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
