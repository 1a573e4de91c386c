import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

import alerter.ingest.poll
from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.delivery import OutboxTransport
from alerter.digests.runs import run_digest
from alerter.health import STALE_AFTER, beat
from alerter.ingest.parser_pool import ParserPool
from alerter.ingest.poll import SourceReport, backoff_delay, poll_sources
from alerter.ingest.sources.catalog import source_health, sync_source_file
from alerter.ingest.store import MAX_TITLE
from alerter.models import Item, Source, WorkerHeartbeat
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.models import Frequency
from tests.support.fake_web import FakeWeb, Reply, Request
from tests.support.feeds import Story, rss
from tests.support.newsroom import add_subscriber

START = datetime(2026, 2, 4, 9, 0, tzinfo=UTC)
RSS = "application/rss+xml; charset=utf-8"


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def declare(path: Path, *entries: str) -> None:
    path.write_text("\n".join(entries), encoding="utf-8")


def feed_source(name: str, url: str, **extra: object) -> str:
    lines = [f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\npublisher = "{name}"']
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def poll(
    engine: sa.Engine, settings: Settings, clock: Clock, **kwargs: object
) -> dict[str, SourceReport]:
    with Session(engine) as session:
        sync_source_file(session, settings.sources)
        session.commit()
    reports = poll_sources(engine, settings, clock=clock, **kwargs)  # type: ignore[arg-type]
    return {report.source: report for report in reports}


def source_row(engine: sa.Engine, name: str) -> Source:
    with Session(engine) as session:
        return session.exec(select(Source).where(Source.name == name)).one()


def titles(engine: sa.Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(Item.title).order_by(col(Item.title))))


def two_stories(day: datetime = START) -> bytes:
    return rss(
        [
            Story(
                "Steel safeguard quota reopens for Q2",
                "https://news.example/quota",
                day - timedelta(hours=3),
                guid="q-1",
            ),
            Story(
                "Aluminium scrap export data published",
                "https://news.example/scrap",
                day - timedelta(hours=5),
                guid="s-1",
            ),
        ]
    )


