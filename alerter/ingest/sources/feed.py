"""RSS 0.9x/1.0/2.0 and Atom feeds, read with feedparser from bytes alerter fetched itself."""

import calendar
import re
import xml.sax
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from alerter.ingest.clean import (
    InvalidURL,
    canonical_url,
    clean_text,
    declared_charset,
    decode_body,
    looks_like_url,
)
from alerter.ingest.sources.base import (
    Document,
    Entry,
    NoOptions,
    ParseResult,
    SourceError,
    SourceSpec,
)

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html)\b", re.I | re.S)
# GOV.UK answers a retired feed with 200 and a single entry saying so.
_FEED_ENDED_ID = re.compile(r"/feed-ended$")
_FEED_ENDED_TITLE = "this feed has ended"


class FeedKind:
    options_model: ClassVar[type[BaseModel]] = NoOptions

    def request_params(self, spec: SourceSpec) -> list[tuple[str, str]]:
        return []

    def parse(self, document: Document, spec: SourceSpec) -> ParseResult:
        result = ParseResult()
        text, charset_warning = decode_body(
            document.body, declared_charset(document.body, document.content_type)
        )
        if charset_warning:
            result.warnings.append(charset_warning)
        import feedparser  # here: a poll whose feeds all answer 304 never loads it

        # The body is now known-good text: hand feedparser UTF-8 and a prolog that says so.
        utf8_body = _XML_DECLARATION.sub("", text, count=1).encode("utf-8")
        parsed = feedparser.parse(
            utf8_body,
            response_headers={"content-type": "application/xml; charset=utf-8"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        if not parsed.get("version") and not parsed.entries:
            if _HTML_START.match(document.body) or "html" in (document.content_type or ""):
                raise SourceError(
                    f"expected an RSS or Atom feed but got an HTML page "
                    f"(Content-Type {document.content_type or 'missing'}); check the feed URL"
                )
            raise SourceError(f"not an RSS or Atom feed: {_bozo_reason(parsed)}")
        if _malformed(parsed):
            if not parsed.entries:
                raise SourceError(f"malformed feed, no entries recovered: {_bozo_reason(parsed)}")
            result.warnings.append(
                f"malformed feed ({_bozo_reason(parsed)}); {len(parsed.entries)} entries recovered"
            )
        base = parsed.feed.get("link") or document.url
        undated = 0
        for raw in parsed.entries:
            if _FEED_ENDED_ID.search(raw.get("id", "")) or (
                raw.get("title", "").strip().lower() == _FEED_ENDED_TITLE
            ):
                raise SourceError(
                    "the publisher has retired this feed (it says 'This feed has ended'); "
                    "find its replacement and update the source"
                )
            entry = _entry(raw, base, document.url)
            if entry is None:
                result.skipped += 1
                continue
            if entry.published is None and (raw.get("published") or raw.get("updated")):
                undated += 1
            result.entries.append(entry)
        return result.finish(undated=undated)


def _entry(raw: Any, base: str, feed_url: str) -> Entry | None:
    title = clean_text(raw.get("title"))
    link = _link(raw)
    if not title or not link:
        return None
    try:
        url = canonical_url(link, base=base if looks_like_url(base) else feed_url)
    except InvalidURL:
        return None
    metadata: dict[str, Any] = {}
    # GOV.UK organisation feeds prefix the title with the content type and repeat it as a category.
    for tag in raw.get("tags") or []:
        label = (tag.get("label") or tag.get("term") or "").strip()
        if label and title.lower().startswith(label.lower() + ": "):
            title = title[len(label) + 2 :].strip()
            metadata["display_type"] = label
            break
    summary = raw.get("summary") or ""
    if not summary and raw.get("content"):
        summary = raw.content[0].get("value", "")
    return Entry(
        identity=_identity(raw.get("id"), url),
        url=url,
        title=title,
        summary=clean_text(summary),
        published=_published(raw),
        metadata=metadata,
    )


def _link(raw: Any) -> str:
    """The entry's alternate link; else its guid, when that is a URL (an RSS permalink guid)."""
    links = [link for link in raw.get("links") or [] if link.get("href")]
    for link in links:
        if link.get("rel", "alternate") == "alternate":
            return str(link["href"])
    if links:
        return str(links[0]["href"])
    guid = (raw.get("id") or "").strip()
    return guid if looks_like_url(guid) else ""


def _identity(guid: str | None, url: str) -> str:
    """The entry's guid, or its URL. A URL-shaped guid is canonicalised: GOV.UK appends the
    publication time as a fragment, which changes whenever an item is re-timestamped."""
    guid = (guid or "").strip()
    if not guid:
        return url
    if looks_like_url(guid):
        try:
            return canonical_url(guid)
        except InvalidURL:
            return guid
    return guid


def _published(raw: Any) -> datetime | None:
    """The entry's published time, else its updated time.

    Read with `dict.get`: feedparser's own `get("updated_parsed")` falls back to the published time
    through a mapping it has deprecated, with a warning on every such entry.
    """
    for key in ("published_parsed", "updated_parsed"):
        if value := dict.get(raw, key):
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def _malformed(parsed: Any) -> bool:
    return bool(parsed.get("bozo")) and isinstance(
        parsed.get("bozo_exception"), xml.sax.SAXException
    )


def _bozo_reason(parsed: Any) -> str:
    error = parsed.get("bozo_exception")
    if isinstance(error, xml.sax.SAXParseException):
        return f"line {error.getLineNumber()}: {error.getMessage()}"
    return str(error) if error else "no feed elements found"
