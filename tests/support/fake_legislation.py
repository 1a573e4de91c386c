"""A local legislation.gov.uk: list feeds (`/{type}+{type}/data.feed`) over the items a test
holds, in the Atom shape of the real feeds (openSearch and `leg:` paging elements, `rel="next"`
links, `ukm:` metadata), with `text`/`title` searches (upper-case OR), `sort=published`,
`page`, and an ETag per answer for conditional requests."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from tests.support.fake_web import FakeWeb, Reply, Request

FIXTURES = Path(__file__).parent.parent / "fixtures"
PAGE_SIZE = 20
_TERM = re.compile(r'"([^"]+)"|(\S+)')


def load_items(fixture: str = "legislation_new_items.json") -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    return records


@dataclass
class FakeLegislation:
    web: FakeWeb
    # {"type", "year", "number", "title", "published", "updated", "made", "main_type",
    #  "summary", "subjects", "text"}: "text" stands for the item's full text.
    items: list[dict[str, Any]] = field(default_factory=list)
    failing_status: int | None = None
    # Sent as the body instead of a feed, when set.
    body_override: bytes | None = None

    def __post_init__(self) -> None:
        self.web.route_tree("/", self._answer)

    def feed_requests(self) -> list[Request]:
        return [r for r in self.web.requests if r.path.split("?")[0].endswith("/data.feed")]

    def _answer(self, request: Request) -> Reply:
        parts = urlsplit(request.path)
        if not parts.path.endswith("/data.feed"):
            return Reply(404, b"not found")
        if self.failing_status:
            return Reply(self.failing_status, b"<html><body>Service unavailable</body></html>")
        if self.body_override is not None:
            return Reply(200, self.body_override, {"Content-Type": "application/atom+xml"})
        types = parts.path.removesuffix("/data.feed").strip("/").split("+")
        query = parse_qs(parts.query)
        chosen = [i for i in self.items if i["type"] in types and _matches(i, query)]
        if query.get("sort") == ["published"]:
            chosen.sort(key=lambda i: i["published"], reverse=True)
        else:  # the feeds' default: last modified
            chosen.sort(key=lambda i: i["updated"], reverse=True)
        page = int(query.get("page", ["1"])[0])
        shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        more = len(chosen) > page * PAGE_SIZE
        body = _feed(self.web.base_url + parts.path, query, shown, page, more).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"Content-Type": "application/atom+xml", "ETag": etag})


def _matches(item: dict[str, Any], query: dict[str, list[str]]) -> bool:
    for name, haystack in (("text", item["title"] + " " + item["text"]), ("title", item["title"])):
        if name in query:
            terms = [a or b for a, b in _TERM.findall(query[name][0]) if (a or b) != "OR"]
            if not any(term.lower() in haystack.lower() for term in terms):
                return False
    return True


def _feed(
    url: str, query: dict[str, list[str]], items: list[dict[str, Any]], page: int, more: bool
) -> str:
    flat = [(name, value) for name, values in query.items() if name != "page" for value in values]
    pages = [("first", 1)] + ([("next", page + 1)] if more else [])
    links = [
        f'<link rel="{rel}" type="application/atom+xml" href={quoteattr(_page_url(url, flat, n))}/>'
        for rel, n in pages
    ]
    updated = items[0]["updated"] if items else "2026-01-01T00:00:00Z"
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:leg="http://www.legislation.gov.uk/namespaces/legislation" '
        'xmlns:ukm="http://www.legislation.gov.uk/namespaces/metadata" '
        'xmlns:openSearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<id>{escape(url)}</id>"
        f'<link rel="self" type="application/atom+xml" href={quoteattr(url)}/>'
        f"<updated>{updated}</updated><title>Search Results</title>"
        f"<openSearch:itemsPerPage>{PAGE_SIZE}</openSearch:itemsPerPage>"
        f"<openSearch:startIndex>{(page - 1) * PAGE_SIZE + 1}</openSearch:startIndex>"
        # As in the real feeds, this is the page's count, not the total.
        f"<openSearch:totalResults>{len(items)}</openSearch:totalResults>"
        f"<leg:page>{page}</leg:page><leg:morePages>{1 if more else 0}</leg:morePages>"
        + "".join(links)
        + "".join(_entry(item) for item in items)
        + "</feed>"
    )


def _page_url(url: str, flat: list[tuple[str, str]], page: int) -> str:
    # The real feeds write their links with http://, whatever the request used.
    base = url.replace("https://", "http://")
    pairs = flat + ([("page", str(page))] if page > 1 else [])
    return base + ("?" + urlencode(pairs) if pairs else "")


def _entry(item: dict[str, Any]) -> str:
    path = f"{item['type']}/{item['year']}/{item['number']}"
    version = f"http://www.legislation.gov.uk/{path}/{item['made']}"
    categories = "".join(f"<category term={quoteattr(s)}/>" for s in item["subjects"])
    return (
        "<entry>"
        f"<id>http://www.legislation.gov.uk/id/{path}</id>"
        f"<title>{escape(item['title'])}</title>"
        f'<link rel="self" href="http://www.legislation.gov.uk/id/{path}"/>'
        f'<link href="{version}"/>'
        f'<link rel="alternate" type="application/xml" href="{version}/data.xml" title="XML"/>'
        f'<link rel="alternate" type="application/pdf" href="{version}/data.pdf" title="PDF"/>'
        '<link rel="http://purl.org/dc/terms/tableOfContents" type="application/xml" '
        f'href="http://www.legislation.gov.uk/{path}/contents" title="Table of Contents"/>'
        "<author><name/></author>"
        f"<updated>{item['updated']}</updated><published>{item['published']}</published>"
        f'<ukm:DocumentMainType Value="{item["main_type"]}"/><ukm:Year Value="{item["year"]}"/>'
        f'<ukm:Number Value="{item["number"]}"/><ukm:CreationDate Date="{item["made"]}"/>'
        f"{categories}<summary>{escape(item['summary'])}</summary>"
        "</entry>"
    )