def test_a_poll_stores_the_feed_and_a_second_poll_costs_one_304(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    url = web.serve_bytes("/feed", two_stories(), RSS, etag='"v1"')
    declare(sources_file, feed_source("News", url))

    first = poll(engine, settings, Clock())
    second = poll(engine, settings, Clock(START + timedelta(hours=1)))

    assert (first["News"].status, first["News"].new) == ("fetched", 2)
    assert (second["News"].status, second["News"].new) == ("not_modified", 0)
    assert web.requests_to("/feed")[1].headers["if-none-match"] == '"v1"'
    assert titles(engine) == [
        "Aluminium scrap export data published",
        "Steel safeguard quota reopens for Q2",
    ]


def test_a_poll_of_unchanged_feeds_loads_no_classifier_and_starts_no_parser(
    engine: sa.Engine,
    settings: Settings,
    sources_file: Path,
    web: FakeWeb,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declare(
        sources_file,
        feed_source("News", web.serve_bytes("/feed", two_stories(), RSS, etag='"v1"')),
        feed_source("Press", web.serve_bytes("/press", two_stories(), RSS, etag='"p1"')),
    )
    poll(engine, settings, Clock())

    def untouched(*args: object) -> None:
        raise AssertionError("a poll of unchanged feeds used the parser")

    monkeypatch.setattr(alerter.ingest.poll, "load_classifier", untouched)
    monkeypatch.setattr(ParserPool, "start", untouched)
    again = poll(engine, settings, Clock(START + timedelta(hours=1)))

    assert [report.status for report in again.values()] == ["not_modified", "not_modified"]


def test_the_first_poll_is_backlog_and_later_items_are_news(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    url = web.serve_bytes("/feed", two_stories(), RSS)
    declare(sources_file, feed_source("News", url))
    poll(engine, settings, Clock())
    later = START + timedelta(hours=2)
    web.serve_bytes(
        "/feed",
        rss(
            [
                Story(
                    "Energy-intensive industries relief extended",
                    "https://news.example/eii",
                    later,
                    guid="e-1",
                )
            ]
        )
        + b"",
        RSS,
    )
    web.serve_bytes(
        "/feed",
        rss(
            [
                Story(
                    "Energy-intensive industries relief extended",
                    "https://news.example/eii",
                    later,
                    guid="e-1",
                ),
                Story(
                    "Steel safeguard quota reopens for Q2",
                    "https://news.example/quota",
                    START,
                    guid="q-1",
                ),
            ]
        ),
        RSS,
    )

    report = poll(engine, settings, Clock(later))["News"]

    with Session(engine) as session:
        backlog = dict(session.exec(select(Item.title, Item.backlog)).all())
    assert (report.new, report.unchanged, report.backlog) == (1, 1, False)
    assert backlog == {
        "Steel safeguard quota reopens for Q2": True,
        "Aluminium scrap export data published": True,
        "Energy-intensive industries relief extended": False,
    }


def test_an_edited_entry_is_reported_updated_not_new(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    url = web.serve_bytes("/feed", two_stories(), RSS)
    declare(sources_file, feed_source("News", url))
    poll(engine, settings, Clock())
    web.serve_bytes(
        "/feed", two_stories().replace(b"reopens for Q2", b"reopens for Q2 on 1 April"), RSS
    )

    report = poll(engine, settings, Clock(START + timedelta(hours=1)))["News"]

    assert (report.new, report.updated) == (0, 1)
    assert "Steel safeguard quota reopens for Q2 on 1 April" in titles(engine)


def test_a_feed_url_keeps_its_query_string(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    web.serve_bytes("/search/news-and-communications.atom", two_stories(), RSS)
    declare(
        sources_file,
        feed_source(
            "Finder", web.url("/search/news-and-communications.atom?keywords=critical+minerals")
        ),
    )

    poll(engine, settings, Clock())

    assert web.requests[0].path == "/search/news-and-communications.atom?keywords=critical+minerals"


def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 60_000_000, compresslevel=9)


BROKEN: dict[str, tuple[Callable[[FakeWeb], str], str]] = {
    "refused": (lambda web: "http://127.0.0.1:9/feed", "connection refused"),
    "timeout": (lambda web: web.route("/slow", Reply(delay=5, body=b"late")), "within 3 s"),
    "not found": (lambda web: web.route("/404", Reply(404)), "HTTP 404"),
    "gone": (lambda web: web.route("/410", Reply(410)), "HTTP 410"),
    "server error": (lambda web: web.route("/500", Reply(500)), "HTTP 500"),
    "redirect loop": (
        lambda web: web.route("/loop", Reply(302, headers={"Location": "/loop"})),
        "redirect",
    ),
    "html page": (
        lambda web: web.route(
            "/page",
            Reply(
                200,
                b"<!DOCTYPE html><html><body><p>Our news</p></body></html>",
                {"Content-Type": "text/html"},
            ),
        ),
        "got an HTML page",
    ),
    "too large": (
        lambda web: web.route("/big", Reply(200, b"<rss>" + b" " * 300_000, {"Content-Type": RSS})),
        "larger than",
    ),
    "gzip bomb": (
        lambda web: web.route(
            "/bomb", Reply(200, gzip_bomb(), {"Content-Type": RSS, "Content-Encoding": "gzip"})
        ),
        "larger than",
    ),
}


def test_every_broken_source_is_recorded_and_the_others_still_ingested(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    good = web.serve_bytes("/good", two_stories(), RSS)
    declarations = [feed_source("Good", good)]
    declarations += [feed_source(name, make(web)) for name, (make, _) in BROKEN.items()]
    declare(sources_file, *declarations)
    small = settings.model_copy(update={"fetch_max_bytes": 200_000})

    reports = poll(engine, small, Clock())

    assert reports["Good"].new == 2
    for name, (_, expected) in BROKEN.items():
        assert reports[name].status == "failed", name
        row = source_row(engine, name)
        assert expected in (row.last_error or ""), (name, row.last_error)
        assert row.consecutive_failures == 1


def test_a_failing_source_backs_off_and_recovers(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    web.route("/feed", Reply(500))
    declare(sources_file, feed_source("Flaky", web.url("/feed"), poll_minutes=30))
    clock = Clock()
    poll(engine, settings, clock)
    clock.now += timedelta(minutes=1)
    poll(engine, settings, clock)  # a manual poll does not wait for the back-off

    failing = source_row(engine, "Flaky")
    assert failing.consecutive_failures == 2
    assert failing.next_poll_at == clock.now + timedelta(minutes=60)

    clock.now += timedelta(minutes=30)
    assert poll(engine, settings, clock, due_only=True) == {}  # still backing off
    web.serve_bytes("/feed", two_stories(), RSS)
    clock.now += timedelta(minutes=31)
    report = poll(engine, settings, clock, due_only=True)["Flaky"]

    recovered = source_row(engine, "Flaky")
    assert report.new == 2
    assert (recovered.consecutive_failures, recovered.last_error) == (0, None)


def test_a_poll_holds_no_write_lock_while_it_fetches(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    def answer_after_another_process_wrote(_request: Request) -> Reply:
        # The web app or the worker writing while the feed is slow to answer.
        with Session(engine) as session:
            beat(session, "host:2", START, START)
        return Reply(200, two_stories(), {"Content-Type": RSS})

    declare(
        sources_file, feed_source("News", web.route("/feed", answer_after_another_process_wrote))
    )

    report = poll(engine, settings, Clock())["News"]

    assert (report.status, report.new) == ("fetched", 2), report.error
    with Session(engine) as session:
        assert session.get(WorkerHeartbeat, "host:2") is not None


def test_backoff_doubles_caps_at_a_day_and_honours_retry_after() -> None:
    assert backoff_delay(30, 1, None) == timedelta(minutes=30)
    assert backoff_delay(30, 3, None) == timedelta(minutes=120)
    assert backoff_delay(30, 20, None) == timedelta(hours=24)
    assert backoff_delay(30, 1, timedelta(hours=3)) == timedelta(hours=3)


def test_a_source_claimed_by_another_poller_is_reported_busy(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    url = web.serve_bytes("/feed", two_stories(), RSS)
    declare(sources_file, feed_source("News", url))
    poll(engine, settings, Clock())
    with Session(engine) as session:
        row = session.exec(select(Source)).one()
        row.claimed_until = START + timedelta(minutes=10)
        session.add(row)
        session.commit()

    report = poll(engine, settings, Clock(START + timedelta(minutes=1)))["News"]

    assert report.status == "busy"
    assert len(web.requests_to("/feed")) == 1


def claimed_by_a_worker(engine: sa.Engine, heartbeat_at: datetime) -> None:
    """The one source held by worker "host:4242" for ten more minutes, and that worker's last
    heartbeat."""
    with Session(engine) as session:
        row = session.exec(select(Source)).one()
        row.claimed_until, row.claimed_by = START + timedelta(minutes=10), "host:4242"
        session.add(row)
        session.add(WorkerHeartbeat(worker="host:4242", started_at=START, beat_at=heartbeat_at))
        session.commit()


def test_a_dead_workers_claim_lapses_as_soon_as_its_heartbeat_does(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    url = web.serve_bytes("/feed", two_stories(), RSS)
    declare(sources_file, feed_source("News", url))
    poll(engine, settings, Clock())
    now = START + timedelta(minutes=1)
    claimed_by_a_worker(engine, heartbeat_at=now - STALE_AFTER - timedelta(seconds=1))

    report = poll(engine, settings, Clock(now))["News"]

    assert report.status == "fetched"
    assert len(web.requests_to("/feed")) == 2
    assert source_row(engine, "News").claimed_by is None  # released after the poll


def test_a_live_workers_claim_holds(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    url = web.serve_bytes("/feed", two_stories(), RSS)
    declare(sources_file, feed_source("News", url))
    poll(engine, settings, Clock())
    now = START + timedelta(minutes=1)
    claimed_by_a_worker(engine, heartbeat_at=now - timedelta(seconds=30))

    report = poll(engine, settings, Clock(now))["News"]

    assert report.status == "busy"
    assert len(web.requests_to("/feed")) == 1


def test_malformed_xml_keeps_the_recovered_entries_and_says_so(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    broken = two_stories().replace(b"</channel></rss>", b"<item><title>Half an item</channel>")
    declare(sources_file, feed_source("Broken", web.serve_bytes("/feed", broken, RSS)))

    report = poll(engine, settings, Clock())["Broken"]

    assert report.new == 2
    assert any("malformed" in warning for warning in source_row(engine, "Broken").last_warnings)


def test_problems_that_do_not_stop_a_source_are_recorded_as_warnings(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    declare(
        sources_file,
        feed_source("Charset", web.serve_fixture("/c", "feed_wrong_charset.xml", RSS)),
        feed_source("Dates", web.serve_fixture("/d", "feed_future_and_bad_dates.rss", RSS)),
        feed_source("ALFED", web.serve_fixture("/a", "alfed_wordpress_feed.rss", RSS)),
    )

    reports = poll(engine, settings, Clock())

    assert all(report.status == "fetched" for report in reports.values())
    assert "declared charset" in " ".join(source_row(engine, "Charset").last_warnings)
    assert "date could not be read" in " ".join(source_row(engine, "Dates").last_warnings)
    assert "skipped" in " ".join(source_row(engine, "ALFED").last_warnings)
    assert reports["ALFED"].skipped == 2


def test_a_feed_item_with_a_1_mb_title_is_stored_capped_and_its_topics_digest_still_goes(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb, tmp_path: Path
) -> None:
    declare(sources_file, feed_source("News", web.serve_bytes("/feed", two_stories(), RSS)))
    poll(engine, settings, Clock())  # the backlog
    with Session(engine) as session:
        add_subscriber(session, "ann@castings.example", ["tariffs"], joined=START)
    later = START + timedelta(hours=2)
    absurd = "Anti-dumping duties on aluminium extrusions " * 25_000  # 1.1 MB
    web.serve_bytes("/feed", rss([Story(absurd, "https://news.example/duties", later)]), RSS)

    report = poll(engine, settings, Clock(later))["News"]
    with Session(engine) as session:
        _, sent = run_digest(
            session,
            OutboxTransport(tmp_path / "outbox", "alerts@alerter.example"),
            settings.model_copy(update={"secret_key": "s"}),
            load_taxonomy(DEFAULT_TOPICS_FILE),
            Frequency.WEEKLY,
            START + timedelta(days=7),
        )

    assert (report.status, report.new) == ("fetched", 1)
    [title] = [t for t in titles(engine) if t.startswith("Anti-dumping")]
    assert len(title) <= MAX_TITLE
    # What staff see on the Sources page and in `alerter sources`.
    [warning] = source_health(source_row(engine, "News"))["warnings"]
    assert warning.startswith("1 title was longer than 300 characters and cut short")
    assert "https://news.example/duties" in warning
    assert (sent.sent, sent.failed) == (1, 0)
    [digest] = (tmp_path / "outbox").glob("*.eml")
    assert b"Anti-dumping duties on aluminium" in digest.read_bytes()


def test_a_retired_feed_and_a_page_whose_selectors_match_nothing_fail(
    engine: sa.Engine, settings: Settings, sources_file: Path, web: FakeWeb
) -> None:
    page = web.serve_fixture("/news/", "cmf_news_listing.html", "text/html")
    declare(
        sources_file,
        feed_source(
            "Ended", web.serve_fixture("/ended", "feed_ended.atom", "application/atom+xml")
        ),
        f'[[sources]]\nname = "CMF"\nkind = "html"\nurl = "{page}"\npublisher = "CMF"\n'
        'item_selector = "div.post"\ntitle_selector = "h2"\nlink_selector = "a"\n',
    )

    reports = poll(engine, settings, Clock())

    assert reports["Ended"].status == reports["CMF"].status == "failed"
    assert "This feed has ended" in (source_row(engine, "Ended").last_error or "")
    assert "no element matched `div.post`" in (source_row(engine, "CMF").last_error or "")
    assert "layout may have changed" in (source_row(engine, "CMF").last_error or "")


def test_a_report_reads_as_one_line_and_its_warnings() -> None:
    report = SourceReport("ALFED", "fetched", new=3, updated=1, merged=2, skipped=1, backlog=True)
    report.warnings.append("entry 4: no link")

    assert report.lines() == [
        "ALFED: fetched, 3 new (backlog), 1 updated, 2 already known from another source,"
        " 1 skipped",
        "  warning: entry 4: no link",
    ]


def test_a_failed_report_reads_as_its_error_alone() -> None:
    report = SourceReport("CMF", "failed", error="HTTP 503", warnings=["not read"])

    assert report.lines() == ["CMF: FAILED: HTTP 503"]
