"""A staff member sends a bulletin in a real browser: compose with two items found by topic,
preview, confirm the audience, send; a second press of send changes nothing."""

import email
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from alerter.models import Delivery
from subscriptions.members import find_member, suppress, unsubscribe
from subscriptions.staff import create_staff
from tests.browser.conftest import LiveApp
from tests.browser.test_journeys import assert_basically_accessible
from tests.support.newsroom import add_subscriber, store_item
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD

NOW = datetime.now(UTC)
TARIFFS = "Tariffs and trade remedies"


def newsroom(engine: sa.Engine) -> None:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
        store_item(session, "Anti-dumping duties on aluminium extrusions", NOW - timedelta(1))
        store_item(session, "Steel safeguard quota reopens for wire rod", NOW - timedelta(2))
        store_item(session, "Foundry apprenticeship scheme expands", NOW - timedelta(3))
        joined = NOW - timedelta(days=10)
        for address, topics in [
            ("jo@foundry.example", ["tariffs"]),
            ("kim@foundry.example", ["tariffs"]),
            ("lee@foundry.example", ["tariffs", "energy"]),
            ("max@foundry.example", ["skills"]),
        ]:
            add_subscriber(session, address, topics, joined=joined)
        unsubscribe(session, find_member(session, "kim@foundry.example"), "test", NOW)  # type: ignore[arg-type]
        suppress(session, find_member(session, "lee@foundry.example"), "bounce", NOW)  # type: ignore[arg-type]
        session.commit()


def received(outbox: Path) -> list[str]:
    return sorted(email.message_from_bytes(p.read_bytes())["To"] for p in outbox.glob("*.eml"))


def test_staff_send_a_bulletin_to_a_topics_followers_once(
    page: Page, live_app: LiveApp, engine: sa.Engine, tmp_path: Path
) -> None:
    newsroom(engine)
    page.goto("/staff/bulletins")
    page.get_by_label("Email address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.goto("/staff/bulletins")
    expect(page.locator("h1")).to_have_text("Bulletins")

    page.get_by_role("link", name="Write a bulletin").click()
    assert_basically_accessible(page)
    page.get_by_label("Subject").fill("Steel safeguards change on 1 July")
    page.get_by_label("Introduction").fill("The **quotas** change from 1 July.\n\n- Wire rod")
    page.get_by_label("Topic", exact=True).select_option(label=TARIFFS)
    page.get_by_role("button", name="Search items").click()
    expect(page.get_by_text("Foundry apprenticeship scheme expands")).to_have_count(0)
    page.get_by_label("Anti-dumping duties on aluminium extrusions").check()
    page.get_by_label("Steel safeguard quota reopens for wire rod").check()
    page.get_by_role("checkbox", name=TARIFFS).check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_have_text("Draft saved.")

    page.get_by_role("link", name="Preview as a member will receive it").click()
    html_part = page.frame_locator("iframe")
    expect(html_part.locator("strong")).to_have_text("quotas")
    expect(html_part.get_by_role("link", name="Steel safeguard quota reopens")).to_be_visible()
    page.screenshot(path=tmp_path / "bulletin-preview.png", full_page=True)
    page.go_back()

    page.get_by_role("link", name="Send to members…").click()
    expect(page.locator("#audience-size")).to_contain_text("1 members")
    expect(page.locator("#audience-size")).to_contain_text("2 who unsubscribed")
    # The same confirmation open in a second tab: a second press of send, after the first.
    second = page.context.new_page()
    second.goto(page.url)
    page.get_by_role("button", name="Send to 1 members").click()
    expect(page.locator("#result")).to_contain_text("Sent to 1 members")
    assert received(live_app.outbox) == ["jo@foundry.example"]

    second.get_by_role("button", name="Send to 1 members").click()

    expect(second.locator("#result")).to_contain_text("Sent to 1 members")
    assert received(live_app.outbox) == ["jo@foundry.example"]
    with Session(engine) as session:
        assert len(session.exec(select(Delivery)).all()) == 1
