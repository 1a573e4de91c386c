"""New legislation from legislation.gov.uk's Atom feeds (a local fake of the site): matching the
terms, keyed on the legislation id, conditional and paged as its fair use asks."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerter.config import Settings
from alerter.ingest.sources.legislation import search_query
from tests.support.api_polls import declare, poll_at, source_row, stored
from tests.support.fake_legislation import FakeLegislation, load_items
from tests.support.fake_web import FakeWeb

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
METALS = ["aluminium", "steel", "foundry", "critical minerals", "CBAM", "scrap metal"]


@pytest.fixture
def site(web: FakeWeb) -> FakeLegislation:
    return FakeLegislation(web, items=load_items())


@pytest.fixture
def metals_source(site: FakeLegislation, sources_file: Path) -> None:
    declare(
        sources_file, "Legislation: metals", "legislation", site.web.base_url, search_terms=METALS
    )


def test_the_terms_become_one_search_with_phrases_quoted_and_upper_case_or() -> None:
    assert search_query(["aluminium", "critical minerals", "CBAM"]) == (
        'aluminium OR "critical minerals" OR CBAM'
    )


@pytest.mark.usefixtures("metals_source")
def test_the_first_poll_stores_matching_statutory_instruments_of_the_backlog_window(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    report = poll_at(engine, settings, START)

    # Not the road vehicles SI (no match), nor a steel SI from December (before the backlog).
    assert sorted(stored(engine)) == [
        "legislation:uksi/2026/187",
        "legislation:uksi/2026/198",
        "legislation:uksi/2026/212",
    ]
    assert (report.new, report.backlog) == (3, True)
    [request] = site.feed_requests()
    assert request.path == (
        "/uksi/data.feed?sort=published&text=aluminium+OR+steel+OR+foundry+OR+"
        "%22critical+minerals%22+OR+CBAM+OR+%22scrap+metal%22"
    )
    assert request.headers["user-agent"] == "alerter/0.1.0 (+https://alerter.example/contact)"


@pytest.mark.usefixtures("metals_source")
def test_an_instrument_is_keyed_on_its_id_and_links_to_its_page(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    poll_at(engine, settings, START)

    item = stored(engine)["legislation:uksi/2026/212"]
    assert item.url == "https://www.legislation.gov.uk/uksi/2026/212"
    assert item.title == "The Steel and Aluminium (Safeguard Measures) (Amendment) Regulations 2026"
    assert item.summary == ""  # the feed's summary only repeats the title
    assert item.published_at == datetime(2026, 2, 25, 13, 5, tzinfo=UTC)
    assert (item.document_type, item.revision) == ("legislation", "2026-02-25T13:05:00Z")
    assert item.source_metadata == {
        "legislation_type": "uksi",
        "document_main_type": "UnitedKingdomStatutoryInstrument",
        "year": "2026",
        "number": "212",
        "made": "2026-02-24",
        "subjects": ["Customs", "Trade"],
    }


@pytest.mark.usefixtures("metals_source")
def test_an_unchanged_feed_costs_one_conditional_request(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    poll_at(engine, settings, START)

    report = poll_at(engine, settings, START + timedelta(hours=2))

    assert report.status == "not_modified"
    first, second = site.feed_requests()
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == source_row(engine).etag


@pytest.mark.usefixtures("metals_source")
def test_a_newly_published_instrument_is_news(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    poll_at(engine, settings, START)
    new = copy.deepcopy(site.items[1])
    new.update(
        number=240,
        title="The Foundry Emissions (Monitoring) Regulations 2026",
        published="2026-03-02T10:00:00Z",
        updated="2026-03-02T10:00:00Z",
        summary="The Foundry Emissions (Monitoring) Regulations 2026",
        text="Regulations on monitoring emissions from foundry furnaces.",
    )
    site.items.append(new)

    report = poll_at(engine, settings, START + timedelta(hours=2))

    item = stored(engine)["legislation:uksi/2026/240"]
    assert (report.status, report.new, item.backlog) == ("fetched", 1, False)


@pytest.mark.usefixtures("metals_source")
def test_a_republished_instrument_updates_its_item(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    poll_at(engine, settings, START)
    site.items[3].update(
        title="The Environmental Permitting (Scrap Metal Sites) (England) Regulations 2026 "
        "(corrected)",
        published="2026-03-01T12:00:00Z",
        updated="2026-03-01T12:00:00Z",
    )

    report = poll_at(engine, settings, START + timedelta(days=1))

    item = stored(engine)["legislation:uksi/2026/187"]
    assert (report.new, report.updated) == (0, 1)
    assert item.title.endswith("(corrected)")


def test_other_types_are_read_from_one_list_feed(
    engine: sa.Engine, settings: Settings, site: FakeLegislation, sources_file: Path
) -> None:
    declare(
        sources_file,
        "Legislation: critical minerals",
        "legislation",
        site.web.base_url,
        types=["uksi", "ukpga"],
        search_terms=["critical minerals"],
    )

    poll_at(engine, settings, START)

    assert site.feed_requests()[0].path.startswith("/uksi+ukpga/data.feed?")
    item = stored(engine)["legislation:ukpga/2026/3"]
    assert item.summary == (
        "An Act to make provision about strategic stocks of critical minerals; and for "
        "connected purposes."
    )


def many_steel_items(count: int, first: datetime) -> list[dict[str, object]]:
    return [
        {
            "type": "uksi",
            "year": 2026,
            "number": 500 + n,
            "title": f"The Steel Products (Tariff Quota No. {n}) Regulations 2026",
            "published": (first - timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated": (first - timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "made": "2026-01-01",
            "main_type": "UnitedKingdomStatutoryInstrument",
            "summary": "",
            "subjects": [],
            "text": "steel",
        }
        for n in range(count)
    ]


def test_next_pages_are_followed_on_the_site_with_the_query_kept(
    engine: sa.Engine, settings: Settings, site: FakeLegislation, sources_file: Path
) -> None:
    site.items = many_steel_items(45, START - timedelta(hours=1))
    declare(
        sources_file,
        "Legislation: steel",
        "legislation",
        site.web.base_url,
        search_terms=["steel"],
        backlog_days=60,
    )

    report = poll_at(engine, settings, START)

    assert report.new == 45
    paths = [r.path for r in site.feed_requests()]
    assert paths == [
        "/uksi/data.feed?sort=published&text=steel",
        "/uksi/data.feed?sort=published&text=steel&page=2",
        "/uksi/data.feed?sort=published&text=steel&page=3",
    ]


def test_paging_stops_at_the_first_item_older_than_the_window(
    engine: sa.Engine, settings: Settings, site: FakeLegislation, sources_file: Path
) -> None:
    site.items = many_steel_items(45, START - timedelta(hours=1))  # one a day, newest first
    declare(
        sources_file, "Legislation: steel", "legislation", site.web.base_url, search_terms=["steel"]
    )

    report = poll_at(engine, settings, START)

    assert report.new == 30  # the 30 days of backlog
    assert len(site.feed_requests()) == 2


@pytest.mark.usefixtures("metals_source")
def test_a_failing_site_fails_the_poll(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    site.failing_status = 503

    report = poll_at(engine, settings, START)

    assert report.status == "failed"
    assert "HTTP 503" in (source_row(engine).last_error or "")


@pytest.mark.usefixtures("metals_source")
def test_an_answer_that_is_not_a_feed_fails_the_poll(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    site.body_override = b"<html><body><p>Please wait"

    report = poll_at(engine, settings, START)

    assert report.status == "failed"
    assert "did not answer with an Atom feed" in (report.error or "")


@pytest.mark.usefixtures("metals_source")
def test_entries_without_a_legislation_id_are_skipped_and_the_rest_stored(
    engine: sa.Engine, settings: Settings, site: FakeLegislation
) -> None:
    broken = copy.deepcopy(site.items[2])
    broken.update(number="draft copy", title="A draft without a number")  # not an id path
    site.items.append(broken)

    report = poll_at(engine, settings, START)

    assert (report.new, report.skipped) == (3, 1)
    assert "entries skipped for want of an id or title: 1" in report.warnings
