import asyncio
import os
import signal

from alerter.parser_pool import ParserPool
from alerter.sources.base import Document, SourceSpec
from tests.feeds import Story, rss

SPEC = SourceSpec(name="News", kind="feed", url="https://news.example/feed", publisher="News")
FEED = Document(
    "https://news.example/feed",
    rss([Story("Steel safeguard quota reopens", "https://news.example/q", guid="q")]),
)


def test_documents_are_parsed_in_worker_processes() -> None:
    async def run() -> tuple[list[str], set[int]]:
        async with ParserPool(2) as pool:
            parsed = await pool.parse(FEED, SPEC)
            pids = set(pool._executor._processes) if pool._executor else set()  # type: ignore[attr-defined]
        return [entry.title for entry in parsed.entries], pids

    titles, pids = asyncio.run(run())

    assert titles == ["Steel safeguard quota reopens"]
    assert pids and os.getpid() not in pids


def test_a_killed_worker_does_not_lose_the_parse() -> None:
    async def run() -> list[str]:
        async with ParserPool(1) as pool:
            await pool.parse(FEED, SPEC)
            for pid in list(pool._executor._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
            parsed = await pool.parse(FEED, SPEC)
        return [entry.title for entry in parsed.entries]

    assert asyncio.run(run()) == ["Steel safeguard quota reopens"]
