"""What members and staff do, in a real browser against the running app: the pages, forms,
links in emails and redirects working together."""

import email
from pathlib import Path

import httpx
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from alerter.topics.labelling import topics_of as item_topics
from subscriptions.members import find_member, topics_of
from subscriptions.models import MemberStatus
from subscriptions.staff import create_staff
from tests.browser.conftest import LiveApp
from tests.support.web_forms import STAFF_PASSWORD as PASSWORD
from tests.web.test_staff_pages import NOW, stored_item

IMPORT_CSV = (
    "email,name,organisation,topics,frequency\n"
    "bob@cmf.example,Bob,CMF,tariffs;energy,weekly\n"
    "nope,Nope,CMF,tariffs,weekly\n"
    "cara@cmf.example,Cara,CMF,recycling,daily\n"
    "dan@cmf.example,Dan,CMF,steel,weekly\n"
)


def assert_basically_accessible(page: Page) -> None:
    """A cheap check, not an audit: a page heading, and a label for every form control."""
    expect(page.locator("h1")).to_have_count(1)
    unlabelled = page.locator("input:not([type=hidden]), select, textarea").evaluate_all(
        "controls => controls.filter(c => c.labels.length === 0).map(c => c.outerHTML)"
    )
    assert unlabelled == []


def link_in_last_email(outbox: Path, purpose: str) -> str:
    newest = max(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    message = email.message_from_bytes(newest.read_bytes())
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode()
    return next(word for word in body.split() if f"/{purpose}/" in word)


def member_status(engine: sa.Engine, address: str) -> str:
    with Session(engine) as session:
        member = find_member(session, address)
        assert member is not None
        return member.status


def test_a_member_signs_up_confirms_changes_topics_and_unsubscribes_in_one_click(
    page: Page, live_app: LiveApp, engine: sa.Engine, tmp_path: Path
) -> None:
    page.goto("/signup")
    assert_basically_accessible(page)
    page.get_by_label("Email address").fill("Jo@Foundry.example")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.type("Jo Bloggs")
    page.keyboard.press("Tab")
    page.keyboard.type("Foundry Ltd")
    page.get_by_label("Tariffs and trade remedies").check()
    page.get_by_label("Recycling and the circular economy").check()
    page.get_by_label("Daily digest").check()
    page.get_by_label("Organisation").press("Enter")  # submits the form, as a keyboard user would

    expect(page.locator("h1")).to_have_text("Check your email")
    assert member_status(engine, "jo@foundry.example") == MemberStatus.PENDING

    confirm_link = link_in_last_email(live_app.outbox, "confirm")
    assert confirm_link.startswith(live_app.base_url + "/confirm/")
    page.goto(confirm_link)
    assert_basically_accessible(page)
    assert member_status(engine, "jo@foundry.example") == MemberStatus.PENDING
    page.get_by_role("button", name="Confirm my alerts").click()
    expect(page.locator("h1")).to_have_text("You are subscribed")
    assert member_status(engine, "jo@foundry.example") == MemberStatus.ACTIVE

    page.get_by_role("link", name="Choose topics").click()
    expect(page.locator("h1")).to_have_text("Your alerts")
    assert_basically_accessible(page)
    expect(page.get_by_label("Tariffs and trade remedies")).to_be_checked()
    expect(page.get_by_label("Daily digest")).to_be_checked()
    page.get_by_label("Recycling and the circular economy").uncheck()
    page.get_by_label("Energy costs and supply").check()
    page.get_by_label("Weekly digest").check()
    page.get_by_role("button", name="Save my choices").click()

    expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
    expect(page.get_by_label("Energy costs and supply")).to_be_checked()
    page.screenshot(path=tmp_path / "manage.png", full_page=True)
    with Session(engine) as session:
        member = find_member(session, "jo@foundry.example")
        assert member is not None and member.frequency == "weekly"
        assert sorted(topics_of(session, member.id or 0)) == ["energy", "tariffs"]

    page.get_by_role("link", name="Unsubscribe from all alerts").click()
    expect(page.locator("h1")).to_have_text("Unsubscribe")
    assert_basically_accessible(page)
    assert member_status(engine, "jo@foundry.example") == MemberStatus.ACTIVE

    # RFC 8058: the mail provider POSTs to the List-Unsubscribe address, with no cookie.
    one_click = httpx.post(page.url, data={"List-Unsubscribe": "One-Click"})

    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert member_status(engine, "jo@foundry.example") == MemberStatus.UNSUBSCRIBED


def test_staff_sign_in_correct_an_items_topics_and_import_members(
    page: Page, engine: sa.Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        create_staff(session, "ann@alfed.example", PASSWORD, NOW)
        session.commit()
    item_id = stored_item(engine, "New anti-dumping duties on steel wire")
    item = page.locator(f"#item-{item_id}")

    page.goto("/staff/items")
    expect(page.locator("h1")).to_have_text("Staff sign in")
    assert_basically_accessible(page)
    page.get_by_label("Email address").fill("ann@alfed.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")

    expect(page.locator("h1")).to_have_text("Items")
    assert_basically_accessible(page)
    expect(item.get_by_role("button", name="Remove tariffs")).to_be_visible()
    item.get_by_label("Add a topic").select_option(label="Consultations")
    item.get_by_role("button", name="Add topic").click()
    expect(item.get_by_role("button", name="Remove consultations")).to_be_visible()
    item.get_by_role("button", name="Remove tariffs").click()

    expect(item.get_by_role("button", name="Remove tariffs")).to_have_count(0)
    expect(item.get_by_role("listitem")).to_contain_text(["Consultations: set by staff"])
    page.screenshot(path=tmp_path / "staff-items.png", full_page=True)
    with Session(engine) as session:
        assert [t.topic_id for t in item_topics(session, [item_id])[item_id]] == ["consultations"]

    page.get_by_role("link", name="Import members").click()
    expect(page.locator("h1")).to_have_text("Import members")
    assert_basically_accessible(page)
    page.get_by_label("CSV file").set_input_files(
        {"name": "members.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV.encode()}
    )
    page.get_by_label("I confirm we hold these people's consent").check()
    page.get_by_role("button", name="Import").click()

    report = page.get_by_role("status")
    expect(report.get_by_role("heading")).to_have_text("Import report")
    expect(report).to_contain_text("2 added, 0 updated, 0 left as is, 2 refused.")
    rows = report.locator("tbody tr")
    expect(rows).to_have_count(4)
    assert rows.nth(1).locator("td").all_inner_texts()[:3] == ["3", "nope", "refused"]
    assert rows.nth(1).locator("td").nth(3).inner_text().startswith("not a valid email address")
    assert rows.nth(3).locator("td").all_inner_texts() == [
        "5",
        "dan@cmf.example",
        "refused",
        "unknown topic steel",
    ]
    assert member_status(engine, "bob@cmf.example") == MemberStatus.ACTIVE
    assert member_status(engine, "cara@cmf.example") == MemberStatus.ACTIVE
