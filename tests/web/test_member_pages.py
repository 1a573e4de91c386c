"""Members' self-service pages, driven through the app as a browser would (without JavaScript)."""

import email
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

import alerter.web.member_pages
import subscriptions.tokens
from alerter.config import Settings
from alerter.delivery import transport_for
from alerter.web.app import create_app
from subscriptions.links import member_link, news_link
from subscriptions.members import find_member, topics_of
from subscriptions.models import Attempt, Member, MemberStatus
from subscriptions.tokens import Purpose
from tests.support.mail_spy import SeenWhenSent
from tests.support.newsroom import add_subscriber, store_item
from tests.support.web_forms import csrf


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def client(
    settings: Settings, engine: sa.Engine, outbox: Path, tmp_path: Path
) -> Iterator[TestClient]:
    app_settings = settings.model_copy(
        update={"outbox_dir": outbox, "secret_key": "test secret", "base_url": "http://testserver"}
    )
    with TestClient(create_app(app_settings, engine)) as test_client:
        yield test_client


def sign_up(client: TestClient, address: str = "Jo@Foundry.example", name: str = "Jo") -> str:
    form = client.get("/signup")
    return client.post(
        "/signup",
        data={
            "csrf_token": csrf(form.text),
            "email": address,
            "name": name,
            "organisation": "Foundry Ltd",
            "topics": ["tariffs", "recycling"],
            "frequency": "weekly",
        },
    ).text


