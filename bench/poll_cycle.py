"""Benchmark: one poll cycle over 100 local feeds of 50 items, each response delayed 300 ms.

Parsing, classifying and storing all count, as in a real cycle.

Prints the cycle's wall time (target under 3 s: the fetches overlap) and the items per second of
parse-and-store alone (target at least 2,000/s). Run from the repository root:

    .venv/bin/python -m bench.poll_cycle [--database-url URL]
"""

import argparse
import asyncio
import json
import multiprocessing
import random
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.db import create_db_engine, migrate
from alerter.ingest.parser_pool import Parsed, ParserPool, PoolKeeper
from alerter.ingest.poll import poll_sources
from alerter.ingest.sources.base import Document
from alerter.ingest.sources.catalog import spec_of, sync_source_file
from alerter.ingest.store import store_entries, story_index
from alerter.models import Source
from alerter.topics.classifier import Classifier
from alerter.topics.labelling import load_classifier, write_topics
from alerter.topics.model import shipped_model
from alerter.topics.taxonomy import load_taxonomy
from tests.support.fake_web import FakeWeb, Reply
from tests.support.feeds import Story, rss

FEEDS = 100
ITEMS_PER_FEED = 50
DELAY = 0.3
HOSTS = 25  # loopback addresses 127.0.0.1-25, four feeds each, as feeds spread over sites

# Realistic headlines and standfirsts: the labelled examples written for the topic tests.
LABELLED = Path(__file__).parent.parent / "tests" / "fixtures" / "topics"


def labelled_stories() -> list[tuple[str, str]]:
    return [
        (record["title"], record["summary"])
        for name in ("dev.jsonl", "dev_more.jsonl")
        for record in map(json.loads, (LABELLED / name).read_text(encoding="utf-8").splitlines())
    ]


def make_feed(rng: random.Random, feed: int, now: datetime) -> bytes:
    pool = labelled_stories()
    stories = []
    for n in range(ITEMS_PER_FEED):
        title, summary = rng.choice(pool)
        # A reference number keeps every headline distinct, as real ones are.
        link = f"https://feed{feed}.example/news/{n}?utm_source=rss"
        stories.append(
            Story(
                f"{title} (ref {feed}.{n})",
                link,
                now - timedelta(hours=n),
                summary=f"<p>{summary} <a href='{link}'>Read more</a></p>",
                guid=f"feed{feed}-{n}",
            )
        )
    return rss(stories, channel_title=f"Feed {feed}")


def fresh_engine(database_url: str | None, directory: Path, name: str) -> Engine:
    engine = create_db_engine(database_url or f"sqlite:///{directory / name}")
    migrate(engine)
    return engine


async def parse_and_store(
    session: Session, sources: list[Source], bodies: list[bytes], now: datetime, workers: int
) -> tuple[int, float]:
    stories = story_index(session)
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    classifier = Classifier(taxonomy, shipped_model(taxonomy))
    async with ParserPool(workers, classifier) as parser:
        await parser.parse(Document("https://warm.example/", bodies[0]), spec_of(sources[0]))
        started = time.perf_counter()

        async def parse(source: Source, body: bytes) -> tuple[Source, Parsed]:
            return source, await parser.parse(Document(source.url, body), spec_of(source))

        count = 0
        for parsing in asyncio.as_completed(
            [parse(source, body) for source, body in zip(sources, bodies, strict=True)]
        ):
            source, parsed = await parsing
            result = store_entries(
                session, source, parsed.result.entries, now=now, backlog=False, stories=stories
            )
            write_topics(
                session,
                {i: parsed.classifications[e] for i, e in result.new_items.items()},
                new_items=True,
            )
            session.commit()
            count += len(result.new_item_ids)
        return count, time.perf_counter() - started


def serve_feeds(bodies: list[bytes], urls: "multiprocessing.Queue[list[str]]") -> None:
    """Serve the feeds from a process of its own, as remote sites would be: the servers' threads
    must not compete with the poller for its interpreter."""
    servers = [FakeWeb(host=f"127.0.0.{h + 1}").start() for h in range(HOSTS)]
    reply = {"Content-Type": "application/rss+xml"}
    urls.put(
        [
            servers[feed % HOSTS].route(f"/feed{feed}.xml", Reply(200, body, reply, delay=DELAY))
            for feed, body in enumerate(bodies)
        ]
    )
    threading.Event().wait()  # until terminated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    args = parser.parse_args()
    rng = random.Random(2026)
    now = datetime.now(UTC)
    bodies = [make_feed(rng, feed, now) for feed in range(FEEDS)]
    urls: multiprocessing.Queue[list[str]] = multiprocessing.Queue()
    site = multiprocessing.Process(target=serve_feeds, args=(bodies, urls), daemon=True)
    site.start()
    with tempfile.TemporaryDirectory() as directory:
        sources_file = Path(directory) / "sources.toml"
        entries = []
        for feed, url in enumerate(urls.get(timeout=60)):
            entries.append(
                f'[[sources]]\nname = "feed {feed}"\nkind = "feed"\nurl = "{url}"\n'
                f'publisher = "Feed {feed}"\n'
            )
        sources_file.write_text("".join(entries))
        settings = Settings(database_url="sqlite://", sources=sources_file)

        engine = fresh_engine(args.database_url, Path(directory), "cycle.db")
        with Session(engine) as session:
            sync_source_file(session, sources_file)
            session.commit()
        # A cycle as the worker runs one: its parser processes are already warm (the worker
        # starts them once, not every minute). `alerter poll` run by hand pays about 0.8 s more.
        parsers = PoolKeeper(settings.parse_workers)
        with Session(engine) as session:
            warm = parsers.pool_for(load_classifier(session, DEFAULT_TOPICS_FILE))
            first = session.exec(select(Source)).first()
            assert first is not None
            asyncio.run(warm.parse(Document(first.url, bodies[0]), spec_of(first)))
        started = time.perf_counter()
        reports = poll_sources(engine, settings, parsers=parsers)
        cycle = time.perf_counter() - started
        parsers.close()
        stored = sum(report.new for report in reports)
        failed = [report.source for report in reports if report.status != "fetched"]
        print(
            f"poll cycle: {FEEDS} feeds x {ITEMS_PER_FEED} items, {DELAY * 1000:.0f} ms delay each"
        )
        print(
            f"  wall time {cycle:.2f} s (target < 3 s; serial fetching alone would take "
            f"{FEEDS * DELAY:.0f} s), {stored} items stored, failures: {failed or 'none'}"
        )

        # Parse and store alone, as a cycle does them (parsing in worker processes, storing in
        # the poller as each document is parsed), on an empty database of its own.
        if args.database_url:
            engine.dispose()
            print("  (parse-and-store measured on a temporary SQLite: the given database is full)")
        store_engine = fresh_engine(None, Path(directory), "store.db")
        with Session(store_engine) as session:
            sync_source_file(session, sources_file)
            session.commit()
            sources = list(session.exec(select(Source).order_by(Source.id)))
            count, elapsed = asyncio.run(
                parse_and_store(session, sources, bodies, now, settings.parse_workers)
            )
        print(
            f"parse and store: {count} items in {elapsed:.2f} s = {count / elapsed:,.0f} items/s "
            f"({settings.parse_workers} parser processes; target >= 2,000/s)"
        )
    site.terminate()


if __name__ == "__main__":
    main()
