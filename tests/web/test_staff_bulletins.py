"""Bulletins through the staff console: compose with an item search, save, preview, test, confirm
the audience, send once; and the members' archive."""

import email
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.models import Bulletin, Delivery
from alerter.web.app import create_app
from subscriptions.staff import create_staff
from tests.support.newsroom import add_subscriber, store_item
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

NOW = datetime.now(UTC)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def client(settings: Settings, engine: sa.Engine, outbox: Path) -> Iterator[TestClient]:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
        store_item(session, "Anti-dumping duties on aluminium extrusions", NOW - timedelta(1))
        store_item(session, "Steel safeguard quota reopens for wire rod", NOW - timedelta(2))
        store_item(session, "Foundry apprenticeship scheme expands", NOW - timedelta(3))
        add_subscriber(session, "jo@foundry.example", ["tariffs"], joined=NOW - timedelta(9))
        add_subscriber(session, "kim@foundry.example", ["skills"], joined=NOW - timedelta(9))
    app_settings = settings.model_copy(
        update={"outbox_dir": outbox, "secret_key": "test secret", "base_url": "http://testserver"}
    )
    with TestClient(create_app(app_settings, engine)) as test_client:
        sign_in(test_client)
        yield test_client


def item_id(html: str, title: str) -> str:
    match = re.search(rf'name="items" value="(\d+)"[^>]*><span>(?:<strong>)?{title}', html)
    assert match, f"no {title!r} on the page"
    return match.group(1)


def compose(client: TestClient) -> str:
    """Search for tariff items, choose two, and save the draft; the draft's address."""
    form = client.get("/staff/bulletins/new")
    searched = client.post(
        "/staff/bulletins/new",
        data={
            "csrf_token": csrf(form.text),
            "action": "search",
            "subject": "Safeguards change on 1 July",
            "filter_topic": "tariffs",
        },
    )
    assert "Foundry apprenticeship" not in searched.text  # filtered out by topic
    assert 'value="Safeguards change on 1 July"' in searched.text  # what was typed is kept
    saved = client.post(
        "/staff/bulletins/new",
        data={
            "csrf_token": csrf(searched.text),
            "action": "save",
            "subject": "Safeguards change on 1 July",
            "introduction": "The **quotas** change.",
            "audience": "topics",
            "topics": ["tariffs"],
            "items": [
                item_id(searched.text, "Anti-dumping duties"),
                item_id(searched.text, "Steel safeguard quota"),
            ],
        },
    )
    assert "Draft saved" in saved.text
    return str(saved.url.path)


