"""Cleaning what sources say: links, text, listing dates, headlines, publication times, charsets."""

from datetime import UTC, datetime, timedelta

import pytest

from alerter.ingest.clean import (
    InvalidURL,
    UnparseableDate,
    believable_published,
    canonical_url,
    cap_text,
    clean_text,
    declared_charset,
    decode_body,
    parse_listing_date,
    strip_invisible,
    title_key,
)

# canonical_url


def test_canonical_url_drops_utm_parameters_and_keeps_the_others() -> None:
    link = "https://alfed.org.uk/news/?utm_source=rss&page=2&utm_medium=rss&utm_campaign=cbam"

    assert canonical_url(link) == "https://alfed.org.uk/news/?page=2"


def test_canonical_url_drops_the_fragment() -> None:
    link = "https://www.gov.uk/government/news/steel-safeguard-extended#2026-06-25T08:30:00Z"

    assert canonical_url(link) == "https://www.gov.uk/government/news/steel-safeguard-extended"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("2026/06/safeguard", "https://www.castmetalsfederation.com/news/2026/06/safeguard"),
        ("/events/expo", "https://www.castmetalsfederation.com/events/expo"),
        ("//www.gov.uk/guidance/cbam", "https://www.gov.uk/guidance/cbam"),
    ],
)
def test_canonical_url_resolves_a_relative_link_against_the_page(link: str, expected: str) -> None:
    assert canonical_url(link, base="https://www.castmetalsfederation.com/news/") == expected


def test_canonical_url_lowercases_scheme_and_host_but_not_path() -> None:
    link = "HTTPS://WWW.GOV.UK/Government/News/Steel"

    assert canonical_url(link) == "https://www.gov.uk/Government/News/Steel"


def test_canonical_url_adds_the_root_path_to_a_bare_host() -> None:
    assert canonical_url("https://alfed.org.uk") == "https://alfed.org.uk/"


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "mailto:policy@alfed.org.uk",
        "ftp://files.alfed.org.uk/briefing.pdf",
        "/news/2026/06/no-base-to-resolve-against",
        "https://alfed.org.uk:eighty/news/",
    ],
)
def test_canonical_url_rejects_what_is_not_an_absolute_http_link(link: str) -> None:
    with pytest.raises(InvalidURL):
        canonical_url(link)


@pytest.mark.parametrize("link", ["", "  ", "#", "#main-content"])
def test_canonical_url_rejects_a_link_to_the_page_it_is_on(link: str) -> None:
    with pytest.raises(InvalidURL):
        canonical_url(link, base="https://www.castmetalsfederation.com/news/")


# clean_text


def test_clean_text_drops_script_and_style_contents() -> None:
    html = (
        "<style>p { color: red }</style><p>Quota volumes published.</p>"
        "<script>track('quota-volumes')</script>"
    )

    assert clean_text(html) == "Quota volumes published."


def test_clean_text_keeps_a_links_words_but_not_its_handler_or_javascript_target() -> None:
    html = '<a href="javascript:alert(1)" onclick="steal()">Book your table</a> before 31 July.'

    assert clean_text(html) == "Book your table before 31 July."


def test_clean_text_decodes_entities() -> None:
    text = clean_text("Members&#8217; Day &amp; AGM &ndash; &pound;45")

    assert text == "Members\u2019 Day & AGM \u2013 \u00a345"


def test_clean_text_unescapes_markup_the_source_escaped_twice() -> None:
    assert clean_text("&lt;p&gt;Steel &amp;amp; aluminium&lt;/p&gt;") == "Steel & aluminium"


def test_clean_text_collapses_whitespace() -> None:
    assert clean_text("  Steel\n\tsafeguard \u00a0 extended  ") == "Steel safeguard extended"


def test_clean_text_does_not_put_a_space_where_inline_markup_was() -> None:
    html = '<p>Read our <a href="/cbam-response.pdf">full response</a>.</p>'

    assert clean_text(html) == "Read our full response."


def test_clean_text_separates_paragraphs_list_items_and_line_breaks() -> None:
    html = "<p>Consultation open.</p><ul><li>Steel</li><li>Aluminium</li></ul>Closes<br>30 June"

    assert clean_text(html) == "Consultation open. Steel Aluminium Closes 30 June"


