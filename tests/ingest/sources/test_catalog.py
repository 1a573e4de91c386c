"""Reading the sources file: one `[[sources]]` table per source, checked before anything runs."""

from pathlib import Path

import pytest

from alerter.config import DEFAULT_SOURCES_FILE
from alerter.ingest.sources import KINDS
from alerter.ingest.sources.base import ApiKind
from alerter.ingest.sources.catalog import SourceFileError, health_lines, load_source_file
from alerter.models import Source

VALID_SOURCES = """
[[sources]]
name = "ALFED news"
kind = "feed"
url = "https://alfed.org.uk/feed/"
publisher = "The Aluminium Federation"

[[sources]]
name = "CMF news"
kind = "html"
url = "https://www.castmetalsfederation.com/news/"
publisher = "Cast Metals Federation"
poll_minutes = 180
item_selector = "article.news-card"
title_selector = ".news-card__title"
link_selector = ".news-card__title a"
date_selector = ".news-card__date"

[[sources]]
name = "GOV.UK DBT and TRA"
kind = "govuk"
url = "https://www.gov.uk/api/search.json"
publisher = "GOV.UK"
enabled = false

[sources.filters]
filter_organisations = ["department-for-business-and-trade", "trade-remedies-authority"]
"""


def write_sources(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(SourceFileError) as raised:
        load_source_file(write_sources(tmp_path, text))
    return str(raised.value)


def test_valid_file_gives_one_spec_per_source_in_order(tmp_path: Path) -> None:
    specs = load_source_file(write_sources(tmp_path, VALID_SOURCES))

    assert [(spec.name, spec.kind, str(spec.url)) for spec in specs] == [
        ("ALFED news", "feed", "https://alfed.org.uk/feed/"),
        ("CMF news", "html", "https://www.castmetalsfederation.com/news/"),
        ("GOV.UK DBT and TRA", "govuk", "https://www.gov.uk/api/search.json"),
    ]


def test_valid_file_keeps_common_settings_and_their_defaults(tmp_path: Path) -> None:
    specs = load_source_file(write_sources(tmp_path, VALID_SOURCES))

    assert [(spec.enabled, spec.poll_minutes) for spec in specs] == [
        (True, 60),
        (True, 180),
        (False, 60),
    ]


def test_valid_file_passes_the_other_keys_as_checked_kind_options(tmp_path: Path) -> None:
    feed, html, govuk = load_source_file(write_sources(tmp_path, VALID_SOURCES))

    assert feed.options == {}
    assert html.options == {
        "item_selector": "article.news-card",
        "title_selector": ".news-card__title",
        "link_selector": ".news-card__title a",
        "date_selector": ".news-card__date",
    }
    assert govuk.options == {
        "count": 50,
        "order": "-public_timestamp",
        "filters": {
            "filter_organisations": [
                "department-for-business-and-trade",
                "trade-remedies-authority",
            ]
        },
    }


def test_an_empty_list_of_sources_is_valid(tmp_path: Path) -> None:
    assert load_source_file(write_sources(tmp_path, "sources = []\n")) == []


def test_each_bad_entry_is_reported_with_its_number_and_name(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
name = "ALFED news"
kind = "feed"
url = "https://alfed.org.uk/feed/"
publisher = "The Aluminium Federation"

[[sources]]
name = "UK Steel news"
kind = "feed"
publisher = "UK Steel"

[[sources]]
name = "Cobalt Institute"
kind = "feed"
url = "https://www.cobaltinstitute.org/feed/"
publisher = "Cobalt Institute"
poll_minutes = 0
""",
    )

    assert "source #2 ('UK Steel news'): url: Field required" in message
    assert "source #3 ('Cobalt Institute'): poll_minutes: " in message
    assert "ALFED news" not in message


def test_an_entry_without_a_name_is_reported_by_its_number(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
kind = "feed"
url = "https://alfed.org.uk/feed/"
publisher = "The Aluminium Federation"
""",
    )

    assert "source #1: name: Field required" in message


def test_a_name_used_twice_is_reported(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
name = "ALFED news"
kind = "feed"
url = "https://alfed.org.uk/feed/"
publisher = "The Aluminium Federation"

[[sources]]
name = "ALFED news"
kind = "feed"
url = "https://alfed.org.uk/category/news/feed/"
publisher = "The Aluminium Federation"
""",
    )

    assert "source name 'ALFED news' is used twice; names must be unique" in message


def test_an_unknown_kind_is_reported_with_the_kinds_there_are(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
name = "ALFED news"
kind = "rss"
url = "https://alfed.org.uk/feed/"
publisher = "The Aluminium Federation"
""",
    )

    kinds = ", ".join(KINDS)
    assert f"source #1 ('ALFED news'): kind must be one of {kinds}, not 'rss'" in message


def test_an_html_source_without_its_selectors_is_reported(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
name = "CMF news"
kind = "html"
url = "https://www.castmetalsfederation.com/news/"
publisher = "Cast Metals Federation"
item_selector = "article.news-card"
""",
    )

    assert "source #1 ('CMF news'): " in message
    assert "title_selector: Field required" in message
    assert "link_selector: Field required" in message


def test_an_html_selector_that_is_not_valid_css_is_reported(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
name = "CMF news"
kind = "html"
url = "https://www.castmetalsfederation.com/news/"
publisher = "Cast Metals Federation"
item_selector = "article.news-card"
title_selector = ".news-card__title"
link_selector = ".news-card__title a[href"
""",
    )

    assert "source #1 ('CMF news'): link_selector: " in message
    assert "not a valid CSS selector" in message


def test_a_misspelt_setting_is_reported_rather_than_ignored(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
name = "ALFED news"
kind = "feed"
url = "https://alfed.org.uk/feed/"
publisher = "The Aluminium Federation"
poll_minute = 30
""",
    )

    assert "source #1 ('ALFED news'): poll_minute: Extra inputs are not permitted" in message


def test_a_govuk_filter_the_search_api_does_not_know_is_reported(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
[[sources]]
name = "GOV.UK DBT"
kind = "govuk"
url = "https://www.gov.uk/api/search.json"
publisher = "GOV.UK"
filters = { organisations = "department-for-business-and-trade" }
""",
    )

    assert "source #1 ('GOV.UK DBT'): filters: " in message
    assert "'organisations' is not a search API filter" in message


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[[sources]]\nname = "ALFED news\n')

    assert "not valid TOML" in message


def test_a_file_without_an_array_of_sources_is_reported(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'sources = "https://alfed.org.uk/feed/"\n')

    assert "expected an array of tables [[sources]]" in message


def test_a_file_that_is_not_utf_8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_bytes(
        '[[sources]]\nname = "ALFED news"\npublisher = "ALFED \u2013 \u00a3"\n'.encode("cp1252")
    )

    with pytest.raises(SourceFileError, match="not UTF-8"):
        load_source_file(path)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="cannot read the sources file"):
        load_source_file(tmp_path / "missing.toml")


