"""Benchmark: a one-off `alerter poll` as a user runs it (a whole process, timed from outside).

100 feeds of 50 items each, one feed on each of 100 loopback hosts (127.0.0.1-100), every
response delayed 300 ms, served by a process of its own with an ETag on every feed. The
headlines are bench/headlines.py's, a tenth of them another feed's story re-posted.

Two runs on a fresh database: the first poll (5,000 new items; target under 3 s), then the
same poll again with every feed answering 304 Not Modified (target under 1 s). With
`--rss2email PATH` (the `r2e` of an rss2email installation) it also times rss2email fetching
the same feeds without sending (target: alerter's first poll at least 10 times faster).
Run from the repository root:

    .venv/bin/python -m bench.poll_once [--database-url URL] [--rss2email PATH]
"""

import argparse
import hashlib
import json
import multiprocessing
import random
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.commands import ALERTER, Run, empty_database, run_timed
from bench.headlines import Headline, headlines, reposted
from tests.support.fake_web import FakeWeb, Reply, Request, Responder
from tests.support.feeds import Story, rss

FEEDS = 100
ITEMS_PER_FEED = 50
DELAY = 0.3
REPOSTED = 0.1  # share of items that are another feed's story


def make_feeds(rng: random.Random, now: datetime) -> list[bytes]:
    written = iter(headlines(FEEDS * ITEMS_PER_FEED, rng))
    chosen: list[list[Headline]] = []
    for feed in range(FEEDS):
        stories = []
        for n in range(ITEMS_PER_FEED):
            if feed and rng.random() < REPOSTED:
                other = chosen[rng.randrange(feed)]
                stories.append(reposted(other[n], rng))
            else:
                stories.append(next(written))
        chosen.append(stories)
    return [
        rss(
            [
                Story(
                    headline.title,
                    f"https://feed{feed}.example/news/{n}",
                    now - timedelta(hours=n),
                    summary=f"<p>{headline.summary}</p>",
                    guid=f"feed{feed}-{n}",
                )
                for n, headline in enumerate(stories)
            ],
            channel_title=f"Feed {feed}",
        )
        for feed, stories in enumerate(chosen)
    ]


def serve_feeds(bodies: list[bytes], urls: "multiprocessing.Queue[list[str]]") -> None:
    """Serve each feed from a host of its own, in a process of its own, as remote sites would
    be: the servers' threads must not compete with the poller for its interpreter."""

    def feed(body: bytes) -> Responder:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

        def respond(request: Request) -> Reply:
            if request.headers.get("if-none-match") == etag:
                return Reply(304, headers={"ETag": etag}, delay=DELAY)
            headers = {"Content-Type": "application/rss+xml", "ETag": etag}
            return Reply(200, body, headers, delay=DELAY)

        return respond

    servers = [FakeWeb(host=f"127.0.0.{n + 1}").start() for n in range(FEEDS)]
    urls.put(
        [
            server.route("/feed.xml", feed(body))
            for server, body in zip(servers, bodies, strict=True)
        ]
    )
    threading.Event().wait()  # until terminated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a database to empty and use (default: SQLite)")
    parser.add_argument("--rss2email", help="rss2email's r2e command, to time it on the feeds")
    args = parser.parse_args()
    bodies = make_feeds(random.Random(2026), datetime.now(UTC))
    urls: multiprocessing.Queue[list[str]] = multiprocessing.Queue()
    site = multiprocessing.Process(target=serve_feeds, args=(bodies, urls), daemon=True)
    site.start()
    feed_urls = urls.get(timeout=120)
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        sources = folder / "sources.toml"
        sources.write_text(
            "".join(
                f'[[sources]]\nname = "feed {n}"\nkind = "feed"\nurl = "{url}"\n'
                f'publisher = "Feed {n}"\n'
                for n, url in enumerate(feed_urls)
            )
        )
        url = args.database_url or f"sqlite:///{folder}/poll.db"
        empty_database(url)
        env = {"ALERTER_DATABASE_URL": url, "ALERTER_SOURCES": str(sources)}
        print(
            f"database {url.split('@')[-1]}; {FEEDS} feeds x {ITEMS_PER_FEED} items, "
            f"{DELAY * 1000:.0f} ms per response, {FEEDS} loopback hosts"
        )
        first = run_timed([ALERTER, "poll", "--json"], env)
        print(f"alerter poll, fresh database       {first.figures()} (target < 3 s)")
        print(f"  {_summary(first.stdout)}")
        again = run_timed([ALERTER, "poll", "--json"], env)
        print(f"alerter poll again, every feed 304  {again.figures()} (target < 1 s)")
        print(f"  {_summary(again.stdout)}")
        if args.rss2email:
            r2e = _rss2email(args.rss2email, folder, feed_urls)
            print(
                f"rss2email, same feeds (no sending) {r2e.figures()}: alerter "
                f"{r2e.wall / first.wall:.1f}x as fast (target at least 10x)"
            )
    site.terminate()


def _summary(output: str) -> str:
    reports = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    statuses: dict[str, int] = {}
    for report in reports:
        statuses[report["status"]] = statuses.get(report["status"], 0) + 1
    new = sum(report["new"] for report in reports)
    merged = sum(report["merged"] for report in reports)
    return f"sources {statuses}; {new} new items, {merged} merged into another feed's story"


def _rss2email(r2e: str, folder: Path, feed_urls: list[str]) -> Run:
    """rss2email set up on the same feeds, then one timed run that fetches without sending."""
    config, data = folder / "r2e.cfg", folder / "r2e.json"
    base = [r2e, "--config", str(config), "--data", str(data)]
    run_timed([*base, "new", "bench@alerter.example"])
    for n, url in enumerate(feed_urls):
        run_timed([*base, "add", f"feed{n}", url])
    return run_timed([*base, "run", "--no-send"])


if __name__ == "__main__":
    main()
