"""The staff console through the app: sign-in, topic corrections, members, CSV import."""

import codecs
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.delivery import transport_for
from alerter.ingest.sources.base import Entry
from alerter.ingest.store import store_entries, story_index
from alerter.models import Delivery, Source
from alerter.topics.labelling import classify_items, load_classifier, topics_of
from alerter.web import staff_pages
from alerter.web.app import create_app
from subscriptions.importing import ImportReport
from subscriptions.members import add_member, find_member
from subscriptions.models import Frequency, Member, MemberStatus
from subscriptions.staff import create_staff
from tests.support.live_server import serving
from tests.support.mail_spy import SeenWhenSent
from tests.support.newsroom import weekly_run
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

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
    "/staff/deadlines",
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
    # The clock stands still: sign-in back-off is measured by it.
    with TestClient(create_app(app_settings, engine, clock=lambda: NOW)) as test_client:
        yield test_client


def table_rows(html: str) -> list[list[str]]:
    """The cells of each row of the page's table body, as text."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body, "the page has no table"
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


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


def test_signing_out_ends_the_session_and_every_copy_of_its_cookie(client: TestClient) -> None:
    page = sign_in(client).text
    copied = dict(client.cookies)

    client.post("/staff/logout", data={"csrf_token": csrf(page)})
    client.cookies.clear()
    client.cookies.update(copied)  # the cookie as it was before signing out
    replayed = client.get("/staff/members", follow_redirects=False)

    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/staff/login")


def login_as(client: TestClient, password: str, forwarded_for: str) -> int:
    form = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf_token": csrf(form.text), "email": STAFF_EMAIL, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
        follow_redirects=False,
    ).status_code


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_sign_in_back_off_is_per_client_as_the_trusted_proxy_says(
    trusted: str, settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
    app_settings = settings.model_copy(
        update={"outbox_dir": tmp_path, "secret_key": "s", "trusted_proxies": trusted}
    )
    app = create_app(app_settings, engine, clock=lambda: NOW)
    with TestClient(app, client=("127.0.0.1", 40000)) as behind_a_proxy:
        failures = [login_as(behind_a_proxy, "wrong", "203.0.113.5") for _ in range(5)]
        again = login_as(behind_a_proxy, STAFF_PASSWORD, "203.0.113.5")
        colleague = login_as(behind_a_proxy, STAFF_PASSWORD, "198.51.100.7")

    assert failures == [401] * 5 and again == 429
    # Only a trusted proxy's word is taken for who the client is; otherwise the header is
    # anyone's to write, and every request is from the proxy's address.
    assert colleague == (303 if trusted else 429)


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


def stored_items(engine: sa.Engine, titles: list[str]) -> list[int]:
    with Session(engine) as session:
        source = Source(name="DBT", kind="feed", url="https://dbt.example/feed", publisher="DBT")
        session.add(source)
        session.commit()
        entries = [
            Entry(f"g{n}", f"https://dbt.example/{n}", title, "", NOW - timedelta(minutes=n))
            for n, title in enumerate(titles)
        ]
        result = store_entries(
            session, source, entries, now=NOW, backlog=False, stories=story_index(session)
        )
        session.commit()
        return result.new_item_ids


def test_items_come_in_pages_of_fifty_counted_with_the_search_kept(
    client: TestClient, engine: sa.Engine
) -> None:
    stored_items(engine, [f"Aluminium scrap export note {n}" for n in range(120)])
    sign_in(client)

    first = client.get("/staff/items", params={"q": "scrap"}).text
    second = client.get("/staff/items", params={"q": "scrap", "page": 2}).text
    last = client.get("/staff/items", params={"q": "scrap", "page": 3}).text

    assert "1\u201350 of 120" in first and 'rel="prev"' not in first
    assert 'href="/staff/items?q=scrap&amp;page=2" rel="next"' in first
    assert "51\u2013100 of 120" in second
    assert 'href="/staff/items?q=scrap" rel="prev"' in second
    assert "101\u2013120 of 120" in last and 'rel="next"' not in last
    assert "Aluminium scrap export note 0<" in first and "note 119<" in last


def test_a_correction_returns_to_the_same_search_with_an_undo(
    client: TestClient, engine: sa.Engine
) -> None:
    item_id = stored_item(engine, "New anti-dumping duties on steel wire")
    items = sign_in(client).text
    assert "<strong>Tariffs and trade remedies</strong>" in items

    saved = client.post(
        f"/staff/items/{item_id}/topics",
        data={
            "csrf_token": csrf(items),
            "topic": "consultations",
            "action": "add",
            "back": "q=steel&topic=tariffs",
        },
        follow_redirects=False,
    )
    assert saved.headers["location"] == (
        f"/staff/items?q=steel&topic=tariffs&saved={item_id}"
        f"&undo_topic=consultations&undo_action=remove#item-{item_id}"
    )
    page = client.get(saved.headers["location"]).text
    notice = page[page.index("<strong>Saved.</strong>") :].split("</div>")[0]
    assert 'value="remove"' in notice and ">Undo</button>" in notice
    # The add-topic list leaves out what the item already has.
    add_list = page[page.index(f'id="add-{item_id}"') :].split("</select>")[0]
    assert 'value="consultations"' not in add_list and 'value="tariffs"' not in add_list

    client.post(
        f"/staff/items/{item_id}/topics",
        data={"csrf_token": csrf(page), "topic": "consultations", "action": "remove"},
    )

    with Session(engine) as session:
        assert [t.topic_id for t in topics_of(session, [item_id])[item_id]] == ["tariffs"]


def test_correcting_an_item_that_does_not_exist_answers_a_page_saying_so(
    client: TestClient,
) -> None:
    items = sign_in(client).text

    page = client.post(
        "/staff/items/999/topics",
        data={"csrf_token": csrf(items), "topic": "tariffs", "action": "add"},
    )

    assert page.status_code == 404
    assert "There is no item 999." in page.text


def test_feed_text_is_escaped_on_staff_pages(client: TestClient, engine: sa.Engine) -> None:
    stored_item(engine, '<img src=x onerror="alert(1)"> tariffs')

    page = sign_in(client).text

    assert "<img src=x" not in page
    assert "&lt;img src=x" in page


def test_pressing_import_without_choosing_a_file_asks_for_one(client: TestClient) -> None:
    page = sign_in(client).text
    form = {"csrf_token": csrf(page), "consent_confirmed": "true"}

    # What a browser sends with no file chosen (an empty part), and a form with no part at all.
    empty_part = client.post(
        "/staff/members/import", data=form, files={"file": ("", b"", "application/octet-stream")}
    )
    no_part = client.post("/staff/members/import", data=form)

    for answer in (empty_part, no_part):
        assert answer.status_code == 422
        assert answer.headers["content-type"].startswith("text/html")
        assert "Choose the CSV file to import, then press Import." in answer.text


def test_the_import_form_offers_and_takes_a_file_excel_saved_as_unicode_text(
    client: TestClient,
) -> None:
    page = sign_in(client).text
    form = client.get("/staff/members/import").text
    accepted = re.search(r'<input type="file"[^>]*accept="([^"]*)"', form)
    unicode_text = (
        Path(__file__).parent.parent / "fixtures" / "members_excel_unicode_text.txt"
    ).read_bytes()

    report = client.post(
        "/staff/members/import",
        data={"csrf_token": csrf(page), "consent_confirmed": "true"},
        files={"file": ("members.txt", unicode_text, "text/plain")},
    )

    # Excel names "Unicode Text" files .txt: the file picker must not hide them.
    assert accepted is not None and ".txt" in accepted.group(1).split(",")
    assert "2 added, 0 updated, 0 left as is, 0 refused" in report.text
    assert table_rows(report.text)[1][:3] == ["3", "lukasz@forge.example", "added"]


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
    assert "1 added, 0 updated, 0 left as is, 2 refused" in report.text
    assert table_rows(report.text) == [
        ["2", "bob@cmf.example", "added", "active: consent confirmed by staff"],
        [
            "3",
            "nope",
            "refused",
            "not a valid email address: 'nope' (An email address must have an @-sign.)",
        ],
        ["4", "cara@cmf.example", "refused", "unknown topic steel"],
    ]
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
    client.post(
        member_url + "/erase", data={"csrf_token": csrf(page), "confirm_email": "Dev@Forge.example"}
    )

    with Session(engine) as session:
        assert find_member(session, "dev@forge.example") is None
    assert "dev@forge.example" not in client.get("/staff/members.csv").text


def test_the_members_download_opens_in_excel_with_accents_and_formulas_neutralised(
    client: TestClient,
) -> None:
    page = sign_in(client).text
    client.post(
        "/staff/members/new",
        data={
            "csrf_token": csrf(page),
            "email": "rene@castings.example",
            "name": '=HYPERLINK("http://evil.example")',
            "organisation": "Castings Müller £",
            "topics": ["energy"],
            "consent_confirmed": "true",
        },
    )

    download = client.get("/staff/members.csv").content

    assert download.startswith(codecs.BOM_UTF8)  # without it Excel reads Windows-1252
    assert download.decode("utf-8-sig").splitlines()[1] == (
        'rene@castings.example,"\'=HYPERLINK(""http://evil.example"")",Castings Müller £,energy,'
        "weekly,active"
    )


def test_members_are_filtered_by_topic_frequency_and_status_with_their_topics_listed(
    client: TestClient, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        for email, topics, frequency, confirmed in [
            ("ann@forge.example", ["energy", "tariffs"], Frequency.DAILY, True),
            ("bob@forge.example", ["energy"], Frequency.DAILY, False),
            ("cat@forge.example", ["energy"], Frequency.WEEKLY, True),
            ("dan@forge.example", ["skills"], Frequency.DAILY, True),
        ]:
            add_member(
                session,
                email,
                name="",
                organisation="Forge",
                topics=topics,
                frequency=frequency,
                consent_confirmed=confirmed,
                added_by=STAFF_EMAIL,
                now=NOW,
            )
        session.commit()
    sign_in(client)

    page = client.get(
        "/staff/members", params={"topic": "energy", "frequency": "daily", "status": "active"}
    ).text

    rows = table_rows(page)
    assert [row[0] for row in rows] == ["ann@forge.example"]
    assert rows[0][4] == "Energy costs and supply, Tariffs and trade remedies"
    assert "1\u20131 of 1" in page
    assert table_rows(client.get("/staff/members", params={"status": "pending"}).text)[0][0] == (
        "bob@forge.example"
    )


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
    # After the date: sent, failed, skipped, in doubt, to send.
    assert cells[1:] == ["2", "1", "1", "0", "0"]
    assert "m2@foundry.example" in failed.text
    assert "SendGrid answered 400: invalid email" in failed.text


def test_an_import_changes_known_members_only_when_asked_to(
    client: TestClient, engine: sa.Engine
) -> None:
    page = sign_in(client).text
    first = "email,name,organisation,topics,frequency\nbob@cmf.example,Bob,CMF,tariffs,weekly\n"
    second = first.replace("Bob,CMF,tariffs", "Bob Hart,CMF,energy")

    def upload(text: str, **form: str) -> list[list[str]]:
        response = client.post(
            "/staff/members/import",
            data={"csrf_token": csrf(page), "consent_confirmed": "true", **form},
            files={"file": ("members.csv", text.encode(), "text/csv")},
        )
        return table_rows(response.text)

    upload(first)
    [[_, _, left, why]] = upload(second)
    [[_, _, updated, what]] = upload(second, update_existing="true")

    assert left == "left as is" and why.startswith("already a member")
    assert updated == "updated"
    assert what == "name: “Bob” → “Bob Hart”; topics: “tariffs” → “energy”"
    with Session(engine) as session:
        bob = find_member(session, "bob@cmf.example")
        assert bob is not None and bob.name == "Bob Hart"


def test_an_imports_confirmation_emails_go_through_the_delivery_ledger(
    client: TestClient, engine: sa.Engine, tmp_path: Path
) -> None:
    page = sign_in(client).text
    csv = "email,name,organisation,topics,frequency\n" + "".join(
        f"m{n}@foundry.example,Member {n},Foundry,tariffs,weekly\n" for n in range(3)
    )

    report = client.post(
        "/staff/members/import",
        data={"csrf_token": csrf(page)},
        files={"file": ("members.csv", csv.encode(), "text/csv")},
    )

    assert "Confirmation emails: 3, being sent now" in report.text
    with Session(engine) as session:
        rows = session.exec(select(Delivery.kind, Delivery.status)).all()
    assert rows == [("confirmation", "sent")] * 3
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    assert "confirmation" in client.get("/staff/deliveries").text


def test_health_answers_while_a_large_import_is_being_stored(
    settings: Settings, engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
    storing, release = threading.Event(), threading.Event()
    store = staff_pages.import_members

    def held_import(*args: Any, **kwargs: Any) -> ImportReport:
        storing.set()
        release.wait(timeout=60)  # held until /healthz has been asked
        return store(*args, **kwargs)

    monkeypatch.setattr(staff_pages, "import_members", held_import)
    csv = "email,name,organisation,topics,frequency\n" + "".join(
        f"m{n}@foundry.example,Member {n},Foundry,tariffs,weekly\n" for n in range(2000)
    )

    def make_app(base_url: str) -> FastAPI:
        update = {"outbox_dir": tmp_path / "outbox", "secret_key": "s", "base_url": base_url}
        return create_app(settings.model_copy(update=update), engine)

    with (
        serving(make_app) as base_url,
        httpx.Client(base_url=base_url, follow_redirects=True) as staff,
    ):
        page = sign_in(staff).text
        upload = threading.Thread(
            target=staff.post,
            args=("/staff/members/import",),
            kwargs={
                "data": {"csrf_token": csrf(page), "consent_confirmed": "true"},
                "files": {"file": ("members.csv", csv.encode(), "text/csv")},
                "timeout": 120,
            },
        )
        upload.start()
        try:
            assert storing.wait(timeout=60), "the import never started"
            health = httpx.get(f"{base_url}/healthz", timeout=20)
        finally:
            release.set()
            upload.join(timeout=120)

    assert health.status_code == 200
    with Session(engine) as session:
        assert len(session.exec(select(Member)).all()) == 2000


def test_a_member_staff_add_is_saved_before_their_confirmation_goes(
    client: TestClient, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def saved_status(session: Session) -> str | None:
        member = find_member(session, "dev@forge.example")
        return member.status if member else None

    spies: list[SeenWhenSent] = []

    def spying(settings: Settings) -> SeenWhenSent:
        spies.append(SeenWhenSent(transport_for(settings), engine, saved_status))
        return spies[-1]

    monkeypatch.setattr(staff_pages, "transport_for", spying)
    page = sign_in(client).text
    added = client.post(
        "/staff/members/new",
        data={"csrf_token": csrf(page), "email": "dev@forge.example", "topics": ["energy"]},
    )

    assert added.status_code == 200 and "dev@forge.example" in added.text
    assert [spy.seen for spy in spies] == [[MemberStatus.PENDING]]


def test_erasing_a_member_needs_their_address_typed_to_confirm(
    client: TestClient, engine: sa.Engine
) -> None:
    page = sign_in(client).text
    added = client.post(
        "/staff/members/new",
        data={
            "csrf_token": csrf(page),
            "email": "dev@forge.example",
            "topics": ["energy"],
            "consent_confirmed": "true",
        },
    )
    erase_url = str(added.url.path) + "/erase"

    unconfirmed = client.post(erase_url, data={"csrf_token": csrf(page)})
    mistyped = client.post(
        erase_url, data={"csrf_token": csrf(page), "confirm_email": "dev@forge.exampel"}
    )

    assert (unconfirmed.status_code, mistyped.status_code) == (422, 422)
    assert "The member was not erased" in mistyped.text
    # The refusal leads back to the page with the box to type in.
    assert f'<a href="{added.url.path}">Back to dev@forge.example</a>' in mistyped.text
    with Session(engine) as session:
        assert find_member(session, "dev@forge.example") is not None


def test_staff_see_why_deliveries_are_in_doubt_and_decide_those_no_sender_can(
    client: TestClient, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        weekly_run(session, ["sent", "in_doubt", "in_doubt"], planned_at=datetime.now(UTC))
        session.execute(
            sa.update(Delivery)
            .where(Delivery.status == "in_doubt")  # type: ignore[arg-type]
            .values(
                error="SendGrid's answer to the request is unknown: a gateway's 504\n"
                "batch b1 could no longer be cancelled; they may have been delivered"
            )
        )
        session.commit()
    sign_in(client)

    runs = client.get("/staff/deliveries")
    page = client.get("/staff/deliveries/digest-weekly/2026-W10")

    row = re.search(r"digest-weekly <span class=\"hint\">2026-W10</span>.*?</tr>", runs.text, re.S)
    assert row is not None
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", row.group(0))]
    assert cells[1:] == ["1", "0", "0", "2", "0"]
    assert "m1@foundry.example" in page.text and "a gateway&#39;s 504" in page.text
    assert "could no longer be cancelled" in page.text

    client.post(
        "/staff/deliveries/digest-weekly/2026-W10/in-doubt",
        data={"csrf_token": csrf(page.text), "decision": "again"},
    )

    with Session(engine) as session:
        rows = session.exec(select(Delivery).order_by(Delivery.id)).all()  # type: ignore[arg-type]
    assert [row.status for row in rows] == ["sent", "planned", "planned"]
    assert all(f"sent again by {STAFF_EMAIL}" in (row.error or "") for row in rows[1:])