def test_the_shipped_sources_list_every_api_kind_disabled_for_staff_to_turn_on() -> None:
    specs = load_source_file(DEFAULT_SOURCES_FILE)

    api_kinds = {name for name, kind in KINDS.items() if isinstance(kind, ApiKind)}
    assert {spec.kind for spec in specs} >= api_kinds
    assert all(not spec.enabled for spec in specs if spec.kind in api_kinds)


def test_every_kind_name_fits_the_source_table() -> None:
    longest = Source.__table__.c.kind.type.length  # type: ignore[attr-defined]

    assert [name for name in KINDS if len(name) > longest] == []


def test_a_failing_sources_health_reads_as_its_state_link_times_and_warnings() -> None:
    source = Source(
        name="ALFED news",
        kind="html",
        url="https://alfed.example/news",
        publisher="ALFED",
        last_error="HTTP 503",
        consecutive_failures=3,
        last_warnings=["entry 2: no date"],
    )

    assert health_lines(source) == [
        "ALFED news [html] FAILING x3: HTTP 503",
        "  https://alfed.example/news",
        "  last success: never; next poll: now",
        "  warning: entry 2: no date",
    ]


def test_a_source_not_polled_yet_says_so() -> None:
    source = Source(name="CMF", kind="feed", url="https://cmf.example/rss", publisher="CMF")

    assert health_lines(source)[0] == "CMF [feed] not polled yet"
