"""Parsing fetched documents on the machine's other cores, so that a poll cycle's parsing runs
alongside its fetching and storing instead of after them."""

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from types import TracebackType

from alerter.sources import KINDS
from alerter.sources.base import Document, ParseResult, SourceSpec

# A fork server started once per process hands out workers with the parsers already imported;
# forking the poller itself is unsafe once it runs threads.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["alerter.sources"])


def parse_document(document: Document, spec: SourceSpec) -> ParseResult:
    """Parse with the source's kind; pure, so it can run in any process."""
    return KINDS[spec.kind].parse(document, spec)


class ParserPool:
    """Worker processes for one poll cycle; with 0 workers, parses inline."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: Executor | None = None

    def start(self) -> None:
        """Start the workers now, so that their start-up overlaps the cycle's fetching."""
        if self._workers and self._executor is None:
            self._executor = ProcessPoolExecutor(self._workers, mp_context=_CONTEXT)
            for _ in range(self._workers):
                self._executor.submit(int)

    async def parse(self, document: Document, spec: SourceSpec) -> ParseResult:
        if self._workers == 0:
            return parse_document(document, spec)
        self.start()
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, parse_document, document, spec)

    def __enter__(self) -> "ParserPool":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