def test_clean_text_leaves_plain_text_with_ampersands_and_comparisons_alone() -> None:
    text = "Steel & aluminium imports <5% lower than last year"

    assert clean_text(text) == text


def test_clean_text_of_nothing_is_empty() -> None:
    assert clean_text(None) == ""


# strip_invisible and cap_text


@pytest.mark.parametrize(
    "character",
    [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010)]]
    + ["\ufeff", "\u2060", "\u061c", "\x00", "\x1b", "\x85"],
)
def test_strip_invisible_removes_bidi_zero_width_and_control_characters(character: str) -> None:
    assert strip_invisible(f"Steel{character} tariffs") == "Steel tariffs"


def test_strip_invisible_keeps_letters_accents_dashes_and_emoji() -> None:
    # An accent, a curly apostrophe, an en dash, a pound sign, an emoji, Polish letters.
    text = "Caf\u00e9 owners\u2019 guidance \u2013 \u00a35m fund \U0001f3ed (\u017c\u00f3\u0142w)"

    assert strip_invisible(text) == text


def test_a_reversed_headline_reads_as_written_once_its_override_is_stripped() -> None:
    # U+202E shows "txt.exe" as "exe.txt"; stripped, the words are what a reader sees.
    assert strip_invisible("Invoice \u202etxt.exe\u202c attached") == "Invoice txt.exe attached"


def test_cap_text_leaves_text_within_the_limit_alone() -> None:
    assert cap_text("Steel tariffs", 13) == "Steel tariffs"


def test_cap_text_cuts_after_the_last_whole_word_and_adds_an_ellipsis() -> None:
    text = "New anti-dumping duties on aluminium extrusions from China"

    capped = cap_text(text, 40)

    assert capped == "New anti-dumping duties on aluminium…"
    assert len(capped) <= 40


def test_cap_text_cuts_mid_word_when_no_word_ends_near_the_limit() -> None:
    capped = cap_text("x" * 1_000_000, 300)

    assert capped == "x" * 299 + "…"


# parse_listing_date

FOURTH_OF_FEBRUARY_2026 = datetime(2026, 2, 4, tzinfo=UTC)  # GMT: London midnight is UTC midnight


@pytest.mark.parametrize(
    "text",
    [
        "4 February 2026",
        "4 Feb 2026",
        "4th February 2026",
        "04/02/2026",
        "04-02-2026",
        "04.02.2026",
        "Feb 4, 2026",
        "February 4th, 2026",
        "Wednesday 4 February 2026",
        "Wed, 4 Feb 2026",
        "2026-02-04",
        "Posted on 4 February 2026",
        "Published: 4th Feb 2026",
        "  4\n  February   2026 ",
    ],
)
def test_parse_listing_date_reads_uk_listing_formats(text: str) -> None:
    assert parse_listing_date(text) == FOURTH_OF_FEBRUARY_2026


def test_parse_listing_date_reads_sept_as_september() -> None:
    assert parse_listing_date("4 Sept 2026") == datetime(2026, 9, 3, 23, 0, tzinfo=UTC)


def test_parse_listing_date_takes_a_summer_date_as_london_midnight() -> None:
    assert parse_listing_date("4 June 2026") == datetime(2026, 6, 3, 23, 0, tzinfo=UTC)


def test_parse_listing_date_takes_a_summer_time_as_london_time() -> None:
    assert parse_listing_date("12/06/2026 10:30") == datetime(2026, 6, 12, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-06-12T10:30:00+01:00", "2026-06-12T09:30:00Z"])
def test_parse_listing_date_honours_an_iso_offset(text: str) -> None:
    assert parse_listing_date(text) == datetime(2026, 6, 12, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["Date TBC", "12 Jun", "", "Spring 2026"])
def test_parse_listing_date_raises_for_what_it_cannot_read(text: str) -> None:
    with pytest.raises(UnparseableDate, match="unrecognised date"):
        parse_listing_date(text)


# title_key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "UK and Chile sign memorandum of understanding on critical minerals",
            "UK-Chile Sign Memorandum of Understanding on Critical Minerals.",
        ),
        (
            "Press release: Steel safeguard extended to protect UK producers",
            "Steel safeguard extended to protect UK producers",
        ),
        ("Members\u2019 briefing: aluminium tariffs", "Member's briefing \u2013 aluminium tariff"),
        ("Décarbonisation roadmap for foundries", "Decarbonisation roadmap for the foundries"),
    ],
)
def test_title_key_is_equal_for_trivially_reworded_headlines(first: str, second: str) -> None:
    assert title_key(first) == title_key(second)


