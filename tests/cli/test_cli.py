import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session
from typer.testing import CliRunner

from alerter.cli import app
from alerter.config import Settings
from subscriptions.models import Member
from tests.support.fake_web import FakeWeb, Reply
from tests.support.feeds import Story, rss
from tests.support.newsroom import add_subscriber, store_consultation

RSS = "application/rss+xml; charset=utf-8"
runner = CliRunner()


def declare(path: Path, *sources: tuple[str, str]) -> None:
    path.write_text(
        "".join(
            f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\npublisher = "{name}"\n'
            for name, url in sources
        ),
        encoding="utf-8",
    )


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def recent_feed() -> bytes:
    now = datetime.now(UTC)
    return rss(
        [
            Story(
                "Tariff-rate quota for steel goods reopens",
                "https://news.example/trq?utm_source=rss",
                now - timedelta(hours=2),
                summary="<p>The quota <b>reopens</b> on Monday.</p>",
            ),
            Story(
                "Cast metals skills week announced",
                "https://news.example/skills",
                now - timedelta(days=2),
            ),
        ]
    )


def test_poll_reports_each_source_as_json_and_exits_0_when_some_fail(
    env_settings: Settings, web: FakeWeb
) -> None:
    good = web.serve_bytes("/feed", recent_feed(), RSS)
    declare(env_settings.sources, ("Good", good), ("Broken", web.route("/gone", Reply(410))))

    result = runner.invoke(app, ["poll", "--json"])

    assert result.exit_code == 0, result.output
    reports = {r["source"]: r for r in json_lines(result.stdout)}
    assert reports["Good"]["status"] == "fetched" and reports["Good"]["new"] == 2
    assert reports["Broken"]["status"] == "failed"
    assert "HTTP 410" in str(reports["Broken"]["error"])


def test_sources_json_shows_health_fields(env_settings: Settings, web: FakeWeb) -> None:
    declare(env_settings.sources, ("Broken", web.route("/gone", Reply(500))))
    runner.invoke(app, ["poll"])

    result = runner.invoke(app, ["sources", "--json"])

    [health] = json_lines(result.stdout)
    assert health["name"] == "Broken" and health["kind"] == "feed"
    assert "HTTP 500" in str(health["last_error"])
    assert health["consecutive_failures"] == 1
    assert health["last_success"] is None and health["next_poll"] is not None


def test_items_json_lists_clean_canonical_items_newest_first(
    env_settings: Settings, web: FakeWeb
) -> None:
    declare(env_settings.sources, ("News", web.serve_bytes("/feed", recent_feed(), RSS)))
    runner.invoke(app, ["poll"])

    result = runner.invoke(app, ["items", "--json"])

    newest, older = json_lines(result.stdout)
    assert newest["title"] == "Tariff-rate quota for steel goods reopens"
    assert newest["url"] == "https://news.example/trq"
    assert newest["summary"] == "The quota reopens on Monday."
    assert newest["source"] == "News" and newest["backlog"] is True
    assert {"id", "published", "first_seen"} <= newest.keys()
    assert older["title"] == "Cast metals skills week announced"


def test_items_filters_by_date_source_and_limit(env_settings: Settings, web: FakeWeb) -> None:
    declare(env_settings.sources, ("News", web.serve_bytes("/feed", recent_feed(), RSS)))
    runner.invoke(app, ["poll"])
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")

    recent = json_lines(runner.invoke(app, ["items", "--json", "--since", since]).stdout)
    limited = json_lines(runner.invoke(app, ["items", "--json", "--limit", "1"]).stdout)
    other = json_lines(runner.invoke(app, ["items", "--json", "--source", "Elsewhere"]).stdout)

    assert [item["title"] for item in recent] == ["Tariff-rate quota for steel goods reopens"]
    assert len(limited) == 1
    assert other == []


def test_polling_an_unknown_source_is_an_error(env_settings: Settings) -> None:
    result = runner.invoke(app, ["poll", "--source", "Nope"])

    assert result.exit_code == 2
    assert "no source named Nope" in result.output


def test_a_broken_sources_file_stops_the_command_with_a_clear_error(env_settings: Settings) -> None:
    env_settings.sources.write_text('[[sources]]\nname = "X"\nkind = "rss"\n', encoding="utf-8")

    result = runner.invoke(app, ["poll"])

    assert result.exit_code == 2
    assert "kind must be one of feed, html, govuk" in result.output


def test_deadlines_send_sends_the_reminders_due_once(
    env_settings: Settings, session: Session
) -> None:
    # Six and a half days ahead: the 7-day reminder is due today whatever the hour.
    stored = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    store_consultation(session, datetime.now(UTC) + timedelta(days=6, hours=12), stored=stored)
    jo = add_subscriber(session, "jo@alfed.example", ["tariffs"], joined=stored)
    member = session.get(Member, jo)
    assert member is not None
    member.deadline_reminders = True
    session.commit()

    first = runner.invoke(app, ["deadlines", "send"])
    again = runner.invoke(app, ["deadlines", "send"])

    assert first.exit_code == 0, first.output
    assert "reminders due: 1" in first.output and "sent 1" in first.output
    assert "sent 0" in again.output
    [sent] = Path("outbox").glob("*.eml")
    assert sent.name.startswith("deadline-reminder-")
