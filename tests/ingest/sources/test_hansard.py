"""Hansard from the Hansard API (a local fake of it): spoken contributions mentioning the terms,
one item per debate section, updated as more contributions are found."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerter.config import Settings
from alerter.ingest.sources.catalog import SourceFileError, load_source_file
from tests.support.api_polls import declare, poll_at, source_row, stored
from tests.support.fake_hansard_api import FakeHansardApi, load_contributions
from tests.support.fake_web import FakeWeb

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
METALS = ["aluminium", "steel", "foundry", "critical minerals", "CBAM", "scrap metal"]
DEBATE = "hansard:debate:"
STEEL = DEBATE + "7a1c0e55-3b2d-4f1e-9c8a-1d2e3f4a5b6c"
MINERALS = DEBATE + "b2e4f6a8-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
BUSINESS = DEBATE + "c3d5e7f9-2a4b-4c6d-9e8f-1a2b3c4d5e6f"


@pytest.fixture
def api(web: FakeWeb, sources_file: Path) -> FakeHansardApi:
    fake = FakeHansardApi(web, contributions=load_contributions())
    declare(sources_file, "Hansard: metals", "hansard", fake.spoken_url, search_terms=METALS)
    return fake


def test_the_first_poll_stores_a_debate_per_section_mentioning_the_terms_as_backlog(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi
) -> None:
    report = poll_at(engine, settings, START)

    # Not the foundry debate of January: before the 30 days of backlog.
    assert sorted(stored(engine)) == sorted([STEEL, MINERALS, BUSINESS])
    assert (report.new, report.backlog) == (3, True)


def test_a_debate_quotes_its_first_contributions_and_links_to_its_page(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi
) -> None:
    poll_at(engine, settings, START)

    item = stored(engine)[STEEL]
    assert item.title == "Steel Industry"
    assert item.url == (
        "https://hansard.parliament.uk/Commons/2026-02-24/debates/"
        "7A1C0E55-3B2D-4F1E-9C8A-1D2E3F4A5B6C/link"
    )
    assert item.summary == (
        "Commons debate. Owen Pritchard (Aberavon) (Lab): I beg to move that this House has "
        "considered the future of the steel industry. Electricity for our steelworks costs far "
        "more than it does for producers in France and Germany, and the electric arc furnace at "
        "Port Talbot will only compete if that gap is closed. Jane Ashworth (Rotherham East) "
        "(Lab): Will the Minister say when the steel strategy will be published, and whether it "
        "will cover the supply of scrap? The Minister for Industry (Tom Pendry): The steel "
        "strategy will be published in the spring, alongside the review of the safeguard "
        "measures."
    )
    assert item.published_at == datetime(2026, 2, 24, 0, 0, tzinfo=UTC)
    assert item.document_type == "debate"
    assert item.source_metadata == {
        "house": "Commons",
        "sitting_date": "2026-02-24",
        "hansard_section": "Commons Chamber",
        "speakers": ["Owen Pritchard", "Jane Ashworth", "Tom Pendry"],
        "contributions": 3,
        "matched_terms": ["steel"],
    }


def test_each_term_is_asked_for_sittings_since_the_backlog_then_a_week_before_the_last_poll(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi
) -> None:
    poll_at(engine, settings, START)
    first = api.queries()
    api.web.requests.clear()

    poll_at(engine, settings, START + timedelta(hours=12))

    assert {q["queryParameters.searchTerm"][0] for q in first} == set(METALS)
    assert {q["queryParameters.startDate"][0] for q in first} == {"2026-01-31"}
    assert {q["queryParameters.startDate"][0] for q in api.queries()} == {"2026-02-23"}


def test_an_unchanged_debate_is_not_updated(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi
) -> None:
    poll_at(engine, settings, START)

    report = poll_at(engine, settings, START + timedelta(hours=12))

    assert (report.new, report.updated) == (0, 0)


def test_a_contribution_found_later_updates_its_debate_in_place(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi
) -> None:
    poll_at(engine, settings, START)
    late = copy.deepcopy(api.contributions[1])
    late.update(
        ContributionExtId="6F7A8B9C-0D1E-4F2A-3B4C-5D6E7F8A9B0C",
        OrderInDebateSection=7,
        MemberName="Ruth Ellery",
        ContributionTextFull="Steel from Scunthorpe built this country's railways.",
    )
    api.contributions.append(late)

    report = poll_at(engine, settings, START + timedelta(days=1))

    item = stored(engine)[STEEL]
    assert (report.new, report.updated) == (0, 1)
    assert item.source_metadata["contributions"] == 4
    assert item.source_metadata["speakers"][-1] == "Ruth Ellery"


def test_a_new_debate_is_news(engine: sa.Engine, settings: Settings, api: FakeHansardApi) -> None:
    poll_at(engine, settings, START)
    new = copy.deepcopy(api.contributions[0])
    new.update(
        ContributionExtId="7A8B9C0D-1E2F-4A3B-4C5D-6E7F8A9B0C1D",
        DebateSectionExtId="E5F7A9B1-4C6D-4E8F-9A0B-3C4D5E6F7A8B",
        DebateSection="Aluminium Smelting: Energy Prices",
        SittingDate="2026-03-02T00:00:00",
        ContributionTextFull="The last aluminium smelter in the UK needs a fair price for power.",
    )
    api.contributions.append(new)

    report = poll_at(engine, settings, START + timedelta(days=1))

    item = stored(engine)[DEBATE + "e5f7a9b1-4c6d-4e8f-9a0b-3c4d5e6f7a8b"]
    assert (report.new, item.backlog, item.title) == (
        1,
        False,
        "Aluminium Smelting: Energy Prices",
    )


def test_every_page_of_contributions_is_read(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi, sources_file: Path
) -> None:
    template = api.contributions[0]
    api.contributions = []
    for n in range(250):
        contribution = copy.deepcopy(template)
        contribution.update(
            ContributionExtId=f"00000000-0000-4000-8000-{n:012d}",
            DebateSectionExtId=f"11111111-0000-4000-8000-{n:012d}",
            DebateSection=f"Steel Debate {n}",
        )
        api.contributions.append(contribution)
    declare(sources_file, "Hansard: steel", "hansard", api.spoken_url, search_terms=["steel"])

    report = poll_at(engine, settings, START)

    assert report.new == 250
    assert [q["queryParameters.skip"][0] for q in api.queries()] == ["0", "100", "200"]


def test_a_failing_search_fails_the_poll(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi
) -> None:
    api.failing_status = 500

    report = poll_at(engine, settings, START)

    assert report.status == "failed"
    assert "HTTP 500" in (source_row(engine).last_error or "")


def test_contributions_without_a_debate_are_skipped_and_the_rest_stored(
    engine: sa.Engine, settings: Settings, api: FakeHansardApi
) -> None:
    broken = copy.deepcopy(api.contributions[0])
    broken["DebateSectionExtId"] = None
    api.extra_results = [broken, "not a contribution"]

    report = poll_at(engine, settings, START)

    assert report.new == 3
    assert report.skipped > 0
    assert (
        f"contributions skipped for want of a debate, title or date: {report.skipped}"
        in report.warnings
    )


def test_a_hansard_source_needs_search_terms(sources_file: Path) -> None:
    declare(
        sources_file,
        "Hansard",
        "hansard",
        "https://hansard-api.parliament.uk/search/contributions/Spoken.json",
    )

    with pytest.raises(SourceFileError, match="search_terms"):
        load_source_file(sources_file)
