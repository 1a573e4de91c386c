"""Calendar feeds: valid iCalendar (read back with `icalendar`), one stable event per item."""

from datetime import UTC, date, datetime, timedelta

import icalendar

from alerter.deadlines.calendar import Deadline, calendar_feed

CHANGED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def deadline(**changes: object) -> Deadline:
    values: dict[str, object] = {
        "item_id": 812,
        "title": "Aluminium tariffs; scrap metal, and CBAM: a review of the UK's approach to "
        "carbon leakage in the aluminium and steel sectors",
        "url": "https://www.gov.uk/government/consultations/aluminium-tariff-review",
        "summary": "Views sought, by sector.",
        "closes": datetime(2027, 1, 15, 23, 59, tzinfo=UTC),
        "changed": CHANGED,
        "how_to_respond": {"email": "tariffs@trade.example"},
    }
    return Deadline(**{**values, **changes})  # type: ignore[arg-type]


def events(feed: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(feed).walk("VEVENT"))


def test_the_feed_is_valid_icalendar_with_one_event_per_deadline() -> None:
    feed = calendar_feed("Consultations", [deadline()], base_url="https://alerts.alfed.example")

    calendar = icalendar.Calendar.from_ical(feed)
    (event,) = events(feed)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    assert str(event["UID"]) == "item-812@alerts.alfed.example"
    assert event.decoded("DTSTART") == datetime(2027, 1, 15, 23, 59, tzinfo=UTC)
    assert event.decoded("DTSTAMP") == CHANGED
    assert str(event["SUMMARY"]).startswith("Closes: Aluminium tariffs; scrap metal, and CBAM")
    assert "tariffs@trade.example" in str(event["DESCRIPTION"])


def test_text_is_escaped_and_lines_folded_as_rfc_5545_requires() -> None:
    feed = calendar_feed("Consultations", [deadline()], base_url="https://alerts.alfed.example")

    lines = feed.split(b"\r\n")
    assert feed.endswith(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert b"SUMMARY:Closes: Aluminium tariffs\\; scrap metal\\, and CBAM" in feed


def test_a_closing_date_without_a_time_is_an_all_day_event() -> None:
    midnight = datetime(2027, 1, 15, 0, 0, tzinfo=UTC)  # midnight in London: a date

    (event,) = events(calendar_feed("C", [deadline(closes=midnight)], base_url="http://x"))

    assert event.decoded("DTSTART") == date(2027, 1, 15)
    assert event.decoded("DTEND") == date(2027, 1, 16)


def test_a_moved_deadline_keeps_its_uid_so_calendars_update_the_event() -> None:
    before = events(calendar_feed("C", [deadline()], base_url="http://x"))[0]
    moved = deadline(
        closes=datetime(2027, 1, 29, 23, 59, tzinfo=UTC), changed=CHANGED + timedelta(days=3)
    )

    after = events(calendar_feed("C", [moved], base_url="http://x"))[0]

    assert after["UID"] == before["UID"]
    assert after.decoded("DTSTAMP") > before.decoded("DTSTAMP")


def test_the_associations_own_deadline_is_an_event_of_its_own() -> None:
    feed = calendar_feed("C", [deadline(responding_by=date(2027, 1, 8))], base_url="http://x")

    closing, responding = events(feed)
    assert str(responding["UID"]) == "item-812-association@x" != str(closing["UID"])
    assert responding.decoded("DTSTART") == date(2027, 1, 8)
