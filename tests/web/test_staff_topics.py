"""Editing a topic in the staff console: the form, its errors, and the preview of what the
change would give or take away among stored items."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.ingest.sources.base import Entry
from alerter.ingest.store import store_entries, story_index
from alerter.models import Source
from alerter.web.app import create_app
from subscriptions.staff import create_staff
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# A topic with no labelled examples is decided by its phrases alone, so the preview's figures
# follow from the phrases.
COATINGS = """
[[topics]]
id = "coatings"
label = "Coatings"
description = "Galvanising and other metal coatings."
phrases = ["galvanising"]
"""


@pytest.fixture
def client(settings: Settings, engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    topics = tmp_path / "topics.toml"
    topics.write_text(DEFAULT_TOPICS_FILE.read_text(encoding="utf-8") + COATINGS, encoding="utf-8")
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        source = Source(name="Press", kind="feed", url="https://press.example/feed", publisher="P")
        session.add(source)
        session.commit()
        stories = [
            ("g1", "Galvanising plant opens in Walsall", NOW - timedelta(days=3)),
            ("g2", "New zinc coating line for Teesside works", NOW - timedelta(days=10)),
            ("g3", "Zinc coating prices recorded last spring", NOW - timedelta(days=200)),
        ]
        store_entries(
            session,
            source,
            [Entry(g, f"https://press.example/{g}", t, "", when) for g, t, when in stories],
            now=NOW,
            backlog=True,
            stories=story_index(session),
        )
        session.commit()
    app_settings = settings.model_copy(
        update={"topics": topics, "secret_key": "test secret", "base_url": "http://testserver"}
    )
    with TestClient(create_app(app_settings, engine, clock=lambda: NOW)) as test_client:
        sign_in(test_client)
        yield test_client


def text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element {element_id}"
    return unescape(match.group(1)).strip()


def preview(client: TestClient, **form: str) -> tuple[int, str]:
    page = client.get("/staff/topics/coatings/edit")
    response = client.post(
        "/staff/topics/coatings/edit", data={"csrf_token": csrf(page.text), **form}
    )
    return response.status_code, response.text


def test_the_topics_page_links_to_each_topics_edit_form(client: TestClient) -> None:
    assert 'href="/staff/topics/coatings/edit"' in client.get("/staff/topics").text


def test_the_edit_form_shows_the_topics_phrases(client: TestClient) -> None:
    page = client.get("/staff/topics/coatings/edit").text

    assert 'value="Coatings"' in page
    assert ">galvanising</textarea>" in page


def test_preview_counts_the_recent_items_that_would_gain_or_lose_the_topic(
    client: TestClient,
) -> None:
    status, page = preview(
        client, label="Coatings", description="Metal coatings.", phrases="zinc coating\n"
    )

    assert status == 200
    assert text(page, "gain-count") == "1"
    assert text(page, "lose-count") == "1"
    assert "New zinc coating line for Teesside works" in page
    assert "Galvanising plant opens in Walsall" in page
    assert "Zinc coating prices recorded last spring" not in page  # older than 90 days
    assert "Of the 2 items stored from the last 90 days" in page


def test_an_unchanged_topic_gains_and_loses_nothing(client: TestClient) -> None:
    _, page = preview(
        client, label="Coatings", description="Metal coatings.", phrases="galvanising"
    )

    assert (text(page, "gain-count"), text(page, "lose-count")) == ("0", "0")


def test_every_problem_is_listed_at_the_top_linked_to_its_field(client: TestClient) -> None:
    status, page = preview(client, label=" ", description="", phrases="zi*")

    assert status == 400
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert summary
    links = re.findall(r'<a href="#(\w+)">', summary.group(0))
    assert links == ["label", "description", "phrases"]
    assert 'id="preview"' not in page
    assert ">zi*</textarea>" in page  # what was typed stays


def test_an_unknown_topic_is_not_found(client: TestClient) -> None:
    assert client.get("/staff/topics/nonesuch/edit").status_code == 404
