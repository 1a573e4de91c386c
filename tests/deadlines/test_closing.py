from datetime import UTC, date, datetime

import pytest

from alerter.deadlines.closing import deadline_label, is_open, reminder_step, responding_label

# 23:59 UK time on Friday 15 January 2027 (GMT: UTC is UK time in winter).
CLOSES = datetime(2027, 1, 15, 23, 59, tzinfo=UTC)


def at(day: int, hour: int = 9, month: int = 1, year: int = 2027) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_the_label_counts_calendar_days_left() -> None:
    assert deadline_label(CLOSES, at(6)) == "closes Fri 15 Jan — 9 days left"
    assert deadline_label(CLOSES, at(14)) == "closes Fri 15 Jan — 1 day left"


def test_on_the_day_it_closes_today_then_closed() -> None:
    assert deadline_label(CLOSES, at(15, 8)) == "closes today"
    assert deadline_label(CLOSES, datetime(2027, 1, 16, 0, 0, tzinfo=UTC)) == "closed Fri 15 Jan"


def test_another_years_date_names_the_year() -> None:
    assert deadline_label(CLOSES, at(20, month=12, year=2026)) == (
        "closes Fri 15 Jan 2027 — 26 days left"
    )


def test_days_are_counted_in_uk_time_not_utc() -> None:
    # 23:30 UTC on 30 June is already 1 July in London (BST).
    closes = datetime(2027, 7, 2, 22, 59, tzinfo=UTC)  # 23:59 on 2 July, London
    late_evening = datetime(2027, 6, 30, 23, 30, tzinfo=UTC)

    assert deadline_label(closes, late_evening) == "closes Fri 2 Jul — 1 day left"


def test_a_closing_date_without_a_time_stays_open_all_that_day() -> None:
    date_only = datetime(2027, 1, 15, 0, 0, tzinfo=UTC)  # midnight in London

    assert is_open(date_only, at(15, 22))
    assert deadline_label(date_only, at(15, 22)) == "closes today"
    assert not is_open(date_only, datetime(2027, 1, 16, 0, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("now", "step"),
    [(at(7), None), (at(8), 7), (at(12), 7), (at(13), 2), (at(15, 23), 2), (at(16), None)],
)
def test_the_reminder_due_is_the_nearest_step_whose_day_has_come(
    now: datetime, step: int | None
) -> None:
    assert reminder_step(CLOSES, now) == step


def test_the_associations_deadline_is_shown_with_its_date() -> None:
    assert responding_label(date(2027, 1, 8), at(2)) == (
        "The association is responding: send us your views by Fri 8 Jan"
    )
