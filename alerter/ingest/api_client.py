"""The client an API kind's `collect` talks to during a poll: the cycle's Fetcher (deadlines,
size caps, alerter's User-Agent), requests to each host spaced by the kind's interval, the
source's validators for a conditional request, and the revisions already stored."""

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import httpx
from sqlmodel import Session

from alerter.ingest.fetch import Fetcher, FetchError, NotModified, Validators
from alerter.ingest.sources.base import Document, RequestFailed, SourceError
from alerter.ingest.store import records_to_reread, stored_revisions

Sleep = Callable[[float], Awaitable[None]]


class HostPacer:
    """Spaces the requests to each host at least an interval apart, across every source of a
    poll cycle: two sources on one API share its fair-use limit."""

    def __init__(
        self, *, sleep: Sleep = asyncio.sleep, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._sleep = sleep
        self._monotonic = monotonic
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._next: dict[str, float] = {}

    async def wait(self, host: str, interval: float) -> None:
        """Return when a request to `host` may go."""
        if interval <= 0:
            return
        async with self._locks[host]:
            delay = self._next.get(host, 0.0) - self._monotonic()
            if delay > 0:
                await self._sleep(delay)
            self._next[host] = self._monotonic() + interval


class PollingClient:
    """One source's requests in one poll (implements `alerter.ingest.sources.base.ApiClient`)."""

    def __init__(
        self,
        fetcher: Fetcher,
        pacer: HostPacer,
        session: Session,
        *,
        validators: Validators,
        interval: float,
    ) -> None:
        self._fetcher = fetcher
        self._pacer = pacer
        self._session = session
        self._stored_validators = validators
        self._interval = interval
        # What to remember for the next poll's conditional request, and whether it was a 304.
        self.validators = Validators()
        self.not_modified = False

    async def get(
        self, url: str, params: Sequence[tuple[str, str]] = (), *, conditional: bool = False
    ) -> Document | None:
        full = httpx.URL(url).copy_merge_params(tuple(params))
        await self._pacer.wait(full.host, self._interval)
        sent = self._stored_validators if conditional else Validators()
        try:
            outcome = await self._fetcher.fetch(str(full), sent)
        except FetchError as error:
            raise RequestFailed(f"{_shown(full)}: {error}", retry_after=error.retry_after) from None
        if isinstance(outcome, NotModified):
            self.not_modified = True
            self.validators = sent
            return None
        if conditional:
            self.validators = outcome.validators
        return outcome.document

    async def get_json(self, url: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        document = await self.get(url, params)
        assert document is not None  # only a conditional request can be answered 304
        try:
            return json.loads(document.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SourceError(
                f"{_shown(httpx.URL(document.url))}: the answer is not JSON ({error}); "
                "check the source URL"
            ) from None

    def stored_revisions(self, external_ids: Collection[str]) -> dict[str, str | None]:
        return stored_revisions(self._session, external_ids)

    def records_to_reread(self, prefix: str, limit: int) -> list[str]:
        return records_to_reread(self._session, prefix, limit)


def _shown(url: httpx.URL) -> str:
    """A request as staff read it in an error: its path and query, shortened."""
    text = url.raw_path.decode("ascii", "replace")
    return text if len(text) <= 160 else text[:157] + "..."
