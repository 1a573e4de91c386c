"""Select committee business from the committees API (a local fake of it): inquiries accepting
evidence with their deadlines, and new committee publications."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerter.config import Settings
from tests.support.api_polls import declare, poll_at, source_row, stored
from tests.support.fake_committees_api import BUSINESS_PATH, FakeCommitteesApi, load
from tests.support.fake_web import FakeWeb

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INQUIRY = "committees:business:"
PUBLICATION = "committees:publication:"


@pytest.fixture
def api(web: FakeWeb) -> FakeCommitteesApi:
    return FakeCommitteesApi(
        web,
        business=load("committees_business.json"),
        publications=load("committees_publications.json"),
    )


@pytest.fixture
def inquiries_source(api: FakeCommitteesApi, sources_file: Path) -> None:
    declare(sources_file, "Committees: open inquiries", "committee_inquiries", api.business_url)


def detail_requests(web: FakeWeb) -> list[str]:
    return [r.path for r in web.requests if r.path.startswith(BUSINESS_PATH + "/")]


# Inquiries accepting evidence


@pytest.mark.usefixtures("inquiries_source")
def test_the_first_poll_stores_every_inquiry_accepting_evidence_as_backlog(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    report = poll_at(engine, settings, START)

    items = stored(engine)
    assert sorted(items) == [INQUIRY + str(n) for n in (9250, 9301, 9302, 9303)]
    assert (report.new, report.backlog) == (4, True)
    assert api.requests_to(BUSINESS_PATH)[0]["CurrentlyAcceptingEvidence"] == ["true"]


@pytest.mark.usefixtures("inquiries_source")
def test_an_inquiry_carries_its_deadline_scope_and_how_to_respond(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    poll_at(engine, settings, START)

    item = stored(engine)[INQUIRY + "9301"]
    assert item.title == "Steel industry: energy costs and decarbonisation"
    assert item.url == "https://committees.parliament.uk/work/9301/"
    assert item.summary.startswith(
        "The Committee is examining how electricity prices affect UK steelmakers"
    )
    assert item.summary.endswith("the supply of scrap for electric arc furnaces.")
    assert (item.document_type, item.status) == ("committee_inquiry", "accepting_evidence")
    assert item.opens_at == datetime(2026, 2, 2, 0, 0, tzinfo=UTC)
    assert item.closes_at == datetime(2026, 3, 16, 23, 59, tzinfo=UTC)  # GMT in March
    assert item.source_metadata["how_to_respond"] == {
        "url": "https://committees.parliament.uk/call-for-evidence/4410"
    }
    assert item.source_metadata["contact_email"] == "bandtcom@parliament.uk"


@pytest.mark.usefixtures("inquiries_source")
def test_the_deadline_is_the_written_evidence_period_and_a_rolling_call_has_none(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    poll_at(engine, settings, START)

    items = stored(engine)
    # An oral evidence period (no end date) beside the written one does not count.
    assert items[INQUIRY + "9302"].closes_at == datetime(2026, 4, 10, 11, 0, tzinfo=UTC)  # BST
    assert items[INQUIRY + "9303"].closes_at is None


@pytest.mark.usefixtures("inquiries_source")
def test_a_later_poll_reads_the_list_again_but_no_unchanged_inquiry_in_full(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi, web: FakeWeb
) -> None:
    poll_at(engine, settings, START)
    assert len(detail_requests(web)) == 4
    web.requests.clear()

    report = poll_at(engine, settings, START + timedelta(hours=6))

    assert (report.new, report.updated) == (0, 0)
    assert detail_requests(web) == []


@pytest.mark.usefixtures("inquiries_source")
def test_an_extended_deadline_updates_the_inquiry_in_place(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi, web: FakeWeb
) -> None:
    poll_at(engine, settings, START)
    api.inquiry(9301)["openSubmissionPeriods"][0]["endDate"] = "2026-03-30T23:59:00"
    web.requests.clear()
    later = START + timedelta(days=2)

    report = poll_at(engine, settings, later)

    item = stored(engine)[INQUIRY + "9301"]
    assert report.updated == 1
    assert (item.closes_at, item.updated_at) == (datetime(2026, 3, 30, 22, 59, tzinfo=UTC), later)
    assert detail_requests(web) == [BUSINESS_PATH + "/9301"]


@pytest.mark.usefixtures("inquiries_source")
def test_a_newly_opened_inquiry_is_news(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    poll_at(engine, settings, START)
    record = copy.deepcopy(api.business[0])
    record["business"].update(id=9410, title="Aluminium recycling and packaging")
    record["business"]["openSubmissionPeriods"][0]["id"] = 4501
    api.business.append(record)

    report = poll_at(engine, settings, START + timedelta(hours=6))

    item = stored(engine)[INQUIRY + "9410"]
    assert (report.new, item.backlog) == (1, False)
    assert item.source_metadata["how_to_respond"]["url"].endswith("/call-for-evidence/4501")


def test_search_terms_and_committees_narrow_the_inquiries(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi, sources_file: Path
) -> None:
    declare(
        sources_file,
        "Business and Trade Committee: metals",
        "committee_inquiries",
        api.business_url,
        search_terms=["steel", "scrap metal"],
        committees=[365],
    )

    poll_at(engine, settings, START)

    assert sorted(stored(engine)) == [INQUIRY + "9301", INQUIRY + "9303"]
    asked = {(q["SearchTerm"][0], q["CommitteeId"][0]) for q in api.requests_to(BUSINESS_PATH)}
    assert asked == {("steel", "365"), ("scrap metal", "365")}


@pytest.mark.usefixtures("inquiries_source")
def test_every_page_of_inquiries_is_read(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    template = api.business[0]
    api.business = []
    for n in range(120):
        record = copy.deepcopy(template)
        record["business"].update(id=20000 + n, title=f"Inquiry number {n}")
        api.business.append(record)

    report = poll_at(engine, settings, START)

    assert report.new == 120
    assert [q["Skip"][0] for q in api.requests_to(BUSINESS_PATH)] == ["0", "50", "100"]


@pytest.mark.usefixtures("inquiries_source")
def test_an_inquiry_whose_details_fail_is_kept_and_read_again_even_once_closed(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    api.failing[BUSINESS_PATH + "/9302"] = 500

    report = poll_at(engine, settings, START)

    item = stored(engine)[INQUIRY + "9302"]
    assert (item.summary, item.closes_at) == ("", datetime(2026, 4, 10, 11, 0, tzinfo=UTC))
    assert report.warnings == [
        "scope not read for 1 inquiry(ies); kept without it and read again at the next poll"
    ]
    # It stops accepting evidence, so the list no longer shows it; its details still come.
    del api.failing[BUSINESS_PATH + "/9302"]
    inquiry = api.inquiry(9302)
    inquiry["closedSubmissionPeriods"] = inquiry["openSubmissionPeriods"]
    inquiry.update(openSubmissionPeriods=[], closeDate="2026-03-03T00:00:00")

    again = poll_at(engine, settings, START + timedelta(days=2))

    item = stored(engine)[INQUIRY + "9302"]
    assert again.updated == 1
    assert item.summary.startswith("How secure are the UK's supplies of lithium")
    assert (item.status, item.closes_at) == ("closed", None)
    assert source_row(engine).last_warnings == []


@pytest.mark.usefixtures("inquiries_source")
def test_a_failing_list_fails_the_poll(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    api.failing[BUSINESS_PATH] = 502

    report = poll_at(engine, settings, START)

    assert report.status == "failed"
    assert "HTTP 502" in (source_row(engine).last_error or "")
    assert stored(engine) == {}


@pytest.mark.usefixtures("inquiries_source")
def test_an_inquiry_without_a_title_is_skipped_and_the_rest_stored(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    api.inquiry(9250)["title"] = None

    report = poll_at(engine, settings, START)

    assert (report.new, report.skipped) == (3, 1)
    assert "entries skipped for want of a title or link: 1" in report.warnings


# Publications


@pytest.fixture
def publications_source(api: FakeCommitteesApi, sources_file: Path) -> None:
    declare(sources_file, "Committees: publications", "committee_papers", api.publications_url)


@pytest.mark.usefixtures("publications_source")
def test_the_first_poll_stores_the_publications_of_the_backlog_window(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    report = poll_at(engine, settings, START)

    assert sorted(stored(engine)) == [PUBLICATION + str(n) for n in (51001, 51002, 51003)]
    assert (report.new, report.backlog) == (3, True)
    [query] = api.requests_to("/api/Publications")
    assert (query["StartDate"], query["SortOrder"]) == (
        ["2026-01-31"],
        ["PublicationDateDescending"],
    )


@pytest.mark.usefixtures("publications_source")
def test_a_publication_links_to_its_document_and_names_its_committee_and_inquiry(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    poll_at(engine, settings, START)

    item = stored(engine)[PUBLICATION + "51002"]
    assert item.title == (
        "Critical minerals supply chains: Government Response to the Committee's Second Report"
    )
    assert (
        item.url == "https://committees.parliament.uk/publications/51002/documents/260140/default/"
    )
    assert item.summary == (
        "Government Response from the Environmental Audit Committee, Critical minerals supply "
        "chains."
    )
    assert item.published_at == datetime(2026, 2, 27, 11, 30, tzinfo=UTC)
    assert item.document_type == "committee_publication"
    assert item.source_metadata == {
        "publication_type": "Government Response",
        "committee": "Environmental Audit Committee",
        "committee_id": 62,
        "inquiries": [
            {"external_id": INQUIRY + "9302", "title": "Critical minerals supply chains"}
        ],
        "responding_department": "Department for Business and Trade",
        "response_to": PUBLICATION + "50800",
    }


@pytest.mark.usefixtures("publications_source")
def test_a_later_poll_asks_from_the_day_before_and_stores_the_new_publication(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    poll_at(engine, settings, START)
    newer = copy.deepcopy(api.publications[0])
    newer.update(
        id=51010,
        description="Letter from UK Steel on electricity prices, dated 27.02.26",
        publicationStartDate="2026-03-02T14:00:00",
    )
    newer["documents"][0]["documentId"] = 260200
    api.publications.append(newer)

    report = poll_at(engine, settings, START + timedelta(hours=8))

    assert (report.new, report.backlog) == (1, False)
    assert api.requests_to("/api/Publications")[-1]["StartDate"] == ["2026-03-01"]


def test_publication_types_and_committees_are_asked_for(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi, sources_file: Path
) -> None:
    declare(
        sources_file,
        "Business and Trade Committee: correspondence",
        "committee_papers",
        api.publications_url,
        committees=[365],
        publication_types=[3, 12],
    )

    poll_at(engine, settings, START)

    assert sorted(stored(engine)) == [PUBLICATION + "51001"]
    [query] = api.requests_to("/api/Publications")
    assert (query["CommitteeId"], query["PublicationTypeIds"]) == (["365"], ["3", "12"])


@pytest.mark.usefixtures("publications_source")
def test_a_publication_with_no_document_or_link_is_skipped(
    engine: sa.Engine, settings: Settings, api: FakeCommitteesApi
) -> None:
    api.publications[2]["documents"] = []

    report = poll_at(engine, settings, START)

    assert (report.new, report.skipped) == (2, 1)
    assert "entries skipped for want of a title or link: 1" in report.warnings
