"""A local questions-statements API (written questions and written statements), serving the
records a test holds the way the real one does: filtered lists paged with skip/take under
`totalResults`, long texts shortened to "..." in lists, the full record by id."""

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_web import FakeWeb, Reply, Request

FIXTURES = Path(__file__).parent.parent / "fixtures"
QUESTIONS_PATH = "/api/writtenquestions/questions"
STATEMENTS_PATH = "/api/writtenstatements/statements"
# Lists cut texts longer than this, ending them in "..." as the real API does.
LIST_TEXT_LIMIT = 200
_TAG = re.compile(r"<[^>]+>")


def load_records(fixture: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))
    return records


@dataclass
class FakeQuestionsApi:
    web: FakeWeb
    questions: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    # Paths (without query) answered with this status instead, e.g. a failing record by id.
    failing: dict[str, int] = field(default_factory=dict)
    # Extra raw results appended to every list answer, for malformed records.
    extra_results: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.web.route_tree(QUESTIONS_PATH, self._answer_questions)
        self.web.route_tree(STATEMENTS_PATH, self._answer_statements)

    @property
    def questions_url(self) -> str:
        return self.web.url(QUESTIONS_PATH)

    @property
    def statements_url(self) -> str:
        return self.web.url(STATEMENTS_PATH)

    def question(self, question_id: int) -> dict[str, Any]:
        return next(q for q in self.questions if q["id"] == question_id)

    def list_requests(self, path: str = QUESTIONS_PATH) -> list[dict[str, list[str]]]:
        """The query of each list request made, as parsed parameters."""
        return [
            parse_qs(urlsplit(r.path).query)
            for r in self.web.requests
            if r.path.split("?")[0] == path
        ]

    def _answer_questions(self, request: Request) -> Reply:
        return self._answer(
            request,
            QUESTIONS_PATH,
            self.questions,
            windows={
                "tabledWhenFrom": "dateTabled",
                "answeredWhenFrom": "dateAnswered",
                "correctedWhenFrom": "dateAnswerCorrected",
            },
            texts=("heading", "questionText", "answerText"),
            order="dateTabled",
        )

    def _answer_statements(self, request: Request) -> Reply:
        return self._answer(
            request,
            STATEMENTS_PATH,
            self.statements,
            windows={"madeWhenFrom": "dateMade"},
            texts=("title", "text"),
            order="dateMade",
        )

    def _answer(
        self,
        request: Request,
        base: str,
        records: list[dict[str, Any]],
        *,
        windows: dict[str, str],
        texts: tuple[str, ...],
        order: str,
    ) -> Reply:
        parts = urlsplit(request.path)
        if parts.path in self.failing:
            return _json(self.failing[parts.path], {"title": "An error occurred"})
        if parts.path != base:
            return self._by_id(parts.path.removeprefix(base + "/"), records, base)
        query = parse_qs(parts.query)
        chosen = [r for r in records if _matches(r, query, windows, texts)]
        chosen.sort(key=lambda r: (r.get(order) or "", r["id"]), reverse=True)
        skip = int(query.get("skip", ["0"])[0])
        take = int(query.get("take", ["20"])[0])
        page = [_listed(r, base) for r in chosen[skip : skip + take]]
        return _json(200, {"totalResults": len(chosen), "results": page + self.extra_results})

    def _by_id(self, tail: str, records: list[dict[str, Any]], base: str) -> Reply:
        found = [r for r in records if str(r["id"]) == tail]
        if not found:
            return _json(404, {"title": "Not Found", "status": 404})
        return _json(200, {"value": found[0], "links": _links(found[0], base)})


def _matches(
    record: dict[str, Any],
    query: dict[str, list[str]],
    windows: dict[str, str],
    texts: tuple[str, ...],
) -> bool:
    if term := query.get("searchTerm", [""])[0].lower():
        words = " ".join(_TAG.sub(" ", record.get(name) or "") for name in texts).lower()
        if term not in words:
            return False
    bodies = query.get("answeringBodies")
    if bodies and str(record.get("answeringBodyId")) not in bodies:
        return False
    house = query.get("house", ["Bicameral"])[0]
    if house != "Bicameral" and record.get("house") != house:
        return False
    for parameter, date_field in windows.items():
        if parameter in query:
            value = (record.get(date_field) or "")[:10]
            if not value or value < query[parameter][0]:
                return False
    return True


def _listed(record: dict[str, Any], base: str) -> dict[str, Any]:
    value = copy.deepcopy(record)
    for name in ("questionText", "answerText", "text"):
        text = value.get(name)
        if isinstance(text, str) and len(text) > LIST_TEXT_LIMIT:
            value[name] = text[: LIST_TEXT_LIMIT - 3] + "..."
    return {"value": value, "links": _links(record, base)}


def _links(record: dict[str, Any], base: str) -> list[dict[str, str]]:
    noun = "Questions" if "questions" in base else "Statements"
    return [{"rel": "self", "href": f"/{noun}/{record['id']}", "method": "GET"}]


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})
