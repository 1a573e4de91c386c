"""Asking GOV.UK's search API for news, and reading its answer, with the `govuk` source kind."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alerter.ingest.sources import KINDS
from alerter.ingest.sources.base import Document, ParseResult, SourceError, SourceSpec
from alerter.ingest.sources.govuk import GovukOptions

FIXTURES = Path(__file__).parent.parent.parent / "fixtures"
SEARCH_API = "https://www.gov.uk/api/search.json"
DBT = {
    "slug": "department-for-business-and-trade",
    "title": "Department for Business and Trade",
    "acronym": "DBT",
}
TRA = {"slug": "trade-remedies-authority", "title": "Trade Remedies Authority", "acronym": "TRA"}


def govuk_spec(**options: Any) -> SourceSpec:
    return SourceSpec(
        name="GOV.UK DBT and TRA",
        kind="govuk",
        url=SEARCH_API,  # type: ignore[arg-type]
        publisher="GOV.UK",
        options=options,
    )


def parse_search_answer(body: bytes) -> ParseResult:
    document = Document(url=SEARCH_API, body=body, content_type="application/json")
    return KINDS["govuk"].parse(document, govuk_spec())


def parse_search_fixture() -> ParseResult:
    return parse_search_answer((FIXTURES / "govuk_search_api.json").read_bytes())


# Reading the answer


def test_search_results_become_entries_with_absolute_urls() -> None:
    result = parse_search_fixture()

    assert [(entry.title, entry.url) for entry in result.entries] == [
        (
            "Steel safeguard extended to protect UK producers from surging imports",
            "https://www.gov.uk/government/news/"
            "steel-safeguard-extended-to-protect-uk-producers-from-surging-imports",
        ),
        (
            "Trade remedies notice 2026/09: aluminium extrusions: initiation of an anti-dumping "
            "investigation",
            "https://www.gov.uk/government/publications/"
            "trade-remedies-notice-202609-aluminium-extrusions",
        ),
        (
            "Metals Week 2026: keynote on recycling and the circular economy",
            "https://www.gov.uk/government/speeches/"
            "metals-week-2026-keynote-on-recycling-and-the-circular-economy",
        ),
        (
            "Steel and aluminium import surveillance: data for December 2025",
            "https://www.gov.uk/government/statistics/"
            "steel-and-aluminium-import-surveillance-december-2025",
        ),
    ]
    assert (result.skipped, result.warnings) == (0, [])


def test_search_result_identity_is_its_url_as_in_the_atom_feeds() -> None:
    result = parse_search_fixture()

    assert all(entry.identity == entry.url for entry in result.entries)


def test_search_timestamps_in_both_forms_become_utc() -> None:
    result = parse_search_fixture()

    assert [entry.published for entry in result.entries] == [
        datetime(2026, 6, 25, 8, 30, tzinfo=UTC),  # "2026-06-25T09:30:00.000+01:00"
        datetime(2026, 6, 22, 11, 0, tzinfo=UTC),  # "2026-06-22T11:00:00Z"
        datetime(2026, 6, 19, 9, 45, tzinfo=UTC),  # "2026-06-19T10:45:00.000+01:00"
        datetime(2026, 1, 20, 9, 30, tzinfo=UTC),  # "2026-01-20T09:30:00Z"
    ]


def test_search_result_keeps_content_type_and_organisations_as_metadata() -> None:
    result = parse_search_fixture()

    assert result.entries[0].metadata == {
        "display_type": "Press release",
        "content_store_document_type": "press_release",
        "organisations": [DBT, TRA],
    }


def test_search_result_description_becomes_the_summary() -> None:
    result = parse_search_fixture()

    assert result.entries[3].summary == (
        "Monthly volumes of steel & aluminium imports by product category and country of origin."
    )


def test_search_result_without_a_link_is_skipped() -> None:
    body = json.dumps(
        {
            "results": [
                {"title": "Steel safeguard extended", "link": "/government/news/steel"},
                {"title": "A result with no page", "description": "No link at all."},
            ],
            "total": 2,
        }
    ).encode()

    result = parse_search_answer(body)

    assert [entry.title for entry in result.entries] == ["Steel safeguard extended"]
    assert (result.skipped, result.warnings) == (
        1,
        ["entries skipped for want of a title or link: 1"],
    )


def test_search_result_with_an_unreadable_timestamp_is_kept_undated_and_reported() -> None:
    body = json.dumps(
        {"results": [{"title": "Steel", "link": "/government/news/steel", "public_timestamp": "-"}]}
    ).encode()

    result = parse_search_answer(body)

    assert result.entries[0].published is None
    assert result.warnings == ["entries whose date could not be read: 1"]


def test_search_answer_that_is_not_json_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="did not answer with JSON"):
        parse_search_answer(b"<!DOCTYPE html><html><title>GOV.UK</title></html>")


def test_search_answer_without_results_is_a_source_error() -> None:
    error_answer = json.dumps({"error": "Invalid value for parameter order"}).encode()

    with pytest.raises(SourceError, match="no `results` list"):
        parse_search_answer(error_answer)


# Asking the question


def test_request_params_repeat_a_filter_for_each_of_its_values() -> None:
    spec = govuk_spec(
        filters={
            "filter_organisations": [
                "department-for-business-and-trade",
                "trade-remedies-authority",
            ],
            "reject_content_purpose_supergroup": "other",
        }
    )

    assert KINDS["govuk"].request_params(spec) == [
        ("count", "50"),
        ("order", "-public_timestamp"),
        ("filter_organisations", "department-for-business-and-trade"),
        ("filter_organisations", "trade-remedies-authority"),
        ("reject_content_purpose_supergroup", "other"),
        ("fields", "title"),
        ("fields", "link"),
        ("fields", "description"),
        ("fields", "public_timestamp"),
        ("fields", "display_type"),
        ("fields", "content_store_document_type"),
        ("fields", "organisations"),
    ]


def test_request_params_include_the_keywords_and_count_when_given() -> None:
    spec = govuk_spec(q="carbon border adjustment", count=20, order="public_timestamp")

    params = KINDS["govuk"].request_params(spec)

    assert params[:3] == [
        ("count", "20"),
        ("order", "public_timestamp"),
        ("q", "carbon border adjustment"),
    ]


@pytest.mark.parametrize(
    "name",
    ["organisations", "filter-organisations", "filter_Organisations", "filter_", "order_by"],
)
def test_options_reject_what_is_not_a_search_api_filter(name: str) -> None:
    with pytest.raises(ValidationError, match="is not a search API filter"):
        GovukOptions(filters={name: "department-for-business-and-trade"})


@pytest.mark.parametrize(
    "name",
    ["filter_organisations", "reject_content_store_document_type", "filter_any_topical_events"],
)
def test_options_accept_search_api_filters(name: str) -> None:
    assert GovukOptions(filters={name: "x"}).filters == {name: "x"}


@pytest.mark.parametrize("order", ["updated-newest", "newest", "--public_timestamp", ""])
def test_options_reject_an_order_the_search_api_does_not_know(order: str) -> None:
    with pytest.raises(ValidationError, match="order must be one of"):
        GovukOptions(order=order)


@pytest.mark.parametrize("count", [0, 1501])
def test_options_reject_a_count_outside_what_the_search_api_allows(count: int) -> None:
    with pytest.raises(ValidationError, match="count"):
        GovukOptions(count=count)
