"""Parsing fetched documents on the machine's other cores, so that a poll cycle's parsing runs
alongside its fetching and storing instead of after them."""

import asyncio
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from alerter.sources import KINDS
from alerter.sources.base import Document, ParseResult, SourceSpec

log = logging.getLogger(__name__)

# A fork server started once per process hands out workers with the parsers (and the program's
# main module, which each worker would otherwise import again) already loaded; forking the
# poller itself is unsafe once it runs threads.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["__main__", "alerter.sources"])


def parse_document(document: Document, spec: SourceSpec) -> ParseResult:
    """Parse with the source's kind; pure, so it can run in any process."""
    return KINDS[spec.kind].parse(document, spec)


class ParserPool:
    """Worker processes for one poll cycle; with 0 workers, parses inline."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: Executor | None = None
        self._starting: asyncio.Future[None] | None = None

    def start(self) -> None:
        """Begin starting the workers in a thread: the fork server takes a moment, and the
        cycle's fetching need not wait for it."""
        if self._workers and self._starting is None:
            self._starting = asyncio.ensure_future(asyncio.to_thread(self._start_workers))

    def _start_workers(self) -> None:
        self._executor = ProcessPoolExecutor(self._workers, mp_context=_CONTEXT)
        for _ in range(self._workers):
            self._executor.submit(int)  # the executor forks its workers on demand

    async def parse(self, document: Document, spec: SourceSpec) -> ParseResult:
        if self._workers == 0:
            return parse_document(document, spec)
        self.start()
        assert self._starting is not None
        await self._starting
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, parse_document, document, spec)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): parse the rest of this cycle here instead.
            log.warning("parser processes failed; parsing in the poller for this cycle")
            self._workers = 0
            return parse_document(document, spec)

    async def __aenter__(self) -> "ParserPool":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._starting is not None:
            await self._starting
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
