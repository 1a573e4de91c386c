"""A local committees API (committee business and publications), serving the records a test
holds the way the real one does: `ResourceCollection` answers paged with Skip/Take, business
summaries in lists and details (with the scope) by id."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_web import FakeWeb, Reply, Request

FIXTURES = Path(__file__).parent.parent / "fixtures"
BUSINESS_PATH = "/api/CommitteeBusiness"
PUBLICATIONS_PATH = "/api/Publications"
# What CommitteeBusinessDetails adds to a CommitteeBusinessSummary.
_DETAILS_ONLY = ("scope", "relatedInformation", "banner", "hcNumbers")


def load(fixture: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    return records


@dataclass
class FakeCommitteesApi:
    web: FakeWeb
    # {"committeeId": 365, "business": CommitteeBusinessDetails}: the API's business records
    # carry no committee, so the fake keeps which committee runs each beside it.
    business: list[dict[str, Any]] = field(default_factory=list)
    publications: list[dict[str, Any]] = field(default_factory=list)
    failing: dict[str, int] = field(default_factory=dict)  # path -> status

    def __post_init__(self) -> None:
        self.web.route_tree(BUSINESS_PATH, self._answer_business)
        self.web.route_tree(PUBLICATIONS_PATH, self._answer_publications)

    @property
    def business_url(self) -> str:
        return self.web.url(BUSINESS_PATH)

    @property
    def publications_url(self) -> str:
        return self.web.url(PUBLICATIONS_PATH)

    def inquiry(self, business_id: int) -> dict[str, Any]:
        return next(r["business"] for r in self.business if r["business"]["id"] == business_id)

    def requests_to(self, path: str) -> list[dict[str, list[str]]]:
        return [
            parse_qs(urlsplit(r.path).query)
            for r in self.web.requests
            if r.path.split("?")[0] == path
        ]

    def _answer_business(self, request: Request) -> Reply:
        parts = urlsplit(request.path)
        if parts.path in self.failing:
            return _json(self.failing[parts.path], {"title": "An error occurred"})
        if parts.path != BUSINESS_PATH:
            tail = parts.path.removeprefix(BUSINESS_PATH + "/")
            found = [r["business"] for r in self.business if str(r["business"]["id"]) == tail]
            return _json(200, found[0]) if found else _json(404, {"title": "Not Found"})
        query = parse_qs(parts.query)
        chosen = []
        for record in self.business:
            business = record["business"]
            if query.get("CurrentlyAcceptingEvidence") == ["true"] and not any(
                p["submissionType"] == "WrittenEvidence" for p in business["openSubmissionPeriods"]
            ):
                continue
            if "CommitteeId" in query and str(record["committeeId"]) not in query["CommitteeId"]:
                continue
            term = query.get("SearchTerm", [""])[0].lower()
            if term and term not in business["title"].lower():
                continue
            chosen.append({k: v for k, v in business.items() if k not in _DETAILS_ONLY})
        chosen.sort(key=lambda b: b["openDate"], reverse=True)
        return _page(query, chosen)

    def _answer_publications(self, request: Request) -> Reply:
        parts = urlsplit(request.path)
        if parts.path in self.failing:
            return _json(self.failing[parts.path], {"title": "An error occurred"})
        query = parse_qs(parts.query)
        chosen = []
        for publication in self.publications:
            if (
                "StartDate" in query
                and publication["publicationStartDate"][:10] < query["StartDate"][0][:10]
            ):
                continue
            if (
                "CommitteeId" in query
                and str(publication["committee"]["id"]) not in query["CommitteeId"]
            ):
                continue
            types = query.get("PublicationTypeIds")
            if types and str(publication["type"]["id"]) not in types:
                continue
            term = query.get("SearchTerm", [""])[0].lower()
            if term and term not in publication["description"].lower():
                continue
            chosen.append(publication)
        chosen.sort(key=lambda p: p["publicationStartDate"], reverse=True)
        return _page(query, chosen)


def _page(query: dict[str, list[str]], chosen: list[dict[str, Any]]) -> Reply:
    skip = int(query.get("Skip", ["0"])[0])
    take = int(query.get("Take", ["30"])[0])
    return _json(
        200,
        {
            "items": chosen[skip : skip + take],
            "totalResults": len(chosen),
            "itemsPerPage": take,
            "links": [{"rel": "self", "href": f"?Skip={skip}&Take={take}", "method": "GET"}],
        },
    )


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})
