"""Benchmark: a weekly digest for 100,000 members through a fake SendGrid on 127.0.0.1.

12 topics, 300 new items, each member's topics drawn from a skewed popularity (a few topics,
such as tariffs, followed by most members; others by few). Planning and sending both count,
as in `alerter digest send`. The fake SendGrid runs in its own process.

Runs it twice, each on a freshly filled database: with SendGrid answering every request, then
with 2 % of Mail Send requests failing (half 429 with Retry-After: 1, half SendGrid's own 500,
both answers that nothing was taken; seeded, so every run draws the same faults). Prints for
each the wall time (target under 60 s without faults), the sending process's peak memory
(target under 500 MB), the API requests made, against the bound of two requests (the batch
and the Mail Send) per distinct content plus two per 1,000 members, and how many members got
exactly one digest. Run from the repository root:

    .venv/bin/python -m bench.digest_send [--members N] [--database-url URL] [--fault-rate R]
"""

import argparse
import json
import math
import multiprocessing
import random
import resource
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.db import create_db_engine, migrate
from alerter.delivery import transport_for
from alerter.digests.runs import PlanReport, run_digest
from alerter.ingest.sources.base import Entry
from alerter.ingest.store import store_entries, story_index
from alerter.ledger.sender import SendReport
from alerter.models import Delivery, Source
from alerter.topics.labelling import classify_items, load_classifier
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.members import email_hash
from subscriptions.models import Frequency, Member, MemberStatus, MemberTopic
from tests.support.fake_sendgrid import API_KEY, FakeSendGrid, Faults

ITEMS = 300
LABELLED = Path(__file__).parent.parent / "tests" / "fixtures" / "topics"
# Two topics beyond the shipped ten, to make the twelve of the benchmark.
EXTRA_TOPICS = """
[[topics]]
id = "standards"
label = "Standards and product regulation"
description = "UKCA and CE marking, British Standards, product safety rules."
strong = ["UKCA", "CE marking", "British Standard*", "BSI", "product safety"]
phrases = ["standard*", "certification", "conformity"]

[[topics]]
id = "markets"
label = "Metal markets and prices"
description = "Aluminium and steel prices, demand, output and market reports."
strong = ["LME", "metal price*", "aluminium price*", "steel price*"]
phrases = ["price*", "demand", "output", "market*", "production"]
"""
# How likely a member is to follow each topic: tariffs and trade agreements are what most of
# a metals association's members care about; skills and events far fewer.
POPULARITY = {
    "tariffs": 0.7,
    "trade-agreements": 0.55,
    "critical-minerals": 0.4,
    "energy": 0.35,
    "net-zero": 0.3,
    "recycling": 0.25,
    "markets": 0.2,
    "funding": 0.15,
    "consultations": 0.12,
    "standards": 0.08,
    "skills": 0.05,
    "events": 0.04,
}


FAULT_SEED = 2026


def serve_sendgrid(ready: Connection, fault_rate: float) -> None:
    faults = Faults(fault_rate, FAULT_SEED) if fault_rate else None
    with FakeSendGrid(keep_bodies=False, faults=faults) as fake:
        ready.send(fake.url)
        ready.recv()  # until told to stop


def stories() -> list[tuple[str, str]]:
    records = [
        json.loads(line)
        for name in ("dev.jsonl", "dev_more.jsonl", "dev_third.jsonl")
        for line in (LABELLED / name).read_text(encoding="utf-8").splitlines()
    ]
    return [(r["title"], r.get("summary", "")) for r in records if r.get("topics")]


def fill(engine: sa.Engine, topics_file: Path, members: int, rng: random.Random) -> None:
    joined = datetime.now(UTC) - timedelta(days=7)
    with Session(engine) as session:
        source = Source(
            name="GOV.UK", kind="feed", url="https://gov.example/feed", publisher="GOV.UK"
        )
        session.add(source)
        session.flush()
        chosen = rng.sample(stories(), ITEMS)
        entries = [
            Entry(
                f"n{n}",
                f"https://gov.example/news/{n}",
                title,
                summary,
                joined + timedelta(hours=n % 150),
            )
            for n, (title, summary) in enumerate(chosen)
        ]
        stored = store_entries(
            session,
            source,
            entries,
            now=joined + timedelta(days=1),
            backlog=False,
            stories=story_index(session),
        )
        classify_items(session, load_classifier(session, topics_file), stored.new_item_ids)
        session.commit()
    member_rows, topic_rows = [], []
    for n in range(1, members + 1):
        address = f"member{n}@works{n % 997}.example.co.uk"
        member_rows.append(
            {
                "id": n,
                "email": address,
                "email_hash": email_hash(address),
                "name": rng.choice(["Alex Smith", "Priya Patel", "Sam O'Brien", "", "Jo Evans"]),
                "organisation": f"Works {n % 997}",
                "frequency": Frequency.WEEKLY.value,
                "status": MemberStatus.ACTIVE.value,
                "created_at": joined,
                "confirmed_at": joined,
            }
        )
        followed = [t for t, p in POPULARITY.items() if rng.random() < p] or ["tariffs"]
        topic_rows += [{"member_id": n, "topic_id": t} for t in followed]
    with engine.begin() as connection:
        for table, rows in ((Member.__table__, member_rows), (MemberTopic.__table__, topic_rows)):
            for start in range(0, len(rows), 5000):
                connection.execute(sa.insert(table), rows[start : start + 5000])  # type: ignore[arg-type]


