from datetime import UTC, date, datetime

from alerter.render import render, when

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


def test_a_time_this_year_is_day_month_and_london_time() -> None:
    # 07:09 UTC in June is 08:09 in London (summer time).
    assert when(datetime(2026, 6, 3, 7, 9, tzinfo=UTC), now=NOW) == "3 Jun 08:09"
    assert when(datetime(2026, 12, 3, 8, 9, tzinfo=UTC), now=NOW) == "3 Dec 08:09"


def test_a_time_in_another_year_shows_the_year() -> None:
    assert when(datetime(2025, 12, 3, 8, 9, tzinfo=UTC), now=NOW) == "3 Dec 2025 08:09"


def test_a_date_has_no_time_and_nothing_is_blank() -> None:
    assert when(date(2026, 3, 1), now=NOW) == "1 Mar"
    assert when(date(2024, 3, 1), now=NOW) == "1 Mar 2024"
    assert when(None) == ""


def test_every_page_starts_with_a_skip_link_to_main_content() -> None:
    html = render("pages/base.html")
    assert html.index('href="#main">Skip to main content') < html.index("<header>")
    assert '<main id="main" tabindex="-1">' in html