def test_title_key_differs_when_the_numbers_differ() -> None:
    first = "Trade remedies notice 2026/09: aluminium extrusions"
    second = "Trade remedies notice 2026/10: aluminium extrusions"

    assert title_key(first) != title_key(second)


# believable_published

FIRST_SEEN = datetime(2026, 6, 24, 12, 0, tzinfo=UTC)


def test_believable_published_keeps_a_past_date() -> None:
    published = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)

    assert believable_published(published, FIRST_SEEN) == published


def test_believable_published_tolerates_a_clock_slightly_ahead() -> None:
    published = FIRST_SEEN + timedelta(hours=2)

    assert believable_published(published, FIRST_SEEN) == published


def test_believable_published_replaces_a_future_date_with_first_seen() -> None:
    published = datetime(2031, 6, 6, 9, 0, tzinfo=UTC)

    assert believable_published(published, FIRST_SEEN) == FIRST_SEEN


def test_believable_published_uses_first_seen_when_there_is_no_date() -> None:
    assert believable_published(None, FIRST_SEEN) == FIRST_SEEN


# decode_body and declared_charset

# Curly quotes and a pound sign: the characters that Windows-1252 and UTF-8 encode differently.
HEADLINE = "Metals sector\u2019s \u00a32.4bn energy bill is \u201cunsustainable\u201d"


def test_decode_body_reads_windows_1252_labelled_utf_8_and_says_so() -> None:
    text, warning = decode_body(HEADLINE.encode("windows-1252"), "utf-8")

    assert text == HEADLINE
    assert (
        warning == "declared charset utf-8 is wrong: the body is not UTF-8; decoded as Windows-1252"
    )


def test_decode_body_reads_utf_8_labelled_windows_1252_and_says_so() -> None:
    text, warning = decode_body(HEADLINE.encode("utf-8"), "windows-1252")

    assert text == HEADLINE
    assert warning == "declared charset windows-1252 is wrong: the body is UTF-8"


def test_decode_body_reads_latin_1_labels_as_windows_1252_like_browsers_do() -> None:
    text, warning = decode_body(HEADLINE.encode("windows-1252"), "iso-8859-1")

    assert text == HEADLINE
    assert warning is None


def test_decode_body_accepts_a_correct_label_in_any_spelling() -> None:
    text, warning = decode_body(HEADLINE.encode("utf-8"), "UTF-8")

    assert text == HEADLINE
    assert warning is None


def test_decode_body_does_not_warn_about_a_wrong_label_on_plain_ascii() -> None:
    assert decode_body(b"Steel safeguard extended", "iso-8859-1") == (
        "Steel safeguard extended",
        None,
    )


def test_decode_body_removes_a_utf_8_byte_order_mark() -> None:
    text, warning = decode_body(b"\xef\xbb\xbf<rss/>", "utf-8")

    assert text == "<rss/>"
    assert warning is None


def test_decode_body_without_a_label_falls_back_to_windows_1252_and_says_so() -> None:
    text, warning = decode_body(HEADLINE.encode("windows-1252"), None)

    assert text == HEADLINE
    assert warning == "no charset declared: the body is not UTF-8; decoded as Windows-1252"


def test_decode_body_ignores_a_label_that_names_no_text_encoding() -> None:
    text, warning = decode_body(HEADLINE.encode("windows-1252"), "base64")

    assert text == HEADLINE
    assert warning == (
        "declared charset base64 is wrong: the body is not UTF-8; decoded as Windows-1252"
    )


def test_declared_charset_prefers_the_content_type_header_to_the_document() -> None:
    body = b'<?xml version="1.0" encoding="UTF-8"?><rss/>'

    assert declared_charset(body, "application/rss+xml; charset=ISO-8859-1") == "iso-8859-1"


def test_declared_charset_reads_the_xml_declaration_and_the_html_meta_tag() -> None:
    xml = b'<?xml version="1.0" encoding="windows-1252"?><rss/>'
    html = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>News</title>'

    assert (declared_charset(xml, "text/xml"), declared_charset(html, None)) == (
        "windows-1252",
        "utf-8",
    )