def fake_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stats") as answer:
        stats: dict[str, int] = json.load(answer)
        return stats


@dataclass
class Result:
    fault_rate: float
    plan: PlanReport
    report: SendReport
    wall: float
    peak: float
    rss_before: float
    contents: int
    stats: dict[str, int]


def send_once(args: argparse.Namespace, fault_rate: float) -> Result:
    """Fill a database, then plan and send the digest through a fake SendGrid."""
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory() as folder:
        topics_file = Path(folder) / "topics.toml"
        topics_file.write_text(DEFAULT_TOPICS_FILE.read_text(encoding="utf-8") + EXTRA_TOPICS)
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        engine = create_db_engine(url)
        migrate(engine)
        with engine.begin() as connection:  # a database given by URL serves both runs
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())
        print(f"filling {url.split('@')[-1]}: {ITEMS} items, {args.members:,} members ...")
        fill(engine, topics_file, args.members, rng)
        if engine.dialect.name == "postgresql":
            # Table statistics, as autovacuum keeps them for a database that has been running.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")

        ours, theirs = multiprocessing.Pipe()
        fake = multiprocessing.Process(
            target=serve_sendgrid, args=(theirs, fault_rate), daemon=True
        )
        fake.start()
        sendgrid_url = ours.recv()
        settings = Settings(
            database_url=url,
            topics=topics_file,
            secret_key="benchmark",
            mail_backend="sendgrid",
            sendgrid_api_key=API_KEY,
            sendgrid_base_url=sendgrid_url,
        )
        transport = transport_for(settings)
        print(f"sending, {fault_rate:.0%} of Mail Send requests failing ...")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        with Session(engine) as session:
            plan, report = run_digest(
                session,
                transport,
                settings,
                load_taxonomy(topics_file),
                Frequency.WEEKLY,
                datetime.now(UTC),
            )
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with engine.connect() as connection:
            contents = connection.execute(
                sa.select(sa.func.count(sa.distinct(Delivery.content_key)))  # type: ignore[arg-type]
            ).scalar_one()
        stats = fake_stats(sendgrid_url)
        ours.send("stop")
        fake.join(timeout=5)
        engine.dispose()
    return Result(fault_rate, plan, report, wall, peak, rss_before, contents, stats)


def show(result: Result, members: int) -> None:
    plan, report, stats = result.plan, result.report, result.stats
    bound = 2 * (result.contents + math.ceil(members / 1000))
    print(f"--- {result.fault_rate:.0%} of Mail Send requests failing")
    print(
        f"members planned          {plan.planned:,} of {plan.members:,} "
        f"({plan.nothing_new:,} with nothing new)"
    )
    print(
        f"sent / failed / in doubt / deferred  {report.sent:,} / {report.failed:,} / "
        f"{report.in_doubt:,} / {report.deferred:,}"
    )
    print(
        f"digests received         {stats['received_once']:,} members exactly one, "
        f"{stats['received_more']:,} more than one"
    )
    print(f"wall time                {result.wall:.1f} s (target < 60 s without faults)")
    print(
        f"peak memory              {result.peak:.0f} MB "
        f"({result.rss_before:.0f} MB before the run; target < 500 MB)"
    )
    print(
        f"distinct contents        {result.contents:,} ({report.emails_composed:,} emails composed)"
    )
    print(
        f"API requests             {stats['requests']:,} ({stats['mail_requests']:,} Mail Send, "
        f"{stats['batch_requests']:,} batch ids, {stats['cancel_requests']:,} cancels; "
        f"{stats['faults']:,} failed); bound without faults {bound:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.02, help="share of failing requests, second run"
    )
    args = parser.parse_args()
    results = [send_once(args, 0.0), send_once(args, args.fault_rate)]
    for result in results:
        show(result, args.members)


if __name__ == "__main__":
    main()
