"""Reading a news listing page that has no feed with the `html` source kind."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alerter.ingest.sources import KINDS
from alerter.ingest.sources.base import Document, ParseResult, SourceError, SourceSpec
from alerter.ingest.sources.html_page import HtmlOptions

FIXTURES = Path(__file__).parent.parent.parent / "fixtures"
CMF_NEWS = "https://www.castmetalsfederation.com/news/"
CMF_SELECTORS = {
    "item_selector": "article.news-card",
    "title_selector": ".news-card__title",
    "link_selector": ".news-card__title a",
    "date_selector": ".news-card__date",
    "summary_selector": ".news-card__excerpt",
}


def parse_cmf_listing(**selectors: Any) -> ParseResult:
    spec = SourceSpec(
        name="CMF news",
        kind="html",
        url=CMF_NEWS,  # type: ignore[arg-type]
        publisher="Cast Metals Federation",
        options={**CMF_SELECTORS, **selectors},
    )
    body = (FIXTURES / "cmf_news_listing.html").read_bytes()
    return KINDS["html"].parse(Document(url=CMF_NEWS, body=body, content_type="text/html"), spec)


def test_listing_entries_are_the_cards_with_a_title_and_a_link() -> None:
    result = parse_cmf_listing()

    assert [entry.title for entry in result.entries] == [
        "Foundry energy costs survey: the results",
        "CMF welcomes steel safeguard decision",
        "Members\u2019 Day & AGM 2026: save the date",
        "Apprenticeship levy reform: what it means for foundries",
        "Cast Metals Expo 2026 \u2013 exhibitor registration",
    ]


def test_listing_skips_a_card_without_a_link_and_one_linking_only_to_itself() -> None:
    result = parse_cmf_listing()

    assert result.skipped == 2
    assert "entries skipped for want of a title or link: 2" in result.warnings


def test_listing_links_are_made_absolute_and_canonical() -> None:
    result = parse_cmf_listing()

    assert [entry.url for entry in result.entries] == [
        "https://www.castmetalsfederation.com/news/2026/06/foundry-energy-costs-survey-the-results",
        "https://www.castmetalsfederation.com/news/2026/06/cmf-welcomes-steel-safeguard-decision",
        "https://www.castmetalsfederation.com/news/2026/02/members-day-agm-2026-save-the-date-2",
        "https://www.castmetalsfederation.com/news/2026/01/"
        "apprenticeship-levy-reform-what-it-means-for-foundries",
        "https://www.castmetalsfederation.com/events/cast-metals-expo-2026",
    ]


def test_listing_identity_is_the_canonical_url() -> None:
    result = parse_cmf_listing()

    assert all(entry.identity == entry.url for entry in result.entries)


def test_listing_dates_are_read_from_datetime_attributes_and_text_in_utc() -> None:
    result = parse_cmf_listing()

    assert [entry.published for entry in result.entries] == [
        datetime(2026, 6, 12, 9, 30, tzinfo=UTC),  # datetime="2026-06-12T10:30:00+01:00"
        datetime(2026, 6, 3, 23, 0, tzinfo=UTC),  # "4<sup>th</sup> June 2026", London midnight
        datetime(2026, 2, 4, 0, 0, tzinfo=UTC),  # "04/02/2026"
        datetime(2026, 1, 28, 0, 0, tzinfo=UTC),  # "Jan 28, 2026"
        None,  # "Date TBC"
    ]


def test_listing_reports_a_date_it_cannot_read() -> None:
    result = parse_cmf_listing()

    assert "entries whose date could not be read: 1" in result.warnings


def test_listing_summary_reads_as_prose_around_inline_markup() -> None:
    result = parse_cmf_listing()

    assert result.entries[0].summary == (
        "Energy costs remain the top concern for 8 in 10 members, according to our latest survey."
    )


def test_listing_without_date_or_summary_selectors_gives_undated_entries_without_summary() -> None:
    result = parse_cmf_listing(date_selector=None, summary_selector=None)

    assert {(entry.published, entry.summary) for entry in result.entries} == {(None, "")}
    assert result.warnings == ["entries skipped for want of a title or link: 2"]


def test_listing_where_the_item_selector_matches_nothing_is_a_source_error() -> None:
    with pytest.raises(SourceError) as raised:
        parse_cmf_listing(item_selector="div.post-listing article")

    assert str(raised.value) == (
        "CMF news: no element matched `div.post-listing article`; the site layout may have changed"
    )


def test_listing_where_no_item_has_a_title_and_link_is_a_source_error() -> None:
    with pytest.raises(SourceError) as raised:
        parse_cmf_listing(title_selector="h2.entry-title")

    message = str(raised.value)
    assert "`h2.entry-title`" in message
    assert "the site layout may have changed" in message


def test_html_options_reject_a_selector_that_is_not_valid_css() -> None:
    with pytest.raises(ValidationError, match="not a valid CSS selector"):
        HtmlOptions.model_validate({**CMF_SELECTORS, "link_selector": "a[href"})
