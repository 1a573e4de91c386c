"""GOV.UK consultations and calls for evidence (a local fake of the search and content APIs):
found by search, read in full from the content API, and one item for their whole life."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerter.config import Settings
from alerter.ingest.sources.catalog import SourceFileError, load_source_file
from tests.support.api_polls import declare, poll_at, source_row, stored
from tests.support.fake_govuk_api import FakeGovuk, load_items
from tests.support.fake_web import FakeWeb

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ORGANISATIONS = [
    "department-for-business-and-trade",
    "hm-revenue-customs",
    "department-for-environment-food-rural-affairs",
]
SCRAP = "/government/consultations/scrap-metal-dealers-act-review"
MINERALS = "/government/calls-for-evidence/critical-minerals-refining-capacity"
CBAM = "/government/consultations/cbam-draft-regulations-emissions-and-verification"
STEEL = "/government/consultations/steel-procurement-guidance"


@pytest.fixture
def govuk(web: FakeWeb, sources_file: Path) -> FakeGovuk:
    fake = FakeGovuk(web, items=load_items())
    declare(
        sources_file,
        "GOV.UK: consultations for metals",
        "govuk_consultations",
        fake.search_url,
        filters={"filter_organisations": ORGANISATIONS},
    )
    return fake


def test_the_first_poll_stores_open_forthcoming_and_recent_outcomes_as_backlog(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    report = poll_at(engine, settings, START)

    # Not the school uniform consultation (another department), nor the aluminium packaging
    # one that closed without news in the backlog window.
    assert sorted(stored(engine)) == sorted(
        f"govuk:{path}" for path in (SCRAP, MINERALS, CBAM, STEEL)
    )
    assert (report.new, report.backlog) == (4, True)
    assert sorted(govuk.content_reads()) == sorted([SCRAP, MINERALS, CBAM, STEEL])


def test_the_searches_ask_for_the_document_types_and_the_dates(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)

    open_search, since_search = govuk.searches()
    assert open_search["filter_content_store_document_type"] == [
        "consultation",
        "open_consultation",
        "call_for_evidence",
        "open_call_for_evidence",
    ]
    assert since_search["filter_content_store_document_type"] == [
        "closed_consultation",
        "consultation_outcome",
        "closed_call_for_evidence",
        "call_for_evidence_outcome",
    ]
    assert since_search["filter_public_timestamp"] == ["from:2026-01-31"]
    assert "start_date" in open_search["fields"] and "end_date" in open_search["fields"]
    assert open_search["filter_organisations"] == ORGANISATIONS


def test_a_consultation_carries_its_dates_and_how_to_respond(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)

    item = stored(engine)[f"govuk:{SCRAP}"]
    assert item.title == "Review of the Scrap Metal Dealers Act 2013"
    assert item.url == govuk.web.url(SCRAP)
    assert item.summary.startswith("We are seeking views on licensing scrap metal dealers")
    assert (item.document_type, item.status) == ("consultation", "open")
    assert item.opens_at == datetime(2026, 2, 9, 9, 0, tzinfo=UTC)
    assert item.closes_at == datetime(2026, 4, 6, 22, 59, tzinfo=UTC)
    assert item.source_metadata["how_to_respond"] == {
        "url": "https://homeofficesurveys.citizenspace.example/scrap-metal-act-review",
        "email": "scrapmetalreview@homeoffice.example",
        "postal_address": "Scrap Metal Act Review\nHome Office\n2 Marsham Street\nLondon\nSW1P 4DF",
        "response_form_url": "https://assets.publishing.service.gov.uk/media/"
        "scrap-metal-review-response-form.odt",
    }
    assert item.source_metadata["organisations"] == [
        {"slug": "home-office", "title": "Home Office"},
        {"slug": "department-for-business-and-trade", "title": "Department for Business and Trade"},
    ]
    assert item.source_metadata["content_store_document_type"] == "open_consultation"
    assert item.source_metadata["content_id"] == "3f6c1b2a-8d4e-4a7b-9c1d-2e3f4a5b6c7d"


def test_a_call_for_evidence_held_elsewhere_is_answered_there(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)

    item = stored(engine)[f"govuk:{MINERALS}"]
    assert (item.document_type, item.status) == ("call_for_evidence", "open")
    assert item.source_metadata["how_to_respond"] == {
        "url": "https://dbt.citizenspace.example/critical-minerals-refining"
    }


def test_a_consultation_not_yet_open_is_forthcoming_and_an_outcome_has_its_date(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)

    items = stored(engine)
    cbam, steel = items[f"govuk:{CBAM}"], items[f"govuk:{STEEL}"]
    assert (cbam.status, cbam.opens_at) == ("forthcoming", datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    assert (steel.status, steel.outcome_at) == ("outcome", datetime(2026, 2, 26, 10, 0, tzinfo=UTC))
    assert steel.source_metadata["outcome"] == (
        "We received 84 responses. The updated guidance will apply from 1 April 2026."
    )


def test_a_later_poll_reads_no_unchanged_consultation_from_the_content_api(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)
    govuk.web.requests.clear()

    report = poll_at(engine, settings, START + timedelta(hours=2))

    assert (report.new, report.updated) == (0, 0)
    assert govuk.content_reads() == []
    assert govuk.searches()[1]["filter_public_timestamp"] == ["from:2026-03-01"]


def test_a_moved_closing_date_updates_the_consultation(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)
    govuk.item(SCRAP)["details"]["closing_date"] = "2026-04-20T23:59:00+01:00"
    govuk.web.requests.clear()

    report = poll_at(engine, settings, START + timedelta(days=1))

    item = stored(engine)[f"govuk:{SCRAP}"]
    assert report.updated == 1
    assert item.closes_at == datetime(2026, 4, 20, 22, 59, tzinfo=UTC)
    assert govuk.content_reads() == [SCRAP]


def test_a_forthcoming_consultation_that_opens_is_updated_to_open(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)
    govuk.item(CBAM)["document_type"] = "open_consultation"

    report = poll_at(engine, settings, START + timedelta(days=14))

    assert report.updated == 1
    assert stored(engine)[f"govuk:{CBAM}"].status == "open"


def test_an_outcome_published_later_updates_the_same_item(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    poll_at(engine, settings, START)
    before = stored(engine)[f"govuk:{SCRAP}"]
    consultation = govuk.item(SCRAP)
    consultation.update(
        document_type="consultation_outcome", public_updated_at="2026-06-15T10:30:00.000+01:00"
    )
    consultation["details"].update(
        final_outcome_detail="<p>Dealers will have to keep digital records.</p>",
        final_outcome_publication_date="2026-06-15T10:30:00+01:00",
    )
    later = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

    report = poll_at(engine, settings, later)

    item = stored(engine)[f"govuk:{SCRAP}"]
    assert (report.new, report.updated) == (0, 1)
    assert item.id == before.id
    assert (item.status, item.outcome_at, item.updated_at) == (
        "outcome",
        datetime(2026, 6, 15, 9, 30, tzinfo=UTC),
        later,
    )
    assert item.source_metadata["outcome"] == "Dealers will have to keep digital records."
    assert item.closes_at == before.closes_at


def test_every_page_of_open_consultations_is_read(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    template = govuk.item(MINERALS)
    govuk.items = []
    for n in range(150):
        consultation = copy.deepcopy(template)
        consultation.update(
            base_path=f"/government/calls-for-evidence/steel-{n}", title=f"Steel {n}"
        )
        govuk.items.append(consultation)

    report = poll_at(engine, settings, START)

    assert report.new == 150
    assert [q["start"][0] for q in govuk.searches()] == ["0", "100", "0"]


def test_a_consultation_the_content_api_cannot_give_is_kept_and_read_again(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    govuk.failing[f"/api/content{SCRAP}"] = 503

    report = poll_at(engine, settings, START)

    item = stored(engine)[f"govuk:{SCRAP}"]
    assert (item.closes_at, item.revision) == (datetime(2026, 4, 6, 22, 59, tzinfo=UTC), None)
    assert "how_to_respond" not in item.source_metadata
    assert report.warnings == [
        "content API not read for 1 consultation(s); kept with the search API's dates and read "
        "again at the next poll"
    ]
    del govuk.failing[f"/api/content{SCRAP}"]

    again = poll_at(engine, settings, START + timedelta(hours=2))

    assert again.updated == 1
    assert "how_to_respond" in stored(engine)[f"govuk:{SCRAP}"].source_metadata
    assert source_row(engine).last_warnings == []


def test_a_failing_search_fails_the_poll(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    govuk.failing["/api/search.json"] = 422

    report = poll_at(engine, settings, START)

    assert report.status == "failed"
    assert "HTTP 422" in (source_row(engine).last_error or "")


def test_a_result_without_a_usable_link_is_skipped_and_the_rest_stored(
    engine: sa.Engine, settings: Settings, govuk: FakeGovuk
) -> None:
    govuk.extra_results = [
        {"title": "A result with no page"},
        {"title": "A page too long to key on", "link": "/government/" + "x" * 300},
    ]

    report = poll_at(engine, settings, START)

    assert report.new == 4
    assert report.skipped == 4  # two in each search
    assert "entries skipped for want of a title or link: 4" in report.warnings


def test_the_document_type_filter_is_the_kinds_own(sources_file: Path) -> None:
    declare(
        sources_file,
        "GOV.UK",
        "govuk_consultations",
        "https://www.gov.uk/api/search.json",
        filters={"filter_content_store_document_type": "open_consultation"},
    )

    with pytest.raises(SourceFileError, match="choose document_types instead"):
        load_source_file(sources_file)
