"""A local Hansard API: `/search/contributions/{type}.json` over the spoken contributions a test
holds, filtered and paged with the `queryParameters.*` names, answered as a
`SearchContributionsQueryResult`."""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_web import FakeWeb, Reply, Request

FIXTURES = Path(__file__).parent.parent / "fixtures"
SPOKEN_PATH = "/search/contributions/Spoken.json"
_TAG = re.compile(r"<[^>]+>")


def load_contributions(fixture: str = "hansard_spoken_contributions.json") -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    return records


@dataclass
class FakeHansardApi:
    web: FakeWeb
    contributions: list[dict[str, Any]] = field(default_factory=list)
    failing_status: int | None = None
    extra_results: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.web.route(SPOKEN_PATH, self._answer)

    @property
    def spoken_url(self) -> str:
        return self.web.url(SPOKEN_PATH)

    def queries(self) -> list[dict[str, list[str]]]:
        return [
            parse_qs(urlsplit(r.path).query)
            for r in self.web.requests
            if r.path.split("?")[0] == SPOKEN_PATH
        ]

    def _answer(self, request: Request) -> Reply:
        if self.failing_status:
            return _json(self.failing_status, {"Message": "An error has occurred."})
        query = {
            name.removeprefix("queryParameters."): values
            for name, values in parse_qs(urlsplit(request.path).query).items()
        }
        term = query.get("searchTerm", [""])[0].lower()
        start = query.get("startDate", [""])[0]
        house = query.get("house", [""])[0]
        chosen = [
            c
            for c in self.contributions
            if term in _TAG.sub(" ", c["ContributionTextFull"] or "").lower()
            and (not start or c["SittingDate"][:10] >= start)
            and (not house or c["House"] == house)
        ]
        chosen.sort(
            key=lambda c: c["SittingDate"], reverse=query.get("orderBy") != ["SittingDateAsc"]
        )
        skip = int(query.get("skip", ["0"])[0])
        take = int(query.get("take", ["20"])[0])
        return _json(
            200,
            {
                "SearchTerms": [term],
                "SpokenResultCount": len(chosen),
                "WrittenResultCount": 0,
                "CorrectionsResultCount": 0,
                "DivisionsResultCount": 0,
                "Results": chosen[skip : skip + take] + self.extra_results,
                "TotalResultCount": len(chosen),
            },
        )


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})
