"""Parsing and classifying fetched documents on the machine's other cores, so that a poll
cycle's CPU work runs alongside its fetching and storing instead of after them."""

import asyncio
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType

from alerter.classifier import Classification, Classifier, Text
from alerter.sources import KINDS
from alerter.sources.base import Document, ParseResult, SourceSpec

log = logging.getLogger(__name__)

# A fork server started once per process hands out workers with the parsers (and the program's
# main module, which each worker would otherwise import again) already loaded; forking the
# poller itself is unsafe once it runs threads.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["__main__", "alerter.parser_pool"])


@dataclass(frozen=True)
class Parsed:
    result: ParseResult
    # Each entry's topics, by entry identity: classified where it was parsed.
    classifications: dict[str, Classification]


def parse_document(document: Document, spec: SourceSpec, classifier: Classifier) -> Parsed:
    """Parse with the source's kind and classify the entries; pure, so it runs in any process."""
    result = KINDS[spec.kind].parse(document, spec)
    texts = [Text(entry.title, entry.summary, entry.metadata) for entry in result.entries]
    classified = classifier.classify_many(texts)
    return Parsed(result, {e.identity: c for e, c in zip(result.entries, classified, strict=True)})


# Each worker process's classifier, installed once when the worker starts.
_worker_classifier: Classifier | None = None


def _install(classifier: Classifier) -> None:
    global _worker_classifier
    _worker_classifier = classifier


def _parse_in_worker(document: Document, spec: SourceSpec) -> Parsed:
    assert _worker_classifier is not None
    return parse_document(document, spec, _worker_classifier)


class ParserPool:
    """Worker processes for one poll cycle; with 0 workers, parses inline."""

    def __init__(self, workers: int, classifier: Classifier) -> None:
        self._workers = workers
        self._classifier = classifier
        self._executor: Executor | None = None
        self._starting: asyncio.Future[None] | None = None

    def start(self) -> None:
        """Begin starting the workers in a thread: the fork server takes a moment, and the
        cycle's fetching need not wait for it."""
        if self._workers and self._starting is None:
            self._starting = asyncio.ensure_future(asyncio.to_thread(self._start_workers))

    def _start_workers(self) -> None:
        self._executor = ProcessPoolExecutor(
            self._workers, mp_context=_CONTEXT, initializer=_install, initargs=(self._classifier,)
        )
        for _ in range(self._workers):
            self._executor.submit(int)  # the executor forks its workers on demand

    async def parse(self, document: Document, spec: SourceSpec) -> Parsed:
        if self._workers == 0:
            return parse_document(document, spec, self._classifier)
        self.start()
        assert self._starting is not None
        await self._starting
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, _parse_in_worker, document, spec)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): parse the rest of this cycle here instead.
            log.warning("parser processes failed; parsing in the poller for this cycle")
            self._workers = 0
            return parse_document(document, spec, self._classifier)

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
