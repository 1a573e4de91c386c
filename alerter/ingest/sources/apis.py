"""What the API kinds share: reading JSON answers page by page, UK dates written without an
offset, and fingerprints of records."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from alerter.ingest.clean import LONDON
from alerter.ingest.sources.base import ApiClient, Entry, SourceError

# How many pages one query may read in a poll: a safety net against a filter that matches
# everything, not a limit a well-configured source meets.
MAX_PAGES = 20


def api_datetime(value: Any) -> datetime | None:
    """An API's ISO 8601 time as aware UTC; one without an offset is UK time (Parliament's APIs
    write sitting dates and deadlines so). None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed.astimezone(UTC)


def uk_date(moment: datetime) -> str:
    """The UK calendar date of a moment, as the APIs' yyyy-mm-dd filters want it."""
    return moment.astimezone(LONDON).date().isoformat()


def uk_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)


def fingerprint(*parts: Any) -> str:
    """A short stable hash of a record's parts, as its revision."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def object_of(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (null, a list, a string)."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class OffsetPaging:
    """How an API pages: the names of its offset and page-size parameters, and where its answer
    keeps the total and the results."""

    skip: str
    take: str
    total: str
    results: str
    size: int


@dataclass
class Pages:
    results: list[Any]
    complete: bool  # False when MAX_PAGES stopped the reading


async def read_pages(
    client: ApiClient,
    url: str,
    params: Sequence[tuple[str, str]],
    paging: OffsetPaging,
    *,
    api_name: str,
) -> Pages:
    """Every result of one query, page by page until the total is reached (or MAX_PAGES)."""
    results: list[Any] = []
    offset = 0
    for _ in range(MAX_PAGES):
        page_params = [*params, (paging.skip, str(offset)), (paging.take, str(paging.size))]
        answer = await client.get_json(url, page_params)
        if not isinstance(answer, dict) or not isinstance(answer.get(paging.results), list):
            raise SourceError(
                f"the {api_name} answer has no `{paging.results}` list; check the source URL"
            )
        page = answer[paging.results]
        results.extend(page)
        offset += paging.size
        total = answer.get(paging.total)
        if not page or len(page) < paging.size or not isinstance(total, int) or offset >= total:
            return Pages(results, complete=True)
    return Pages(results, complete=False)


def capped_warning(query: str, read: int) -> str:
    return (
        f"{query}: stopped after {MAX_PAGES} pages ({read} results); the rest were not read, "
        "narrow the search"
    )


def drop_unchanged(client: ApiClient, entries: list[Entry]) -> list[Entry]:
    """The entries whose record is not stored at the same revision: re-reading their details,
    or storing a list's shortened text over the full text stored before, is then avoided."""
    stored = client.stored_revisions([e.record.external_id for e in entries if e.record])
    return [
        entry
        for entry in entries
        if entry.record is None
        or entry.record.revision is None
        or stored.get(entry.record.external_id, None) != entry.record.revision
    ]
