"""Parsing and classifying fetched documents on the machine's other cores, so that a poll
cycle's CPU work runs alongside its fetching and storing instead of after them."""

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from alerter.ingest.sources import KINDS
from alerter.ingest.sources.base import ApiKind, Document, Entry, ParseResult, SourceSpec
from alerter.topics.classifier import Classification, Classifier
from alerter.topics.evidence import item_text

log = logging.getLogger(__name__)
_Result = TypeVar("_Result")

# A fork server started once per process hands out workers with the parsers (and the program's
# main module, which each worker would otherwise import again) already loaded; forking the
# poller itself is unsafe once it runs threads. The source kinds import their parsers only
# when they parse, so they are named here.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["__main__", "alerter.ingest.parser_pool", "bs4", "feedparser"])


@dataclass(frozen=True)
class Parsed:
    result: ParseResult
    # Each entry's topics, by entry identity: classified where it was parsed.
    classifications: dict[str, Classification]


def parse_document(document: Document, spec: SourceSpec, classifier: Classifier) -> Parsed:
    """Parse with the source's kind and classify the entries; pure, so it runs in any process."""
    kind = KINDS[spec.kind]
    assert not isinstance(kind, ApiKind), f"{spec.kind} sources are collected, not parsed"
    result = kind.parse(document, spec)
    return Parsed(result, classify_entries(result.entries, classifier))


def classify_entries(entries: list[Entry], classifier: Classifier) -> dict[str, Classification]:
    """Each entry's topics, by entry identity."""
    texts = [
        item_text(
            entry.title,
            entry.summary,
            entry.metadata,
            entry.record.document_type if entry.record else None,
        )
        for entry in entries
    ]
    classified = classifier.classify_many(texts)
    return {e.identity: c for e, c in zip(entries, classified, strict=True)}


# Each worker process's classifier, installed once when the worker starts.
_worker_classifier: Classifier | None = None


def _install(classifier: Classifier) -> None:
    global _worker_classifier
    _worker_classifier = classifier


def _parse_in_worker(document: Document, spec: SourceSpec) -> Parsed:
    assert _worker_classifier is not None
    return parse_document(document, spec, _worker_classifier)


def _classify_in_worker(entries: list[Entry]) -> dict[str, Classification]:
    assert _worker_classifier is not None
    return classify_entries(entries, _worker_classifier)


class ParserPool:
    """Worker processes that parse and classify; with 0 workers, parses inline.

    A pool outlives an event loop: the worker keeps one warm across its poll cycles (see
    `PoolKeeper`), while a one-off poll uses one as an async context manager and closes it."""

    def __init__(self, workers: int, classifier: Classifier) -> None:
        self._workers = workers
        self._classifier = classifier
        self._executor: ProcessPoolExecutor | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._started = False

    @property
    def classifier(self) -> Classifier:
        return self._classifier

    def start(self) -> None:
        """Begin starting the workers in a thread: the fork server takes a moment, and the
        cycle's fetching need not wait for it."""
        with self._lock:
            if self._workers and not self._started:
                self._started = True
                threading.Thread(target=self._start_workers, daemon=True).start()

    def _start_workers(self) -> None:
        try:
            self._executor = ProcessPoolExecutor(
                self._workers,
                mp_context=_CONTEXT,
                initializer=_install,
                initargs=(self._classifier,),
            )
            for _ in range(self._workers):
                self._executor.submit(int)  # the executor forks its workers on demand
        finally:
            self._ready.set()

    async def parse(self, document: Document, spec: SourceSpec) -> Parsed:
        return await self._run(parse_document, _parse_in_worker, document, spec)

    async def classify(self, entries: list[Entry]) -> dict[str, Classification]:
        """Topics for entries an API kind collected, by entry identity."""
        return await self._run(classify_entries, _classify_in_worker, entries)

    async def _run(
        self,
        inline: Callable[..., _Result],
        in_worker: Callable[..., _Result],
        *args: Any,
    ) -> _Result:
        if self._workers == 0:
            return inline(*args, self._classifier)
        self.start()
        if not self._ready.is_set():
            await asyncio.to_thread(self._ready.wait)
        loop = asyncio.get_running_loop()
        try:
            if self._executor is None:
                raise BrokenProcessPool("the parser processes did not start")
            return await loop.run_in_executor(self._executor, in_worker, *args)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): work here instead, until the pool is
            # replaced (the next poll cycle's, or the keeper's next pool).
            log.warning("parser processes failed; parsing in the poller instead")
            self._workers = 0
            return inline(*args, self._classifier)

    @property
    def usable(self) -> bool:
        """False once the worker processes have failed and parsing fell back to the poller."""
        return self._workers > 0 or not self._started

    def close(self) -> None:
        if self._started:
            self._ready.wait()
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None

    async def __aenter__(self) -> "ParserPool":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)


class PoolKeeper:
    """One warm ParserPool for a long-running process: starting worker processes costs most
    of a second, so the worker does it once, not every minute. The pool is replaced when the
    classifier it was given changes (a staff correction, an edited taxonomy), or after its
    processes failed."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ParserPool | None = None
        self._lock = threading.Lock()

    def pool_for(self, classifier: Classifier) -> ParserPool:
        with self._lock:
            current = self._pool
            if (
                current is None
                or not current.usable
                or (current.classifier.basis != classifier.basis)
            ):
                if current is not None:
                    current.close()
                current = self._pool = ParserPool(self._workers, classifier)
                current.start()
            return current

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
