"""A staff member edits a topic's phrases in a real browser and sees, before anything is saved,
which recent items would gain or lose it."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import Session

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from subscriptions.staff import create_staff
from tests.browser.conftest import LiveApp
from tests.browser.test_journeys import assert_basically_accessible
from tests.support.newsroom import store_item
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD
from tests.web.test_staff_topics import COATINGS

NOW = datetime.now(UTC)
# Two models are trained for the preview (today's taxonomy and the edited one): seconds each on
# a busy machine, so the preview is waited for generously.
PREVIEW_WAIT_MS = 180_000


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    topics = tmp_path / "topics.toml"
    topics.write_text(DEFAULT_TOPICS_FILE.read_text(encoding="utf-8") + COATINGS, encoding="utf-8")
    return settings.model_copy(update={"topics": topics})


def test_staff_see_what_a_phrase_change_would_do_before_saving(
    page: Page, live_app: LiveApp, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
        store_item(session, "Galvanising plant opens in Walsall", NOW - timedelta(days=3))
        store_item(session, "New zinc coating line for Teesside works", NOW - timedelta(days=9))
    page.goto("/staff/topics")
    page.get_by_label("Email address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.goto("/staff/topics")
    page.get_by_role("link", name="Edit Coatings").click()
    expect(page.locator("h1")).to_have_text("Edit topic: Coatings")
    assert_basically_accessible(page)

    page.get_by_label("Phrases, one a line").fill("")
    page.get_by_label("Label").fill("")
    page.get_by_role("button", name="Preview the change").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="Enter the topic's label").click()
    expect(page.get_by_label("Label")).to_be_focused()

    page.get_by_label("Label").fill("Coatings")
    page.get_by_label("Phrases, one a line").fill("zinc coating")
    page.get_by_role("button", name="Preview the change").click(no_wait_after=True)
    preview = page.locator("#preview")
    expect(preview).to_be_visible(timeout=PREVIEW_WAIT_MS)
    expect(page.locator("#gain-count")).to_have_text("1")
    expect(page.locator("#lose-count")).to_have_text("1")
    expect(preview.get_by_text("New zinc coating line for Teesside works")).to_be_visible()
    expect(preview.get_by_text("Galvanising plant opens in Walsall")).to_be_visible()
    expect(preview.get_by_text("Nothing has been saved.")).to_be_visible()
    expect(page.get_by_label("Phrases, one a line")).to_have_value("zinc coating")
