import asyncio
import os
import signal

from alerter.classifier import Classifier
from alerter.config import DEFAULT_TOPICS_FILE
from alerter.parser_pool import ParserPool
from alerter.sources.base import Document, SourceSpec
from alerter.topics import load_taxonomy
from tests.feeds import Story, rss

CLASSIFIER = Classifier(load_taxonomy(DEFAULT_TOPICS_FILE))
SPEC = SourceSpec(name="News", kind="feed", url="https://news.example/feed", publisher="News")
FEED = Document(
    "https://news.example/feed",
    rss([Story("Steel safeguard quota reopens", "https://news.example/q", guid="q")]),
)


def test_documents_are_parsed_and_classified_in_worker_processes() -> None:
    async def run() -> tuple[list[str], tuple[str, ...], set[int]]:
        async with ParserPool(2, CLASSIFIER) as pool:
            parsed = await pool.parse(FEED, SPEC)
            pids = set(pool._executor._processes) if pool._executor else set()  # type: ignore[attr-defined]
        [entry] = parsed.result.entries
        return [entry.title], parsed.classifications[entry.identity].topics, pids

    titles, topics, pids = asyncio.run(run())

    assert titles == ["Steel safeguard quota reopens"]
    assert topics == ("tariffs",)
    assert pids and os.getpid() not in pids


def test_a_killed_worker_does_not_lose_the_parse() -> None:
    async def run() -> list[str]:
        async with ParserPool(1, CLASSIFIER) as pool:
            await pool.parse(FEED, SPEC)
            for pid in list(pool._executor._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
            parsed = await pool.parse(FEED, SPEC)
        return [entry.title for entry in parsed.result.entries]

    assert asyncio.run(run()) == ["Steel safeguard quota reopens"]
