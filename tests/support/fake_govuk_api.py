"""A local GOV.UK: the search API (`/api/search.json`) over the content items a test holds,
strict about its parameters as the real one is (422 for any it does not know), and the content
API (`/api/content/<base path>`) answering each item."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_web import FakeWeb, Reply, Request

FIXTURES = Path(__file__).parent.parent / "fixtures"
SEARCH_PATH = "/api/search.json"
CONTENT_PREFIX = "/api/content"
_KNOWN = {"q", "count", "start", "order", "fields"}
_DISPLAY_TYPES = {
    "open_consultation": "Open consultation",
    "closed_consultation": "Closed consultation",
    "consultation_outcome": "Consultation outcome",
    "consultation": "Consultation",
    "open_call_for_evidence": "Open call for evidence",
    "closed_call_for_evidence": "Closed call for evidence",
    "call_for_evidence_outcome": "Call for evidence outcome",
    "call_for_evidence": "Call for evidence",
}


def load_items(fixture: str = "govuk_consultation_items.json") -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    return records


@dataclass
class FakeGovuk:
    web: FakeWeb
    items: list[dict[str, Any]] = field(default_factory=list)
    failing: dict[str, int] = field(default_factory=dict)  # path -> status
    extra_results: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.web.route(SEARCH_PATH, self._search)
        self.web.route_tree(CONTENT_PREFIX, self._content)

    @property
    def search_url(self) -> str:
        return self.web.url(SEARCH_PATH)

    def item(self, base_path: str) -> dict[str, Any]:
        return next(i for i in self.items if i["base_path"] == base_path)

    def searches(self) -> list[dict[str, list[str]]]:
        return [
            parse_qs(urlsplit(r.path).query)
            for r in self.web.requests
            if r.path.split("?")[0] == SEARCH_PATH
        ]

    def content_reads(self) -> list[str]:
        return [
            r.path.removeprefix(CONTENT_PREFIX)
            for r in self.web.requests
            if r.path.startswith(CONTENT_PREFIX + "/")
        ]

    def _search(self, request: Request) -> Reply:
        if SEARCH_PATH in self.failing:
            return _json(self.failing[SEARCH_PATH], {"error": "Internal error"})
        query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
        unknown = [
            name
            for name in query
            if name not in _KNOWN and not name.startswith(("filter_", "reject_"))
        ]
        if unknown:
            return _json(422, {"error": f"Unexpected parameters: {', '.join(unknown)}"})
        chosen = [i for i in self.items if _matches(i, query)]
        chosen.sort(key=lambda i: i["public_updated_at"], reverse=True)
        start = int(query.get("start", ["0"])[0])
        count = int(query.get("count", ["10"])[0])
        fields = set(query.get("fields", [])) or {"title", "link", "description"}
        results = [_result(i, fields) for i in chosen[start : start + count]]
        return _json(
            200,
            {
                "results": results + self.extra_results,
                "total": len(chosen),
                "start": start,
                "aggregates": {},
                "suggested_queries": [],
                "suggested_autocomplete": [],
                "es_cluster": "A",
            },
        )

    def _content(self, request: Request) -> Reply:
        path = urlsplit(request.path).path
        if path in self.failing:
            return _json(self.failing[path], {"error": {"code": self.failing[path]}})
        base_path = path.removeprefix(CONTENT_PREFIX)
        found = [i for i in self.items if i["base_path"] == base_path]
        if not found:
            return _json(404, {"error": {"code": 404, "message": "Could not find content item"}})
        return _json(200, found[0])


def _matches(item: dict[str, Any], query: dict[str, list[str]]) -> bool:
    types = query.get("filter_content_store_document_type")
    if types and item["document_type"] not in types:
        return False
    slugs = {org["base_path"].rsplit("/", 1)[-1] for org in item["links"]["organisations"]}
    organisations = query.get("filter_organisations")
    if organisations and not slugs & set(organisations):
        return False
    q = query.get("q", [""])[0].lower()
    if q and q not in (item["title"] + " " + item["description"]).lower():
        return False
    if stamp := query.get("filter_public_timestamp", [""])[0]:
        since = stamp.removeprefix("from:")
        if item["public_updated_at"][:10] < since:
            return False
    return True


def _result(item: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    details = item["details"]
    every = {
        "title": item["title"],
        "link": item["base_path"],
        "description": item["description"],
        "public_timestamp": item["public_updated_at"],
        "start_date": details.get("opening_date"),
        "end_date": details.get("closing_date"),
        "display_type": _DISPLAY_TYPES.get(item["document_type"], ""),
        "content_store_document_type": item["document_type"],
        "organisations": [
            {
                "slug": org["base_path"].rsplit("/", 1)[-1],
                "title": org["title"],
                "link": org["base_path"],
                "organisation_state": "live",
            }
            for org in item["links"]["organisations"]
        ],
    }
    result = {name: value for name, value in every.items() if name in fields}
    # Fields every result carries, whatever was asked for.
    result.update(index="govuk", es_score=None, _id=item["base_path"], document_type="edition")
    return result


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})
