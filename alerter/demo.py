"""`alerter demo`: the whole product on one machine with no network and no credentials.

It serves three sample sources on 127.0.0.1 (shaped like a GOV.UK organisation feed, the ALFED
WordPress feed and the CMF news page, from alerter/demo_stories.toml), points a fresh SQLite
database at them, polls once (each source's backlog), adds sample members and a staff account,
lets new stories appear and polls again, sends every member's digest to the outbox, and starts
the web app and the worker."""

import os
import secrets
import shutil
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from alerter.config import PACKAGE_DIR, Settings, get_settings
from alerter.db import get_engine, session_scope
from alerter.delivery import transport_for
from alerter.digests.runs import run_digest
from alerter.ingest.poll import poll_sources
from alerter.ingest.sources.catalog import sync_source_file
from alerter.render import render
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.links import member_link
from subscriptions.members import add_member, find_member
from subscriptions.models import Frequency
from subscriptions.staff import create_staff
from subscriptions.tokens import Purpose

STORIES_FILE = PACKAGE_DIR / "demo_stories.toml"
STAGES = ("earlier", "new")


@dataclass(frozen=True)
class DemoStory:
    post_id: int  # its place in the file: a stable id, as a CMS gives each post
    source: str  # dbt | alfed | cmf
    stage: str  # earlier | new
    slug: str
    title: str
    summary: str
    published: datetime


@dataclass(frozen=True)
class DemoMember:
    email: str
    name: str
    organisation: str
    topics: tuple[str, ...]
    frequency: str


MEMBERS = (
    DemoMember(
        "priya.shah@extrusions.example",
        "Priya Shah",
        "Midlands Extrusions Ltd",
        ("tariffs", "trade-agreements", "critical-minerals"),
        "weekly",
    ),
    DemoMember(
        "tom.evans@foundry.example",
        "Tom Evans",
        "Evans Castings",
        ("energy", "net-zero", "skills"),
        "weekly",
    ),
    DemoMember(
        "sara.khan@recycling.example",
        "Sara Khan",
        "Khan Metals Recycling",
        ("recycling", "consultations"),
        "daily",
    ),
)
STAFF_EMAIL = "staff@alerter.example"

# Where each sample source lives on the demo server, and what is served there.
PATHS = {
    "dbt": ("/government/organisations/department-for-business-and-trade.atom", "demo/dbt.atom"),
    "alfed": ("/alfed/feed/", "demo/alfed.rss"),
    "cmf": ("/cmf/news", "demo/cmf.html"),
}
CONTENT_TYPES = {
    "dbt": "application/atom+xml; charset=utf-8",
    "alfed": "application/rss+xml; charset=UTF-8",
    "cmf": "text/html; charset=utf-8",
}


def load_stories(now: datetime) -> list[DemoStory]:
    with STORIES_FILE.open("rb") as file:
        records = tomllib.load(file)["stories"]
    return [
        DemoStory(
            100 + n,
            r["source"],
            r["stage"],
            r["slug"],
            r["title"],
            r["summary"],
            (now - timedelta(days=r["days_ago"], hours=len(r["slug"]) % 7)).replace(microsecond=0),
        )
        for n, r in enumerate(records)
    ]


class DemoNews:
    """The sample sources on a local port. `stage` says how much of the news is out yet."""

    def __init__(self, stories: list[DemoStory]) -> None:
        self.stories = stories
        self.stage = STAGES[0]
        news = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                source = next((s for s, (path, _) in PATHS.items() if path == self.path), None)
                if source is None:
                    self.send_error(404)
                    return
                body = news.page(source).encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPES[source])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, source: str) -> str:
        out = STAGES[: STAGES.index(self.stage) + 1]
        shown = sorted(
            (s for s in self.stories if s.source == source and s.stage in out),
            key=lambda s: s.published,
            reverse=True,
        )
        stories = [
            {
                "post_id": s.post_id,
                "slug": s.slug,
                "title": s.title,
                "summary": s.summary,
                "at": s.published.isoformat(),
                "rfc822": format_datetime(s.published),
                "day": f"{s.published:%-d %B %Y}",
            }
            for s in shown
        ]
        updated = (shown[0].published if shown else datetime.now(UTC)).isoformat()
        return render(PATHS[source][1], base=self.base, stories=stories, updated=updated)

    def sources_file(self) -> str:
        """The demo's sources, declared as staff would declare the real ones."""
        return f"""\
[[sources]]
name = "GOV.UK: Department for Business and Trade (sample)"
kind = "feed"
url = "{self.base}{PATHS["dbt"][0]}"
publisher = "Department for Business and Trade"

[[sources]]
name = "ALFED news (sample)"
kind = "feed"
url = "{self.base}{PATHS["alfed"][0]}"
publisher = "Aluminium Federation (ALFED)"

[[sources]]
name = "CMF news (sample)"
kind = "html"
url = "{self.base}{PATHS["cmf"][0]}"
publisher = "Cast Metals Federation (CMF)"
item_selector = "article.news-card"
title_selector = ".news-card__title"
link_selector = ".news-card__title a"
date_selector = "time"
summary_selector = ".news-card__excerpt"
"""