def members_mail(outbox: Path) -> list[email.message.Message]:
    messages = [email.message_from_bytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    return [m for m in messages if not m["Subject"].startswith("[Test]")]


def test_staff_compose_preview_test_and_send_a_bulletin_once(
    client: TestClient, engine: sa.Engine, outbox: Path
) -> None:
    draft = compose(client)

    preview = client.get(f"{draft}/preview")
    assert preview.status_code == 200
    assert "&lt;strong&gt;quotas&lt;/strong&gt;" in preview.text  # the HTML part, in srcdoc
    assert "The quotas change." in preview.text  # the text part, Markdown turned to text
    client.post(f"{draft}/test", data={"csrf_token": csrf(preview.text)})
    [test] = [email.message_from_bytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    assert (test["To"], test["Subject"]) == (STAFF_EMAIL, "[Test] Safeguards change on 1 July")

    confirm = client.get(f"{draft}/send")
    assert "1 members" in confirm.text and "Send to 1 members" in confirm.text
    result = client.post(f"{draft}/send", data={"csrf_token": csrf(confirm.text)})
    again = client.post(f"{draft}/send", data={"csrf_token": csrf(confirm.text)})

    assert "Sent" in result.text and "to 1 members" in again.text
    [sent] = members_mail(outbox)
    assert sent["To"] == "jo@foundry.example"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with Session(engine) as session:
        assert len(session.exec(select(Delivery)).all()) == 1
        bulletin = session.exec(select(Bulletin)).one()
        assert (bulletin.status, bulletin.composed_by, bulletin.sent_by) == (
            "sent",
            STAFF_EMAIL,
            STAFF_EMAIL,
        )
    edit = client.post(draft, data={"csrf_token": csrf(confirm.text), "subject": "Changed"})
    assert "Changed" not in edit.text  # a sent bulletin shows its record, not a form


def test_the_archive_lists_sent_bulletins_and_hides_drafts(client: TestClient) -> None:
    draft = compose(client)
    bulletin_id = draft.rsplit("/", 1)[1]
    assert client.get(f"/bulletins/{bulletin_id}").status_code == 404

    confirm = client.get(f"{draft}/send")
    client.post(f"{draft}/send", data={"csrf_token": csrf(confirm.text)})
    client.cookies.clear()  # members are not signed in

    archive = client.get("/bulletins")
    page = client.get(f"/bulletins/{bulletin_id}")

    assert "Safeguards change on 1 July" in archive.text
    assert "<strong>quotas</strong>" in page.text
    assert "Steel safeguard quota reopens" in page.text
    assert "/unsubscribe/" not in page.text  # no one's personal links


def test_a_draft_without_an_audience_is_shown_again_with_the_reason(client: TestClient) -> None:
    form = client.get("/staff/bulletins/new")

    answer = client.post(
        "/staff/bulletins/new",
        data={"csrf_token": csrf(form.text), "subject": "Hello", "introduction": "Text"},
    )

    assert answer.status_code == 422
    assert "Choose the topics whose followers get it" in answer.text
    assert 'value="Hello"' in answer.text


def test_a_missing_bulletin_gets_its_page_whatever_the_action(client: TestClient) -> None:
    form = client.get("/staff/bulletins/new")

    pages = [client.get("/staff/bulletins/999"), client.get("/staff/bulletins/999/preview")]
    pages.append(client.post("/staff/bulletins/999/send", data={"csrf_token": csrf(form.text)}))

    assert [p.status_code for p in pages] == [404, 404, 404]
    assert all("There is no bulletin 999." in p.text for p in pages)
    client.cookies.clear()
    assert client.get("/staff/bulletins/999").url.path == "/staff/login"  # sign-in first


def test_a_subject_with_a_line_break_is_refused_when_the_draft_is_saved(
    client: TestClient, engine: sa.Engine
) -> None:
    form = client.get("/staff/bulletins/new")

    answer = client.post(
        "/staff/bulletins/new",
        data={
            "csrf_token": csrf(form.text),
            "subject": "Safeguards\r\nBcc: everyone@example.org",
            "introduction": "Text",
            "topics": ["tariffs"],
        },
    )

    assert answer.status_code == 422
    assert "The subject must be one line of text" in answer.text
    with Session(engine) as session:
        assert session.exec(select(Bulletin)).all() == []


def test_a_draft_that_cannot_be_composed_says_why_and_nothing_is_stuck(
    client: TestClient, engine: sa.Engine, outbox: Path
) -> None:
    draft = compose(client)
    with Session(engine) as session:  # saved before subjects were checked
        bulletin = session.exec(select(Bulletin)).one()
        bulletin.subject = "Safeguards\r\nchange"
        session.commit()
    confirm = client.get(f"{draft}/send")

    test = client.post(f"{draft}/test", data={"csrf_token": csrf(confirm.text)})
    send = client.post(f"{draft}/send", data={"csrf_token": csrf(confirm.text)})

    assert (test.status_code, send.status_code) == (422, 422)
    assert "The test was not sent" in test.text and "The bulletin was not sent" in send.text
    assert "The subject must be one line of text" in send.text
    assert not outbox.exists() or list(outbox.glob("*.eml")) == []
    with Session(engine) as session:
        assert session.exec(select(Bulletin.status)).one() == "draft"
        assert session.exec(select(Delivery)).all() == []


def test_sending_the_same_bulletin_again_within_a_day_needs_a_tick(
    client: TestClient, engine: sa.Engine, outbox: Path
) -> None:
    first = compose(client)
    client.post(f"{first}/send", data={"csrf_token": csrf(client.get(f"{first}/send").text)})
    second = compose(client)

    confirm = client.get(f"{second}/send")
    refused = client.post(f"{second}/send", data={"csrf_token": csrf(confirm.text)})
    assert "with this subject and message was sent on" in confirm.text
    assert refused.status_code == 409 and "It looks like a repeat" in refused.text
    assert len(members_mail(outbox)) == 1

    client.post(f"{second}/send", data={"csrf_token": csrf(confirm.text), "again": "true"})

    assert len(members_mail(outbox)) == 2