def last_link(outbox: Path, purpose: str) -> str:
    newest = max(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    message = email.message_from_bytes(newest.read_bytes())
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode()
    return next(w for w in body.split() if f"/{purpose}/" in w).replace("http://testserver", "")


def member_status(engine: sa.Engine, address: str = "jo@foundry.example") -> str:
    with Session(engine) as session:
        member = find_member(session, address)
        assert member is not None
        return member.status


def test_signup_confirm_manage_and_unsubscribe(
    client: TestClient, engine: sa.Engine, outbox: Path
) -> None:
    assert "Check your email" in sign_up(client)
    assert member_status(engine) == MemberStatus.PENDING

    confirm_link = last_link(outbox, "confirm")
    assert "Confirm my alerts" in client.get(confirm_link).text
    assert member_status(engine) == MemberStatus.PENDING  # opening the link is not enough
    subscribed = client.post(confirm_link, data={"csrf_token": csrf(client.get(confirm_link).text)})
    assert "You are subscribed" in subscribed.text
    assert member_status(engine) == MemberStatus.ACTIVE

    manage_link = re.search(r'href="http://testserver(/manage/[^"]+)"', subscribed.text).group(1)  # type: ignore[union-attr]
    manage = client.get(manage_link)
    saved = client.post(
        manage_link,
        data={"csrf_token": csrf(manage.text), "topics": ["events"], "frequency": "daily"},
    )
    assert "Your choices are saved" in saved.text
    with Session(engine) as session:
        member = find_member(session, "jo@foundry.example")
        assert member is not None and member.frequency == "daily"
        assert topics_of(session, member.id or 0) == ["events"]

    unsubscribe_link = re.search(r'href="http://testserver(/unsubscribe/[^"]+)"', saved.text).group(
        1
    )  # type: ignore[union-attr]
    assert "Stop all policy alerts" in client.get(unsubscribe_link).text
    assert member_status(engine) == MemberStatus.ACTIVE  # GET never unsubscribes
    client.post(unsubscribe_link)
    assert member_status(engine) == MemberStatus.UNSUBSCRIBED


def unsubscribe_path(client: TestClient, engine: sa.Engine) -> str:
    with Session(engine) as session:
        member = find_member(session, "jo@foundry.example")
        assert member is not None
        link = member_link(client.app.state.settings, member, Purpose.UNSUBSCRIBE)  # type: ignore[attr-defined]
    return link.replace("http://testserver", "")


def test_one_click_unsubscribe_works_without_a_cookie_or_form_token(
    client: TestClient, engine: sa.Engine, outbox: Path
) -> None:
    sign_up(client)
    fresh = TestClient(client.app)  # a mail provider: no session cookie

    response = fresh.post(unsubscribe_path(client, engine), data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert member_status(engine) == MemberStatus.UNSUBSCRIBED


def test_a_change_that_could_not_be_saved_is_never_reported_as_done(
    client: TestClient, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(client)
    path = unsubscribe_path(client, engine)

    def refuse(self: Session) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk full"))

    monkeypatch.setattr(Session, "commit", refuse)
    response = TestClient(client.app, raise_server_exceptions=False).post(path)
    monkeypatch.undo()

    assert response.status_code == 500
    assert "You are unsubscribed" not in response.text
    assert member_status(engine) == MemberStatus.PENDING


def test_a_name_too_long_for_the_form_gets_a_page_saying_so(
    client: TestClient, engine: sa.Engine
) -> None:
    form = client.get("/signup").text

    answer = client.post(
        "/signup",
        data={
            "csrf_token": csrf(form),
            "email": "jo@foundry.example",
            "name": "J" * 250,
            "topics": ["tariffs"],
        },
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")  # not FastAPI's JSON
    assert "The name is longer than 200 characters." in answer.text
    assert 'name="name" autocomplete="name" value="" maxlength="200"' in form
    with Session(engine) as session:
        assert find_member(session, "jo@foundry.example") is None


def test_the_signup_answer_never_reveals_whether_an_address_is_known(
    client: TestClient, outbox: Path
) -> None:
    first = sign_up(client)
    confirm = last_link(outbox, "confirm")
    client.post(confirm, data={"csrf_token": csrf(client.get(confirm).text)})

    again = sign_up(client)

    assert again == first
    assert "/manage/" in last_link(outbox, "manage")  # the member gets their manage link


def test_forms_without_the_sessions_token_are_refused(
    client: TestClient, engine: sa.Engine
) -> None:
    response = client.post("/signup", data={"email": "jo@foundry.example", "topics": ["tariffs"]})

    assert response.status_code == 400
    assert "did not come from this site" in response.text


def test_a_tampered_link_gets_a_clear_page(client: TestClient, outbox: Path) -> None:
    sign_up(client)
    link = last_link(outbox, "confirm")

    response = client.get(link[:-4] + "abcd")

    assert response.status_code == 400
    assert "This link does not work" in response.text


def test_a_link_for_one_purpose_does_not_work_for_another(client: TestClient, outbox: Path) -> None:
    sign_up(client)
    confirm_token = last_link(outbox, "confirm").rsplit("/", 1)[1]

    assert client.post(f"/unsubscribe/{confirm_token}").status_code == 400
    assert client.get(f"/manage/{confirm_token}").status_code == 400


def test_an_expired_link_offers_to_email_a_fresh_one(
    client: TestClient, outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(client)
    confirm = last_link(outbox, "confirm")
    client.post(confirm, data={"csrf_token": csrf(client.get(confirm).text)})
    sign_up(client)  # as an active member, this emails the manage link
    manage = last_link(outbox, "manage")
    monkeypatch.setitem(subscriptions.tokens.LIFETIMES, Purpose.MANAGE, timedelta(seconds=-1))

    expired = client.get(manage)
    assert expired.status_code == 410 and "This link has expired" in expired.text
    monkeypatch.setitem(subscriptions.tokens.LIFETIMES, Purpose.MANAGE, timedelta(days=30))
    before = len(list(outbox.glob("*.eml")))
    resent = client.post(
        "/links/resend",
        data={
            "csrf_token": csrf(expired.text),
            "token": manage.rsplit("/", 1)[1],
            "purpose": "manage",
        },
    )

    assert "Check your email" in resent.text
    assert len(list(outbox.glob("*.eml"))) == before + 1
    assert client.get(last_link(outbox, "manage")).status_code == 200


def test_text_from_members_is_escaped_on_pages(client: TestClient, outbox: Path) -> None:
    form = client.get("/signup")
    response = client.post(
        "/signup",
        data={
            "csrf_token": csrf(form.text),
            "email": "not an address",
            "name": "<script>alert(1)</script>",
            "topics": ["tariffs"],
        },
    )

    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_a_member_link_never_opens_the_staff_console(client: TestClient, outbox: Path) -> None:
    sign_up(client)
    client.get(last_link(outbox, "confirm"))

    response = client.get("/staff/items", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login")


def test_the_session_cookie_is_secure_when_the_site_is_served_over_https(
    settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    https = settings.model_copy(
        update={"secret_key": "s", "base_url": "https://alerts.example", "outbox_dir": tmp_path}
    )
    with TestClient(create_app(https, engine), base_url="https://testserver") as secure:
        response = secure.get("/signup")

    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_the_news_page_lists_recent_items_on_the_members_topics_only(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    joined = datetime.now(UTC) - timedelta(days=10)
    with Session(engine) as session:
        store_item(session, "Anti-dumping duties on aluminium extrusions", joined + timedelta(1))
        store_item(session, "Foundry apprenticeship scheme expands", joined + timedelta(2))
        store_item(session, "Old steel safeguard notice", joined - timedelta(days=40))
        jo = add_subscriber(session, "jo@foundry.example", ["tariffs"], joined=joined)
        member = session.get(Member, jo)
        assert member is not None
        manage = member_link(
            settings.model_copy(update={"secret_key": "test secret", "base_url": ""}),
            member,
            Purpose.MANAGE,
        )

    news = client.get(news_link(manage))

    assert news.status_code == 200
    assert "Anti-dumping duties on aluminium extrusions" in news.text
    assert "apprenticeship" not in news.text  # not one of Jo's topics
    assert "Old steel safeguard notice" not in news.text  # older than the page shows
    assert client.get("/news/not-a-token").status_code == 400


def test_saving_the_manage_page_with_no_topic_asks_for_one_and_changes_nothing(
    client: TestClient, engine: sa.Engine, outbox: Path
) -> None:
    sign_up(client)
    manage = last_link(outbox, "manage")
    page = client.get(manage)

    response = client.post(manage, data={"csrf_token": csrf(page.text), "frequency": "daily"})

    assert response.status_code == 422
    assert "Choose at least one topic, or unsubscribe from all alerts." in response.text
    assert "Your choices are saved" not in response.text
    with Session(engine) as session:
        member = find_member(session, "jo@foundry.example")
        assert member is not None and member.frequency == "weekly"
        assert topics_of(session, member.id or 0) == ["tariffs", "recycling"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def timed(
    settings: Settings, engine: sa.Engine, outbox: Path, clock: Clock
) -> Iterator[TestClient]:
    """The app with a clock the test moves."""
    app_settings = settings.model_copy(
        update={"outbox_dir": outbox, "secret_key": "test secret", "base_url": "http://testserver"}
    )
    with TestClient(create_app(app_settings, engine, clock=clock)) as test_client:
        yield test_client


def test_sign_ups_for_one_address_are_limited_to_three_an_hour(
    timed: TestClient, outbox: Path, clock: Clock
) -> None:
    for _ in range(3):
        assert "Check your email" in sign_up(timed)

    fourth = timed.post(
        "/signup",
        data={
            "csrf_token": csrf(timed.get("/signup").text),
            "email": "jo@foundry.example",
            "topics": ["tariffs"],
        },
    )
    other_address = sign_up(timed, "kim@foundry.example")
    clock.now += timedelta(hours=1)
    an_hour_later = sign_up(timed)

    assert fourth.status_code == 429 and "Try again in 60 minutes" in fourth.text
    assert "Check your email" in other_address and "Check your email" in an_hour_later
    assert len(list(outbox.glob("*.eml"))) == 5  # none for the refused one


def test_sign_ups_from_one_client_are_limited(timed: TestClient) -> None:
    answers = [
        timed.post(
            "/signup",
            data={
                "csrf_token": csrf(timed.get("/signup").text),
                "email": f"member{n}@foundry.example",
                "topics": ["tariffs"],
            },
        ).status_code
        for n in range(21)
    ]

    assert answers == [200] * 20 + [429]


def test_new_links_for_one_member_are_limited_to_three_an_hour(
    timed: TestClient, outbox: Path
) -> None:
    sign_up(timed)
    token = last_link(outbox, "confirm").rsplit("/", 1)[1]
    form = timed.get("/signup")

    answers = [
        timed.post(
            "/links/resend",
            data={"csrf_token": csrf(form.text), "token": token, "purpose": "confirm"},
        ).status_code
        for _ in range(4)
    ]

    assert answers == [200, 200, 200, 429]
    assert len(list(outbox.glob("*.eml"))) == 4  # the sign-up's email and three new links


def test_a_member_chooses_deadline_reminders_on_the_manage_page(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        jo = add_subscriber(session, "jo@foundry.example", ["tariffs"], joined=datetime.now(UTC))
        member = session.get(Member, jo)
        assert member is not None
        manage = member_link(
            settings.model_copy(update={"secret_key": "test secret", "base_url": ""}),
            member,
            Purpose.MANAGE,
        )
    form = {"csrf_token": csrf(client.get(manage).text), "topics": ["tariffs"]}

    ticked = client.post(manage, data={**form, "deadline_reminders": "true"})
    with Session(engine) as session:
        after_ticking = session.get(Member, jo)
        assert after_ticking is not None and after_ticking.deadline_reminders
    client.post(manage, data={**form, "frequency": "weekly"})  # the box left unticked

    with Session(engine) as session:
        after_unticking = session.get(Member, jo)
        assert after_unticking is not None and not after_unticking.deadline_reminders
    assert 'name="deadline_reminders" value="true" checked' in ticked.text


def saved_state(session: Session) -> tuple[str | None, int]:
    """What is committed: Jo's status, and how many attempts were counted."""
    member = find_member(session, "jo@foundry.example")
    return (member.status if member else None, len(session.exec(sa.select(Attempt.id)).all()))


def test_a_sign_up_and_a_new_link_are_saved_before_their_email_goes(
    client: TestClient, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies: list[SeenWhenSent] = []

    def spying(settings: Settings) -> SeenWhenSent:
        spies.append(SeenWhenSent(transport_for(settings), engine, saved_state))
        return spies[-1]

    monkeypatch.setattr(alerter.web.member_pages, "transport_for", spying)
    sign_up(client)
    token = last_link(client.app.state.settings.outbox_dir, "confirm").rsplit("/", 1)[1]
    client.post(
        "/links/resend",
        data={"csrf_token": csrf(client.get("/signup").text), "token": token, "purpose": "confirm"},
    )

    # Each email went after its request's writes were committed (the sign-up's member and
    # attempts; the resend's attempt): nothing was locked while the mail service answered.
    assert [spy.seen for spy in spies] == [[(MemberStatus.PENDING, 2)], [(MemberStatus.PENDING, 4)]]
