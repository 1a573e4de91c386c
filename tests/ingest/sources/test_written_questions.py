"""Written questions and statements from the questions-statements API (a local fake of it):
the backlog, new and answered questions, full texts by id, paging, errors and bad data."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from alerter.config import Settings
from alerter.ingest.sources.catalog import SourceFileError, load_source_file
from tests.support.api_polls import declare, poll_at, source_row, stored
from tests.support.fake_questions_api import QUESTIONS_PATH, FakeQuestionsApi, load_records
from tests.support.fake_web import FakeWeb

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
METALS = ["aluminium", "steel", "foundry", "critical minerals", "CBAM", "scrap metal"]
QUESTION = "parliament:written-question:"


@pytest.fixture
def api(web: FakeWeb) -> FakeQuestionsApi:
    return FakeQuestionsApi(
        web,
        questions=load_records("parliament_written_questions.json"),
        statements=load_records("parliament_written_statements.json"),
    )


@pytest.fixture
def questions_source(api: FakeQuestionsApi, sources_file: Path) -> None:
    declare(
        sources_file,
        "Parliament: metals questions",
        "written_questions",
        api.questions_url,
        search_terms=METALS,
    )


def detail_requests(web: FakeWeb) -> list[str]:
    return [r.path for r in web.requests if r.path.startswith(QUESTIONS_PATH + "/")]


def new_question(api: FakeQuestionsApi, question_id: int, **changes: object) -> None:
    question = copy.deepcopy(api.question(2101002))
    question.update({"id": question_id, **changes})
    api.questions.append(question)


# The first poll


@pytest.mark.usefixtures("questions_source")
def test_the_first_poll_stores_the_questions_of_the_backlog_window_as_backlog(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    report = poll_at(engine, settings, START)

    items = stored(engine)
    # Tabled, answered or corrected in the last 30 days, on a metals term; not "Schools: Music",
    # and not a steel question answered in November.
    assert sorted(items) == [QUESTION + str(n) for n in range(2101001, 2101007)]
    assert (report.status, report.new, report.backlog) == ("fetched", 6, True)
    assert all(item.backlog for item in items.values())


@pytest.mark.usefixtures("questions_source")
def test_a_question_is_stored_with_its_answer_as_text_and_its_parliament_page(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    poll_at(engine, settings, START)

    item = stored(engine)[QUESTION + "2101003"]
    assert item.title == "Foundries: Energy"
    assert item.url == (
        "https://questions-statements.parliament.uk/written-questions/detail/2026-02-20/32018"
    )
    assert item.summary == (
        "To ask the Secretary of State for Business and Trade, what support is available to the "
        "foundry sector for high industrial energy costs. Answer: Foundries that meet the "
        "eligibility criteria can apply for relief under the British Industry Supercharger "
        "scheme. Details are on GOV.UK."
    )
    assert item.published_at == datetime(2026, 2, 20, 0, 0, tzinfo=UTC)  # a UK date (GMT)
    assert (item.document_type, item.status, item.closes_at) == (
        "written_question",
        "answered",
        None,
    )
    assert item.source_metadata == {
        "uin": "32018",
        "house": "Commons",
        "answering_body": "Department for Business and Trade",
        "answering_body_id": 2014,
        "asked_by": "Jane Ashworth",
        "answered_by": "Tom Pendry",
        "tabled": "2026-02-20",
        "due": "2026-02-20",
        "answered": "2026-02-25",
    }


@pytest.mark.usefixtures("questions_source")
def test_a_text_the_list_shortened_is_replaced_by_the_full_text_read_by_id(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi, web: FakeWeb
) -> None:
    poll_at(engine, settings, START)

    summary = stored(engine)[QUESTION + "2101001"].summary
    assert "..." not in summary
    assert summary.endswith(
        "details of support for affected firms are published here: "
        "https://www.gov.uk/guidance/us-tariffs-support-for-uk-businesses."
    )
    # Only the records whose list text was shortened are read again.
    assert detail_requests(web) == [
        QUESTIONS_PATH + "/2101001?expandMember=true",
        QUESTIONS_PATH + "/2101003?expandMember=true",
    ]


@pytest.mark.usefixtures("questions_source")
def test_holding_and_corrected_answers_have_their_status(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    poll_at(engine, settings, START)

    items = stored(engine)
    assert items[QUESTION + "2101002"].status == "unanswered"
    assert items[QUESTION + "2101004"].status == "holding"
    assert items[QUESTION + "2101006"].status == "corrected"


@pytest.mark.usefixtures("questions_source")
def test_the_first_poll_asks_each_term_for_tabled_answered_and_corrected_questions(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    poll_at(engine, settings, START)

    asked = {
        (query["searchTerm"][0], window, query[window][0])
        for query in api.list_requests()
        for window in ("tabledWhenFrom", "answeredWhenFrom", "correctedWhenFrom")
        if window in query
    }
    assert asked == {
        (term, window, "2026-01-31")  # 30 days of backlog
        for term in METALS
        for window in ("tabledWhenFrom", "answeredWhenFrom", "correctedWhenFrom")
    }
    assert all(query["expandMember"] == ["true"] for query in api.list_requests())


# Later polls


@pytest.mark.usefixtures("questions_source")
def test_a_later_poll_reads_from_the_day_before_the_last_one_and_rereads_nothing_unchanged(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi, web: FakeWeb
) -> None:
    poll_at(engine, settings, START)
    web.requests.clear()

    report = poll_at(engine, settings, START + timedelta(hours=3))

    assert {
        query["tabledWhenFrom"][0] for query in api.list_requests() if "tabledWhenFrom" in query
    } == {"2026-03-01"}
    assert (report.new, report.updated) == (0, 0)
    assert detail_requests(web) == []


@pytest.mark.usefixtures("questions_source")
def test_a_newly_tabled_question_is_news(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    poll_at(engine, settings, START)
    new_question(
        api,
        2101100,
        uin="33001",
        heading="Steel: Electric Arc Furnaces",
        dateTabled="2026-03-02T00:00:00",
        questionText="To ask the Secretary of State for Business and Trade, when the electric "
        "arc furnace at Port Talbot will start production of steel.",
    )

    report = poll_at(engine, settings, START + timedelta(hours=3))

    item = stored(engine)[QUESTION + "2101100"]
    assert (report.new, item.backlog, item.status) == (1, False, "unanswered")


@pytest.mark.usefixtures("questions_source")
def test_an_answered_question_is_updated_in_place(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    poll_at(engine, settings, START)
    before = stored(engine)[QUESTION + "2101002"]
    api.question(2101002).update(
        dateAnswered="2026-03-03T00:00:00",
        answeringMemberId=4802,
        answeringMember={"id": 4802, "name": "Tom Pendry"},
        answerText="<p>A decision on the safeguard will be announced before it expires.</p>",
    )
    later = START + timedelta(days=1)

    report = poll_at(engine, settings, later)

    item = stored(engine)[QUESTION + "2101002"]
    assert (report.new, report.updated) == (0, 1)
    assert item.id == before.id
    assert (item.status, item.updated_at) == ("answered", later)
    assert item.summary.endswith(
        "Answer: A decision on the safeguard will be announced before it expires."
    )
    assert item.source_metadata["answered_by"] == "Tom Pendry"


@pytest.mark.usefixtures("questions_source")
def test_a_corrected_answer_updates_the_item(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    poll_at(engine, settings, START)
    api.question(2101003).update(
        answerIsCorrection=True,
        dateAnswerCorrected="2026-03-04T00:00:00",
        answerText="<p>Foundries can apply for relief under the Supercharger from April.</p>",
    )

    report = poll_at(engine, settings, START + timedelta(days=3))

    item = stored(engine)[QUESTION + "2101003"]
    assert (report.updated, item.status) == (1, "corrected")
    assert item.summary.endswith(
        "Answer: Foundries can apply for relief under the Supercharger from April."
    )


def test_answering_bodies_narrow_each_query(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi, sources_file: Path
) -> None:
    declare(
        sources_file,
        "Parliament: Treasury on steel",
        "written_questions",
        api.questions_url,
        search_terms=["steel"],
        answering_bodies=[14],
        backlog_days=120,
    )

    poll_at(engine, settings, START)

    assert sorted(stored(engine)) == [QUESTION + "2101005"]
    assert all(query["answeringBodies"] == ["14"] for query in api.list_requests())


# Paging


def test_every_page_of_a_long_answer_is_read(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi, sources_file: Path
) -> None:
    template = api.question(2101002)
    api.questions = [
        {**template, "id": 3000000 + n, "uin": str(40000 + n), "heading": f"Steel: Question {n}"}
        for n in range(120)
    ]
    declare(sources_file, "Steel", "written_questions", api.questions_url, search_terms=["steel"])

    report = poll_at(engine, settings, START)

    assert report.new == 120
    skips = [query["skip"][0] for query in api.list_requests() if "tabledWhenFrom" in query]
    assert skips == ["0", "50", "100"]


# Errors and bad data


@pytest.mark.usefixtures("questions_source")
def test_a_failing_list_fails_the_poll_and_stores_nothing(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    api.failing[QUESTIONS_PATH] = 503

    report = poll_at(engine, settings, START)

    source = source_row(engine)
    assert report.status == "failed"
    assert source.last_error is not None
    assert source.last_error.startswith("/api/writtenquestions/questions?")
    assert "HTTP 503" in source.last_error
    assert (source.consecutive_failures, stored(engine)) == (1, {})


@pytest.mark.usefixtures("questions_source")
def test_a_full_text_that_cannot_be_read_keeps_the_short_one_until_the_next_poll(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    api.failing[QUESTIONS_PATH + "/2101001"] = 500

    report = poll_at(engine, settings, START)

    item = stored(engine)[QUESTION + "2101001"]
    assert (report.status, report.new) == ("fetched", 6)
    assert item.summary.endswith("...")
    assert report.warnings == [
        "full text not read for 1 question(s); the list's shortened text is kept and read "
        "again at the next poll"
    ]
    del api.failing[QUESTIONS_PATH + "/2101001"]

    again = poll_at(engine, settings, START + timedelta(hours=3))

    assert again.updated == 1
    assert not stored(engine)[QUESTION + "2101001"].summary.endswith("...")
    assert source_row(engine).last_warnings == []


@pytest.mark.usefixtures("questions_source")
def test_records_without_a_heading_or_id_are_skipped_and_the_rest_stored(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi
) -> None:
    api.question(2101003)["heading"] = ""
    api.extra_results = [{"value": {"heading": "No id"}}, "not a record"]

    report = poll_at(engine, settings, START)

    assert report.new == 5
    assert QUESTION + "2101003" not in stored(engine)
    assert report.skipped > 0
    assert f"entries skipped for want of a title or link: {report.skipped}" in report.warnings


@pytest.mark.usefixtures("questions_source")
def test_an_answer_that_is_not_json_fails_the_poll(
    engine: sa.Engine, settings: Settings, web: FakeWeb
) -> None:
    web.trees.clear()
    web.serve_bytes(QUESTIONS_PATH, b"<html>Service unavailable</html>", "text/html")

    report = poll_at(engine, settings, START)

    assert report.status == "failed"
    assert "the answer is not JSON" in (report.error or "")


def test_a_source_with_neither_terms_nor_answering_bodies_is_refused(sources_file: Path) -> None:
    declare(
        sources_file,
        "Everything",
        "written_questions",
        "https://questions-statements-api.parliament.uk/api/writtenquestions/questions",
    )

    with pytest.raises(SourceFileError, match="give search_terms or answering_bodies"):
        load_source_file(sources_file)


# Written statements


def test_written_statements_are_stored_with_their_full_text_and_page(
    engine: sa.Engine, settings: Settings, api: FakeQuestionsApi, sources_file: Path, web: FakeWeb
) -> None:
    declare(
        sources_file,
        "Parliament: metals statements",
        "written_statements",
        api.statements_url,
        search_terms=["steel", "critical minerals"],
    )

    report = poll_at(engine, settings, START)

    items = stored(engine)
    assert (report.new, sorted(items)) == (
        2,
        ["parliament:written-statement:1702001", "parliament:written-statement:1702002"],
    )
    steel = items["parliament:written-statement:1702001"]
    assert steel.url == (
        "https://questions-statements.parliament.uk/written-statements/detail/2026-02-19/hcws812"
    )
    assert steel.summary.endswith("the Department will publish data on quota use every month.")
    assert steel.document_type == "written_statement"
    assert steel.source_metadata["made_by"] == "Tom Pendry"
    assert [
        r.path for r in web.requests if r.path.startswith("/api/writtenstatements/statements/")
    ] == ["/api/writtenstatements/statements/1702001?expandMember=true"]
    assert {
        query["madeWhenFrom"][0] for query in api.list_requests("/api/writtenstatements/statements")
    } == {"2026-01-31"}
