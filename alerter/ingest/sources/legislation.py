"""New legislation from legislation.gov.uk's Atom feeds: UK statutory instruments (and any other
types) whose text matches the search terms, newest publication first, keyed on the stable
legislation id (`http://www.legislation.gov.uk/id/uksi/2026/123`).

Fair use (legislation.gov.uk's policy): an identifying User-Agent with a contact, at most 3,000
requests in 5 minutes per address (we space ours 0.6 s apart: one query a poll, a page or two),
and a conditional request for the first page, which its CDN caches for an hour."""

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urljoin, urlsplit

from pydantic import BaseModel, Field, field_validator

from alerter.ingest.clean import clean_text
from alerter.ingest.sources.apis import MAX_PAGES, api_datetime, capped_warning
from alerter.ingest.sources.base import (
    ApiClient,
    ApiOptions,
    Document,
    Entry,
    ParseResult,
    Record,
    SourceError,
    SourceSpec,
    Window,
)

WEBSITE = "https://www.legislation.gov.uk"
PREFIX = "legislation:"
_ATOM = "{http://www.w3.org/2005/Atom}"
_UKM = "{http://www.legislation.gov.uk/namespaces/metadata}"
_ID = re.compile(r"^https?://www\.legislation\.gov\.uk/id/([a-z]+(?:/[A-Za-z0-9-]+)+)$")
_TYPE = re.compile(r"^[a-z]{3,10}$")
# Items re-published within this time of the last poll are read again.
_OVERLAP = timedelta(days=2)


class LegislationOptions(ApiOptions):
    # legislation.gov.uk's short type codes: uksi, ukpga, ssi, wsi, nisr, ukdsi...
    types: list[str] = Field(default_factory=lambda: ["uksi"], min_length=1)
    # Matched against the full text (with stemming), ORed into one query; none means every new
    # item of the types.
    search_terms: list[str] = Field(default_factory=list)
    match: str = Field(default="text", pattern="^(text|title)$")

    @field_validator("types")
    @classmethod
    def _type_codes(cls, types: list[str]) -> list[str]:
        for code in types:
            if not _TYPE.match(code):
                raise ValueError(f"{code!r} is not a legislation type code such as uksi or ukpga")
        return types


def search_query(terms: list[str]) -> str:
    """The terms as one legislation.gov.uk search: phrases quoted, joined with upper-case OR
    (lower-case "or" would be a word to match)."""
    return " OR ".join(f'"{t.strip()}"' if " " in t.strip() else t.strip() for t in terms)


class LegislationKind:
    options_model: ClassVar[type[BaseModel]] = LegislationOptions
    request_interval: ClassVar[float] = 0.6

    async def collect(self, spec: SourceSpec, client: ApiClient, window: Window) -> ParseResult:
        options = LegislationOptions.model_validate(spec.options)
        since = window.since(overlap=_OVERLAP, backlog=timedelta(options.backlog_days))
        site = str(spec.url)
        url = urljoin(site, f"/{'+'.join(options.types)}/data.feed")
        params: list[tuple[str, str]] = [("sort", "published")]
        if options.search_terms:
            params.append((options.match, search_query(options.search_terms)))
        result = ParseResult()
        for page in range(MAX_PAGES):
            document = await client.get(url, params, conditional=page == 0)
            if document is None:  # the first page has not changed since the last poll
                return result
            feed = parse_feed(document)
            result.skipped += feed.skipped
            result.entries += [e for e in feed.entries if e.published and e.published >= since]
            older = any(e.published and e.published < since for e in feed.entries)
            if older or feed.next_link is None:
                break
            url, params = _next_page(site, params, feed.next_link)
        else:
            result.warnings.append(capped_warning("the feed", len(result.entries)))
        return result.finish(skipped="entries skipped for want of an id or title")


def _next_page(
    site: str, params: list[tuple[str, str]], next_link: str
) -> tuple[str, list[tuple[str, str]]]:
    """The next page's request: the link's path on the source's own site (links say http://,
    the site is https), with our query updated by the link's (its `page`)."""
    link = urlsplit(next_link)
    linked = parse_qsl(link.query)
    names = {name for name, _ in linked}
    return urljoin(site, link.path), [p for p in params if p[0] not in names] + linked


@dataclass(frozen=True)
class Feed:
    entries: list[Entry]
    skipped: int
    next_link: str | None  # rel="next", absent on the last page


def parse_feed(document: Document) -> Feed:
    """The entries of one page of a legislation feed, and its next page's address."""
    try:
        # The body is size-capped by the fetch; expat refuses entity expansion bombs.
        root = ElementTree.fromstring(document.body)
    except ElementTree.ParseError as error:
        raise SourceError(
            f"legislation.gov.uk did not answer with an Atom feed ({error})"
        ) from None
    if root.tag != f"{_ATOM}feed":
        raise SourceError(
            f"legislation.gov.uk answered with {root.tag!r}, not an Atom feed; check the source URL"
        )
    entries: list[Entry] = []
    skipped = 0
    for element in root.findall(f"{_ATOM}entry"):
        entry = legislation_entry(element)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    next_url = next(
        (
            link.get("href")
            for link in root.findall(f"{_ATOM}link")
            if link.get("rel") == "next" and link.get("href")
        ),
        None,
    )
    return Feed(entries, skipped, next_url)


def legislation_entry(element: ElementTree.Element) -> Entry | None:
    match = _ID.match((element.findtext(f"{_ATOM}id") or "").strip())
    title = clean_text(element.findtext(f"{_ATOM}title"))
    if match is None or not title:
        return None
    path = match.group(1)  # uksi/2026/123
    summary = clean_text(element.findtext(f"{_ATOM}summary"))
    metadata: dict[str, Any] = {"legislation_type": path.split("/")[0]}
    for name, key, attribute in (
        ("DocumentMainType", "document_main_type", "Value"),
        ("Year", "year", "Value"),
        ("Number", "number", "Value"),
        ("CreationDate", "made", "Date"),
    ):
        value = _attribute(element, name, attribute)
        if value:
            metadata[key] = value
    subjects = [c.get("term") for c in element.findall(f"{_ATOM}category") if c.get("term")]
    if subjects:
        metadata["subjects"] = subjects
    external_id = PREFIX + path
    updated = (element.findtext(f"{_ATOM}updated") or "").strip()
    return Entry(
        identity=external_id,
        url=f"{WEBSITE}/{path}",
        title=title,
        # For many items the summary only repeats the title.
        summary="" if summary == title else summary,
        published=_published(element),
        metadata=metadata,
        record=Record(
            external_id=external_id,
            revision=updated or None,
            document_type="legislation",
            status="repealed" if title.endswith("(repealed)") else None,
        ),
    )


def _attribute(element: ElementTree.Element, name: str, attribute: str) -> str:
    child = element.find(f"{_UKM}{name}")
    return (child.get(attribute) or "").strip() if child is not None else ""


def _published(element: ElementTree.Element) -> datetime | None:
    return api_datetime(element.findtext(f"{_ATOM}published")) or api_datetime(
        element.findtext(f"{_ATOM}updated")
    )
