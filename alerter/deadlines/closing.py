"""Closing dates, as members read them: pure functions of a closing time and the present
moment (injected), in UK time.

A publisher's closing time at local midnight is a closing *date* (the committees API gives
only dates): the item stays open through that day, and calendars show it as an all-day event."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
# The document types whose closing date is a deadline for responding (see alerter.ingest.sources):
# GOV.UK's consultations and calls for evidence, and select committees' calls for evidence.
DEADLINE_TYPES = ("consultation", "call_for_evidence", "committee_inquiry")
# Those whose outcome alerter reads (GOV.UK's; a committee's report is an item of its own).
OUTCOME_TYPES = ("consultation", "call_for_evidence")
# Items closing within this many days sort first within their topic.
SOON_DAYS = 14
# Deadline reminders: this many days before closing, most distant first.
REMINDER_STEPS = (7, 2)


def local_closing(closes: datetime) -> datetime:
    return closes.astimezone(UK)


def is_all_day(closes: datetime) -> bool:
    """Whether the publisher gave a date rather than a time (local midnight)."""
    return local_closing(closes).time() == time(0, 0)


def closing_date(closes: datetime) -> date:
    return local_closing(closes).date()


def ends_at(closes: datetime) -> datetime:
    """The moment responses stop: a closing date lasts until the end of that day."""
    if is_all_day(closes):
        end = datetime.combine(closing_date(closes) + timedelta(days=1), time(0, 0), UK)
        return end.astimezone(closes.tzinfo)
    return closes


def is_open(closes: datetime, now: datetime) -> bool:
    return now < ends_at(closes)


def days_left(closes: datetime, now: datetime) -> int:
    """Calendar days from today (UK) to the closing date: 0 on the day itself."""
    return (closing_date(closes) - now.astimezone(UK).date()).days


def short_date(day: date, today: date) -> str:
    """ "Thu 15 Jan", with the year when it is not this year's."""
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def deadline_label(closes: datetime, now: datetime) -> str:
    """ "closes Thu 15 Jan — 9 days left", "closes today", or "closed Thu 15 Jan"."""
    today = now.astimezone(UK).date()
    when = short_date(closing_date(closes), today)
    if not is_open(closes, now):
        return f"closed {when}"
    left = days_left(closes, now)
    if left <= 0:
        return "closes today"
    return f"closes {when} — {left} {'day' if left == 1 else 'days'} left"


def closing_soon(closes: datetime | None, now: datetime) -> bool:
    return closes is not None and is_open(closes, now) and days_left(closes, now) <= SOON_DAYS


def reminder_step(closes: datetime, now: datetime) -> int | None:
    """The reminder due now: the nearest step (7, then 2 days before) whose day has come, or
    None when none is (too early, or closed). A step missed (the worker was down, the item
    arrived late) is still sent until the next one is due, never after."""
    if not is_open(closes, now):
        return None
    left = days_left(closes, now)
    due = [step for step in REMINDER_STEPS if left <= step]
    return min(due) if due else None


def responding_label(by: date, now: datetime) -> str:
    """What members read when the association is preparing its own response."""
    when = short_date(by, now.astimezone(UK).date())
    return f"The association is responding: send us your views by {when}"
