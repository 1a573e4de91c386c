"""The staff console through the app: sign-in, topic corrections, members, CSV import."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.labelling import classify_items, load_classifier, topics_of
from alerter.models import Source
from alerter.sources.base import Entry
from alerter.store import store_entries, story_index
from subscriptions.members import find_member
from subscriptions.models import MemberStatus
from subscriptions.staff import create_staff
from subscriptions.web.app import create_app
from tests.newsroom import weekly_run
from tests.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAFF_PAGES = [
    "/staff/items",
    "/staff/sources",
    "/staff/topics",
    "/staff/members",
    "/staff/members/new",
    "/staff/members/import",
    "/staff/members.csv",
    "/staff/bulletins",
    "/staff/bulletins/new",
    "/staff/deliveries",
]


@pytest.fixture
def client(settings: Settings, engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
    app_settings = settings.model_copy(
        update={
            "outbox_dir": tmp_path / "outbox",
            "secret_key": "test secret",
            "base_url": "http://testserver",
        }
    )
    with TestClient(create_app(app_settings, engine)) as test_client:
        yield test_client


def stored_item(engine: sa.Engine, title: str) -> int:
    with Session(engine) as session:
        source = Source(name="DBT", kind="feed", url="https://dbt.example/feed", publisher="DBT")
        session.add(source)
        session.commit()
        result = store_entries(
            session,
            source,
            [Entry("g1", "https://dbt.example/1", title, "", NOW)],
            now=NOW,
            backlog=False,
            stories=story_index(session),
        )
        classify_items(session, load_classifier(session, DEFAULT_TOPICS_FILE), result.new_item_ids)
        session.commit()
        return result.new_item_ids[0]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_no_staff_page_is_reachable_without_signing_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login")


def test_no_staff_action_is_possible_without_signing_in(
    client: TestClient, engine: sa.Engine
) -> None:
    item_id = stored_item(engine, "New anti-dumping duties on steel wire")
    form = client.get("/staff/login")

    response = client.post(
        f"/staff/items/{item_id}/topics",
        follow_redirects=False,
        data={"csrf_token": csrf(form.text), "topic": "tariffs", "action": "remove"},
    )

    assert response.status_code == 303
    with Session(engine) as session:
        assert [t.topic_id for t in topics_of(session, [item_id])[item_id]] == ["tariffs"]


def test_signing_in_sets_an_http_only_same_site_cookie(client: TestClient) -> None:
    response = sign_in(client)

    assert response.status_code == 200
    cookie = next(
        h
        for h in response.history[0].headers.get_list("set-cookie")
        if h.startswith("alerter_session=")
    )
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_a_wrong_password_is_refused_and_repeated_failures_are_rate_limited(
    client: TestClient,
) -> None:
    assert sign_in(client, "wrong").status_code == 401
    for _ in range(4):
        sign_in(client, "wrong")

    assert sign_in(client).status_code == 429


def test_staff_correct_an_items_topic_and_see_the_evidence(
    client: TestClient, engine: sa.Engine
) -> None:
    item_id = stored_item(engine, "New anti-dumping duties on steel wire")
    items = sign_in(client).text
    assert "“anti dumping” in the title" in items

    client.post(
        f"/staff/items/{item_id}/topics",
        data={"csrf_token": csrf(items), "topic": "consultations", "action": "add"},
    )
    page = client.post(
        f"/staff/items/{item_id}/topics",
        data={"csrf_token": csrf(items), "topic": "tariffs", "action": "remove"},
    )

    with Session(engine) as session:
        assert [t.topic_id for t in topics_of(session, [item_id])[item_id]] == ["consultations"]
    assert "set by staff (ann@alfed.example)" in page.text


def test_feed_text_is_escaped_on_staff_pages(client: TestClient, engine: sa.Engine) -> None:
    stored_item(engine, '<img src=x onerror="alert(1)"> tariffs')

    page = sign_in(client).text

    assert "<img src=x" not in page
    assert "&lt;img src=x" in page


def test_importing_a_csv_with_bad_rows_shows_a_report(
    client: TestClient, engine: sa.Engine
) -> None:
    page = sign_in(client).text
    csv = (
        "email,name,organisation,topics,frequency\n"
        "bob@cmf.example,Bob,CMF,tariffs,weekly\n"
        "nope,Nope,CMF,tariffs,weekly\n"
        "cara@cmf.example,Cara,CMF,steel,weekly\n"
    )

    report = client.post(
        "/staff/members/import",
        data={"csrf_token": csrf(page), "consent_confirmed": "true"},
        files={"file": ("members.csv", csv.encode(), "text/csv")},
    )

    assert report.status_code == 200
    assert "1 added" in report.text
    assert re.search(r"<td>3</td><td>not a valid email address", report.text)
    assert re.search(r"<td>4</td><td>unknown topic steel", report.text)
    with Session(engine) as session:
        bob = find_member(session, "bob@cmf.example")
        assert bob is not None and bob.status == MemberStatus.ACTIVE


def test_staff_add_edit_and_erase_a_member(client: TestClient, engine: sa.Engine) -> None:
    page = sign_in(client).text
    added = client.post(
        "/staff/members/new",
        data={
            "csrf_token": csrf(page),
            "email": "dev@forge.example",
            "name": "Dev",
            "organisation": "Forge",
            "topics": ["energy"],
            "frequency": "weekly",
            "consent_confirmed": "true",
        },
    )
    assert "dev@forge.example" in added.text and "staff-add" in added.text
    member_url = str(added.url.path)

    client.post(
        member_url,
        data={
            "csrf_token": csrf(page),
            "name": "Dev Patel",
            "organisation": "Forge",
            "topics": ["skills"],
            "frequency": "daily",
        },
    )
    listed = client.get("/staff/members?q=patel").text
    assert "Dev Patel" in listed
    client.post(member_url + "/erase", data={"csrf_token": csrf(page)})

    with Session(engine) as session:
        assert find_member(session, "dev@forge.example") is None
    assert "dev@forge.example" not in client.get("/staff/members.csv").text


def test_staff_see_each_runs_outcome_and_why_deliveries_failed(
    client: TestClient, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        weekly_run(
            session,
            ["sent", "sent", "failed", "skipped"],
            planned_at=datetime.now(UTC),  # within the page's 30 days
            error="SendGrid answered 400: invalid email",
        )
    sign_in(client)

    runs = client.get("/staff/deliveries")
    failed = client.get("/staff/deliveries/digest-weekly/2026-W10")

    row = re.search(r"digest-weekly <span class=\"hint\">2026-W10</span>.*?</tr>", runs.text, re.S)
    assert row is not None
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", row.group(0))]
    assert cells[1:] == ["2", "1", "1", "0"]  # after the date: sent, failed, skipped, to send
    assert "m2@foundry.example" in failed.text
    assert "SendGrid answered 400: invalid email" in failed.text
