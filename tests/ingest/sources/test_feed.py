"""Reading RSS and Atom feeds with the `feed` source kind."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerter.ingest.clean import title_key, title_words
from alerter.ingest.sources import KINDS
from alerter.ingest.sources.base import Document, ParseResult, SourceError, SourceSpec
from alerter.ingest.stories import near_identical

FIXTURES = Path(__file__).parent.parent.parent / "fixtures"
DBT_FEED = "https://www.gov.uk/government/organisations/department-for-business-and-trade.atom"
DBT_FINDER_FEED = (
    "https://www.gov.uk/search/news-and-communications.atom"
    "?organisations%5B%5D=department-for-business-and-trade"
)
ALFED_FEED = "https://alfed.org.uk/feed/"


def parse_feed(fixture: str, url: str, content_type: str | None = "application/xml") -> ParseResult:
    spec = SourceSpec(name="Test feed", kind="feed", url=url, publisher="Test publisher")
    document = Document(url=url, body=(FIXTURES / fixture).read_bytes(), content_type=content_type)
    return KINDS["feed"].parse(document, spec)


# GOV.UK organisation feed


def test_organisation_feed_titles_lose_their_display_type_prefix() -> None:
    result = parse_feed("govuk_organisation_feed.atom", DBT_FEED)

    assert [entry.title for entry in result.entries] == [
        "Steel safeguard extended to protect UK producers from surging imports",
        "UK and Chile sign memorandum of understanding on critical minerals",
        "Supporting energy-intensive industries with electricity network charges",
        "Trade remedies notice 2026/09: aluminium extrusions: initiation of an anti-dumping "
        "investigation",
        "Metals Week 2026: keynote on recycling and the circular economy",
        "Critical minerals strategy: one year on",
    ]


def test_organisation_feed_keeps_the_display_type_as_metadata() -> None:
    result = parse_feed("govuk_organisation_feed.atom", DBT_FEED)

    assert [entry.metadata for entry in result.entries] == [
        {"display_type": "Press release"},
        {"display_type": "News story"},
        {"display_type": "Open consultation"},
        {"display_type": "Notice"},
        {"display_type": "Speech"},
        {"display_type": "Policy paper"},
    ]


def test_organisation_feed_identity_is_the_link_without_the_timestamp_fragment() -> None:
    result = parse_feed("govuk_organisation_feed.atom", DBT_FEED)

    link = (
        "https://www.gov.uk/government/news/"
        "steel-safeguard-extended-to-protect-uk-producers-from-surging-imports"
    )
    assert (result.entries[0].identity, result.entries[0].url) == (link, link)


def test_organisation_feed_dates_come_from_updated_in_utc() -> None:
    result = parse_feed("govuk_organisation_feed.atom", DBT_FEED)

    assert [entry.published for entry in result.entries] == [
        datetime(2026, 6, 25, 8, 30, tzinfo=UTC),
        datetime(2026, 6, 24, 14, 0, tzinfo=UTC),
        datetime(2026, 6, 23, 10, 15, tzinfo=UTC),
        datetime(2026, 6, 22, 11, 0, tzinfo=UTC),
        datetime(2026, 6, 19, 9, 45, tzinfo=UTC),
        datetime(2026, 6, 17, 16, 0, tzinfo=UTC),
    ]


def test_organisation_feed_summary_is_plain_text_with_entities_decoded() -> None:
    result = parse_feed("govuk_organisation_feed.atom", DBT_FEED)

    assert result.entries[-1].summary == (
        "Progress on supply chain resilience & recycling targets since the strategy was published."
    )


def test_organisation_feed_parses_cleanly() -> None:
    result = parse_feed("govuk_organisation_feed.atom", DBT_FEED)

    assert (result.skipped, result.warnings) == (0, [])


# GOV.UK finder feed


def test_finder_feed_converts_london_times_to_utc() -> None:
    result = parse_feed("govuk_finder_feed.atom", DBT_FINDER_FEED)

    assert [entry.published for entry in result.entries] == [
        datetime(2026, 6, 25, 8, 30, tzinfo=UTC),  # 09:30+01:00
        datetime(2026, 6, 24, 11, 0, tzinfo=UTC),
        datetime(2026, 6, 20, 14, 30, tzinfo=UTC),
        datetime(2026, 6, 18, 6, 0, tzinfo=UTC),
        datetime(2026, 1, 15, 10, 0, tzinfo=UTC),  # 10:00+00:00 in winter
    ]


def test_finder_feed_identity_is_its_stable_tag_id() -> None:
    result = parse_feed("govuk_finder_feed.atom", DBT_FINDER_FEED)

    assert result.entries[3].identity == (
        "tag:www.gov.uk,2005:/government/news/steel-tariff-rate-quotas-what-changes-from-1-july"
    )


def test_finder_feed_bare_titles_are_kept_whole_and_carry_no_display_type() -> None:
    result = parse_feed("govuk_finder_feed.atom", DBT_FINDER_FEED)

    fourth = result.entries[3]
    assert (fourth.title, fourth.metadata) == (
        "Steel tariff-rate quotas: what changes from 1 July",
        {},
    )


def test_finder_feed_html_summary_is_read_as_text() -> None:
    result = parse_feed("govuk_finder_feed.atom", DBT_FINDER_FEED)

    assert result.entries[1].summary == (
        "Trade advisers & UK Export Finance will help secondary aluminium producers win contracts "
        "under the new trade agreement."
    )


def test_a_story_in_both_govuk_feeds_has_the_same_url_title_and_time() -> None:
    organisation = parse_feed("govuk_organisation_feed.atom", DBT_FEED).entries[0]
    finder = parse_feed("govuk_finder_feed.atom", DBT_FINDER_FEED).entries[0]

    assert (finder.url, finder.title, finder.published) == (
        organisation.url,
        organisation.title,
        organisation.published,
    )


# ALFED's WordPress feed


def test_wordpress_feed_skips_items_without_a_title_or_a_usable_link() -> None:
    result = parse_feed("alfed_wordpress_feed.rss", ALFED_FEED)

    assert [entry.title for entry in result.entries] == [
        "UK-Chile Sign Memorandum of Understanding on Critical Minerals.",
        "ALFED Annual Lunch 2026 \u2013 booking now open",
        "Aluminium recycling rates hit a record high, new figures show",
        "ALFED responds to the UK CBAM consultation",
    ]
    assert result.skipped == 2
    assert result.warnings == ["entries skipped for want of a title or link: 2"]


def test_wordpress_feed_links_lose_their_utm_parameters_and_keep_a_duplicate_slug() -> None:
    result = parse_feed("alfed_wordpress_feed.rss", ALFED_FEED)

    assert [entry.url for entry in result.entries] == [
        "https://alfed.org.uk/uk-chile-sign-memorandum-of-understanding-on-critical-minerals/",
        "https://alfed.org.uk/alfed-annual-lunch-2026-booking-now-open-2/",
        "https://alfed.org.uk/aluminium-recycling-rates-hit-a-record-high/",
        "https://alfed.org.uk/alfed-responds-to-the-uk-cbam-consultation/",
    ]


def test_wordpress_feed_identity_is_the_post_id_guid() -> None:
    result = parse_feed("alfed_wordpress_feed.rss", ALFED_FEED)

    assert [entry.identity for entry in result.entries] == [
        "https://alfed.org.uk/?p=4812",
        "https://alfed.org.uk/?p=4807",
        "https://alfed.org.uk/?p=4799",
        "https://alfed.org.uk/?p=4781",
    ]


def test_wordpress_feed_pubdate_is_read_as_utc() -> None:
    result = parse_feed("alfed_wordpress_feed.rss", ALFED_FEED)

    assert result.entries[0].published == datetime(2026, 6, 24, 16, 45, 12, tzinfo=UTC)


def test_wordpress_feed_summary_drops_script_handlers_and_javascript_links() -> None:
    result = parse_feed("alfed_wordpress_feed.rss", ALFED_FEED)

    assert result.entries[1].summary == (
        "Join members and guests at the ALFED Annual Lunch in Birmingham. "
        "Book your table before 31 July."
    )


def test_wordpress_feed_summary_reads_as_prose_around_inline_links() -> None:
    result = parse_feed("alfed_wordpress_feed.rss", ALFED_FEED)

    assert result.entries[3].summary == (
        "We asked for indirect emissions to stay out of scope until 2030. "
        "Read our full response. Members can comment until 30 June."
    )


def test_wordpress_repost_of_a_govuk_story_matches_its_headline() -> None:
    govuk = parse_feed("govuk_organisation_feed.atom", DBT_FEED).entries[1]
    alfed = parse_feed("alfed_wordpress_feed.rss", ALFED_FEED).entries[0]

    assert title_key(alfed.title) == title_key(govuk.title)
    assert near_identical(frozenset(title_words(alfed.title)), frozenset(title_words(govuk.title)))
    assert alfed.published is not None and govuk.published is not None
    assert abs(alfed.published - govuk.published) < timedelta(days=1)


# Other feed formats and publishers


def test_rss_1_0_rdf_feed_is_read() -> None:
    result = parse_feed("feed_rss10_rdf.xml", "https://www.ukmetalscouncil.org/news/rss")

    assert [(entry.title, entry.url, entry.published) for entry in result.entries] == [
        (
            "Metals Council calls for an industrial energy price cap",
            "https://www.ukmetalscouncil.org/news/metals-council-calls-for-industrial-energy-price-cap",
            datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
        ),
        (
            "Metals trade mission to Japan: places available",
            "https://www.ukmetalscouncil.org/news/metals-trade-mission-to-japan",
            datetime(2026, 3, 2, 16, 30, tzinfo=UTC),
        ),
    ]


def test_rss_0_91_feed_without_dates_or_guids_is_read() -> None:
    result = parse_feed("feed_rss091.xml", "https://www.bssa.org.uk/news/rss.xml")

    assert [(entry.title, entry.identity, entry.published) for entry in result.entries] == [
        (
            "Nickel surcharge for July published",
            "https://www.bssa.org.uk/news/nickel-surcharge-july/",
            None,
        ),
        (
            "Stainless scrap exports: members' survey",
            "https://www.bssa.org.uk/news/stainless-scrap-exports-survey/",
            None,
        ),
    ]
    assert result.warnings == []


def test_trade_tariff_feed_with_non_atom_children_is_read() -> None:
    result = parse_feed(
        "trade_tariff_news.atom", "https://www.trade-tariff.service.gov.uk/feed/news_items"
    )

    first = result.entries[0]
    assert (first.identity, first.title, first.url) == (
        "tag:www.trade-tariff.service.gov.uk,2005:NewsItem/418",
        "Tariff Stop Press Notice \u2013 26 June 2026",
        "https://www.trade-tariff.service.gov.uk/news/stories/tariff-stop-press-notice-26-june-2026",
    )
    assert first.summary.startswith("Steel safeguard quotas for the quota year starting 1 July")


def test_trade_tariff_feed_dates_are_the_published_time_not_the_later_update() -> None:
    result = parse_feed(
        "trade_tariff_news.atom", "https://www.trade-tariff.service.gov.uk/feed/news_items"
    )

    assert result.entries[1].published == datetime(2026, 6, 19, 13, 30, tzinfo=UTC)


# Damaged and unusable feeds


def test_malformed_feed_keeps_the_entries_before_the_break_and_says_so() -> None:
    result = parse_feed("feed_malformed_xml.xml", "https://www.cobaltinstitute.org/feed/")

    assert [entry.title for entry in result.entries] == [
        "Cobalt market report 2026: demand from batteries slows",
        "Webinar: due diligence for critical minerals supply chains",
    ]
    assert result.warnings[0].startswith("malformed feed (line 26: ")


def test_feed_declared_utf_8_but_written_in_windows_1252_is_decoded_and_reported() -> None:
    result = parse_feed("feed_wrong_charset.xml", "https://backbritishmetals.org/feed/")

    assert [entry.title for entry in result.entries] == [
        "Metals sector\u2019s \u00a32.4bn energy bill is \u201cunsustainable\u201d",
        "Campaign welcomes \u2018buy British\u2019 steel procurement rule",
    ]
    assert result.warnings == [
        "declared charset utf-8 is wrong: the body is not UTF-8; decoded as Windows-1252"
    ]


@pytest.mark.filterwarnings("error::DeprecationWarning")  # feedparser's date fallback
def test_feed_reports_an_unreadable_date_and_keeps_the_entry_undated() -> None:
    result = parse_feed("feed_future_and_bad_dates.rss", "https://www.cbmf.org.uk/feed/")

    assert [entry.published for entry in result.entries] == [
        datetime(2031, 6, 6, 9, 0, tzinfo=UTC),  # believed or not later, when it is stored
        None,
        datetime(2026, 6, 2, 14, 0, tzinfo=UTC),
    ]
    assert result.warnings == ["entries whose date could not be read: 1"]


def test_retired_govuk_feed_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="This feed has ended"):
        parse_feed(
            "feed_ended.atom", "https://www.gov.uk/search/policy-papers-and-consultations.atom"
        )


@pytest.mark.parametrize("content_type", ["text/html; charset=UTF-8", None])
def test_html_page_instead_of_a_feed_is_a_source_error(content_type: str | None) -> None:
    with pytest.raises(SourceError, match="expected an RSS or Atom feed but got an HTML page"):
        parse_feed("not_a_feed.html", ALFED_FEED, content_type=content_type)