def demo_environment(folder: Path, port: int) -> dict[str, str]:
    """The settings of the demo: everything inside its folder, on the embedded default."""
    return {
        "ALERTER_DATABASE_URL": f"sqlite:///{folder / 'alerter.db'}",
        "ALERTER_SOURCES": str(folder / "sources.toml"),
        "ALERTER_OUTBOX_DIR": str(folder / "outbox"),
        "ALERTER_SECRET_KEY_FILE": str(folder / "alerter.secret"),
        "ALERTER_BASE_URL": f"http://127.0.0.1:{port}",
        "ALERTER_MAIL_BACKEND": "outbox",
    }


def prepare(folder: Path, port: int, say: Callable[[str], None]) -> tuple[Settings, DemoNews]:
    """A fresh demo folder, its settings in the environment, and the sample news served."""
    if folder.exists():
        for name in ("alerter.db", "alerter.db-wal", "alerter.db-shm", "sources.toml"):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "outbox", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    news = DemoNews(load_stories(datetime.now(UTC)))
    (folder / "sources.toml").write_text(news.sources_file(), encoding="utf-8")
    os.environ.update(demo_environment(folder.resolve(), port))
    get_settings.cache_clear()
    get_engine.cache_clear()
    say(f"sample news served at {news.base} (3 sources: a feed, a WordPress feed, an HTML page)")
    return get_settings(), news


def new_staff_password() -> str:
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class DemoResult:
    outbox: Path
    digests: int
    manage_link: str  # the first sample member's
    staff_password: str


def run_demo(settings: Settings, news: DemoNews, say: Callable[[str], None]) -> DemoResult:
    """Poll, add members and staff, let news arrive, poll again, send every digest."""
    engine = get_engine()
    with session_scope(engine) as session:
        sync_source_file(session, settings.sources)
    first = poll_sources(engine, settings)
    backlog = sum(r.new for r in first)
    say(f"first poll: {backlog} items stored as each source's backlog (listed, never news)")
    password = new_staff_password()
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for member in MEMBERS:
            add_member(
                session,
                member.email,
                name=member.name,
                organisation=member.organisation,
                topics=member.topics,
                frequency=Frequency(member.frequency),
                consent_confirmed=True,
                added_by="alerter demo",
                now=now,
            )
            say(f"member {member.name}: {', '.join(member.topics)} ({member.frequency})")
        create_staff(session, STAFF_EMAIL, password, now)
        session.commit()
        first_member = find_member(session, MEMBERS[0].email)
        assert first_member is not None
        manage = member_link(settings, first_member, Purpose.MANAGE)
    news.stage = "new"
    second = poll_sources(engine, settings)
    say(f"second poll: {sum(r.new for r in second)} new items, classified by topic")
    transport = transport_for(settings)
    taxonomy = load_taxonomy(settings.topics)
    sent = 0
    with session_scope(engine) as session:
        for frequency in (Frequency.WEEKLY, Frequency.DAILY):
            _, report = run_digest(
                session, transport, settings, taxonomy, frequency, datetime.now(UTC)
            )
            sent += report.sent
            say(f"{frequency.value} digests: {report.sent} sent to the outbox")
    return DemoResult(settings.outbox_dir, sent, manage, password)
