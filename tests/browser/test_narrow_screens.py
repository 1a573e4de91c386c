"""Staff pages on a phone: nothing wider than the screen, the import report readable."""

import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from subscriptions.staff import create_staff
from tests.support.web_forms import STAFF_PASSWORD as PASSWORD
from tests.web.test_staff_pages import NOW

PHONE = {"width": 375, "height": 800}
# A long address, a long refusal and an unbreakable header line: what pushed pages sideways.
IMPORT_CSV = (
    "email,name,organisation,topics,frequency\n"
    "procurement.department@brierley-hill-foundry.example,Zoë O'Brien,Brierley Foundry £ Ltd,"
    "tariffs;recycling,weekly\n"
    'one@messy.example,"Jo Smith,Messy Ltd,tariffs,weekly\n'
)


def page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_the_import_report_and_members_list_fit_a_phone_screen(
    page: Page, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        create_staff(session, "ann@alfed.example", PASSWORD, NOW)
        session.commit()
    page.set_viewport_size(PHONE)
    page.goto("/staff/login")
    page.get_by_label("Email address").fill("ann@alfed.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.locator("h1")).to_have_text("Items")

    page.goto("/staff/members/import")
    assert page_width(page) <= PHONE["width"]
    page.get_by_label("CSV file").set_input_files(
        {"name": "members.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV.encode()}
    )
    page.get_by_label("I confirm we hold these people's consent").check()
    page.get_by_role("button", name="Import").click()

    report = page.get_by_role("status")
    expect(report).to_contain_text("1 added, 0 updated, 0 left as is, 1 refused.")
    assert page_width(page) <= PHONE["width"]
    # Every cell of the report is on the screen, the reason for a refusal included.
    refusal = report.get_by_text("a quote opens a field")
    box = refusal.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]

    page.get_by_role("link", name="Members", exact=True).click()
    expect(page.locator("h1")).to_have_text("Members")
    assert page_width(page) <= PHONE["width"]
    status = page.locator("td[data-label=Status]").first
    box = status.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]

    page.get_by_role("link", name="procurement.department@brierley-hill-foundry.example").click()
    expect(page.locator("h1")).to_contain_text("procurement.department")
    assert page_width(page) <= PHONE["width"]
