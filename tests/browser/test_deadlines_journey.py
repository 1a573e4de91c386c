"""Deadlines in a real browser: staff mark the association as responding on the Deadlines
page; a member asks for reminders and finds their calendar link. Both at phone width too."""

from datetime import UTC, datetime, timedelta

import httpx
import icalendar
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from alerter.config import Settings
from subscriptions.links import member_link
from subscriptions.models import Member
from subscriptions.staff import create_staff
from subscriptions.tokens import Purpose
from tests.browser.conftest import LiveApp
from tests.browser.test_journeys import assert_basically_accessible
from tests.support.newsroom import add_subscriber, store_consultation
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD

# Relative to the real clock (the live app's): ten days leaves every margin a loaded machine needs.
NOW = datetime.now(UTC)


def fits(page: Page) -> bool:
    """No sideways scrolling: the page is no wider than the window."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_staff_mark_the_association_as_responding_at_desktop_and_phone_width(
    page: Page, live_app: LiveApp, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
        store_consultation(session, NOW + timedelta(days=10), stored=NOW - timedelta(days=1))
    page.goto("/staff/login")
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Deadlines").click()
    assert_basically_accessible(page)
    expect(page.get_by_text("10 days left")).to_be_visible()
    by = (NOW + timedelta(days=3)).date()
    page.get_by_label("Members' views wanted by").fill(by.isoformat())
    page.get_by_role("button", name="The association is responding").click()

    expect(page.get_by_role("status")).to_contain_text("The association is responding")
    assert fits(page)
    page.set_viewport_size({"width": 375, "height": 800})
    assert fits(page)


def test_a_member_asks_for_reminders_and_subscribes_to_their_calendar(
    page: Page, live_app: LiveApp, engine: sa.Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        store_consultation(session, NOW + timedelta(days=10), stored=NOW - timedelta(days=1))
        member = session.get(
            Member, add_subscriber(session, "jo@foundry.example", ["tariffs"], joined=NOW)
        )
        assert member is not None
        app_settings = settings.model_copy(
            update={"secret_key": "browser test secret", "base_url": live_app.base_url}
        )
        manage = member_link(app_settings, member, Purpose.MANAGE)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(manage)
    assert_basically_accessible(page)

    page.get_by_label("Remind me 7 days and 2 days before").check()
    page.get_by_role("button", name="Save my choices").click()

    expect(page.get_by_text("Your choices are saved.")).to_be_visible()
    expect(page.get_by_label("Remind me 7 days and 2 days before")).to_be_checked()
    assert fits(page)
    link = page.get_by_label("Your calendar link").input_value()
    feed = httpx.get(link)
    events = icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["Closes: Aluminium tariff review"]
