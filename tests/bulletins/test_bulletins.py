"""Bulletins: drafts, the audience, one send per bulletin whoever presses it, the command line
against a fake SendGrid, and what members' next digests leave out."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from alerter.bulletins import (
    BulletinDraft,
    BulletinError,
    RepeatRefused,
    audience_of,
    check_before_sending,
    content_of,
    get_bulletin,
    results,
    sample_email,
    save_draft,
    send_bulletin,
    start_sending,
)
from alerter.cli import app
from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.delivery import OutboxTransport
from alerter.digests.runs import run_digest
from alerter.models import Bulletin, Delivery
from alerter.topics.taxonomy import load_taxonomy
from subscriptions.members import find_member, suppress, unsubscribe
from subscriptions.models import Frequency
from tests.support.fake_sendgrid import API_KEY, FakeSendGrid
from tests.support.newsroom import add_subscriber, store_item

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
NOW = datetime.now(UTC).replace(microsecond=0)
JOINED = NOW - timedelta(days=3)
runner = CliRunner()


@pytest.fixture
def newsroom(session: Session) -> dict[str, int]:
    """Two tariff items, five members: three follow tariffs (one of them has unsubscribed,
    one was suppressed), two follow other topics."""
    ids = {
        "duties": store_item(
            session, "Anti-dumping duties on aluminium extrusions", JOINED + timedelta(hours=1)
        ),
        "quota": store_item(
            session, "Steel safeguard quota reopens for wire rod", JOINED + timedelta(hours=2)
        ),
    }
    for address, topics in [
        ("ann@alfed.example", ["tariffs"]),
        ("bob@castings.example", ["tariffs", "energy"]),
        ("gone@foundry.example", ["tariffs"]),
        ("bounced@foundry.example", ["tariffs"]),
        ("cat@foundry.example", ["recycling"]),
        ("dan@foundry.example", ["skills"]),
    ]:
        add_subscriber(session, address, topics, joined=JOINED)
    unsubscribe(session, find_member(session, "gone@foundry.example"), "test", NOW)  # type: ignore[arg-type]
    suppress(session, find_member(session, "bounced@foundry.example"), "bounce", NOW)  # type: ignore[arg-type]
    session.commit()
    return ids


def tariff_draft(newsroom: dict[str, int], **changes: object) -> BulletinDraft:
    fields: dict[str, object] = {
        "subject": "UK and US agree critical minerals MoU",
        "introduction": "The **memorandum** was signed today.\n\n- What it covers\n- Next steps",
        "item_ids": (newsroom["duties"], newsroom["quota"]),
        "topic_ids": ("tariffs",),
    }
    return BulletinDraft(**(fields | changes))  # type: ignore[arg-type]


def test_the_audience_is_the_active_followers_of_its_topics(
    session: Session, newsroom: dict[str, int]
) -> None:
    reached = audience_of(session, tariff_draft(newsroom))
    everyone = audience_of(session, tariff_draft(newsroom, topic_ids=(), everyone=True))

    followers = {find_member(session, a).id for a in ("ann@alfed.example", "bob@castings.example")}  # type: ignore[union-attr]
    assert set(reached.member_ids) == followers
    assert reached.left_out == 2  # the unsubscribed and the suppressed follower
    assert len(everyone.member_ids) == 4


def test_a_draft_without_an_audience_or_with_an_unknown_item_is_refused(
    session: Session, newsroom: dict[str, int]
) -> None:
    with pytest.raises(BulletinError, match="choose the topics"):
        save_draft(session, TAXONOMY, tariff_draft(newsroom, topic_ids=()), by="s", now=NOW)
    with pytest.raises(BulletinError, match="no stored item with id 999"):
        save_draft(session, TAXONOMY, tariff_draft(newsroom, item_ids=(999,)), by="s", now=NOW)


@pytest.mark.parametrize(
    "subject",
    ["Safeguards\r\nBcc: everyone@example.org", "Tabs\tare not one line", "Line\u2028separator"],
)
def test_a_subject_that_is_not_one_line_of_text_is_refused_when_saved(
    subject: str, session: Session, newsroom: dict[str, int]
) -> None:
    with pytest.raises(BulletinError, match="the subject must be one line of text"):
        save_draft(session, TAXONOMY, tariff_draft(newsroom, subject=subject), by="s", now=NOW)
    with pytest.raises(BulletinError, match="longer than 200 characters"):
        save_draft(session, TAXONOMY, tariff_draft(newsroom, subject="S" * 201), by="s", now=NOW)
    assert session.exec(select(Bulletin)).all() == []


def test_a_bulletin_that_cannot_be_composed_is_refused_at_send_and_nothing_is_stuck(
    session: Session, newsroom: dict[str, int], settings: Settings
) -> None:
    # Saved before subjects were checked: the line break is already in the database.
    bulletin = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="ann", now=NOW)
    bulletin.subject = "Safeguards\r\nchange"
    session.commit()

    with pytest.raises(BulletinError, match="the subject must be one line of text"):
        start_sending(session, settings, TAXONOMY, bulletin.id or 0, by="ann", now=NOW)

    assert get_bulletin(session, bulletin.id or 0).status == "draft"
    assert session.exec(select(Delivery)).all() == []


def test_the_same_bulletin_again_within_a_day_is_refused_unless_asked_for(
    session: Session, newsroom: dict[str, int], settings: Settings
) -> None:
    first = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="ann", now=NOW)
    start_sending(session, settings, TAXONOMY, first.id or 0, by="ann", now=NOW)
    second = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="bob", now=NOW)
    later = NOW + timedelta(hours=3)

    with pytest.raises(RepeatRefused, match=f"bulletin {first.id} with this subject and message"):
        start_sending(session, settings, TAXONOMY, second.id or 0, by="bob", now=later)
    assert get_bulletin(session, second.id or 0).status == "draft"
    assert (
        start_sending(session, settings, TAXONOMY, second.id or 0, by="bob", now=later, again=True)
        == 2
    )


def test_a_draft_is_checked_against_the_repeat_guard_before_anyone_confirms(
    session: Session, newsroom: dict[str, int], settings: Settings
) -> None:
    first = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="ann", now=NOW)
    start_sending(session, settings, TAXONOMY, first.id or 0, by="ann", now=NOW)
    later = NOW + timedelta(hours=3)

    with pytest.raises(RepeatRefused, match=f"bulletin {first.id} with this subject and message"):
        check_before_sending(session, TAXONOMY, tariff_draft(newsroom), later, again=False)
    check_before_sending(session, TAXONOMY, tariff_draft(newsroom), later, again=True)
    with pytest.raises(BulletinError, match="choose the topics"):
        check_before_sending(
            session, TAXONOMY, BulletinDraft("Tariffs", "Read this."), later, again=True
        )


def test_the_same_bulletin_a_day_later_is_not_a_repeat(
    session: Session, newsroom: dict[str, int], settings: Settings
) -> None:
    first = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="ann", now=NOW)
    start_sending(session, settings, TAXONOMY, first.id or 0, by="ann", now=NOW)
    second = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="ann", now=NOW)

    tomorrow = NOW + timedelta(hours=25)
    assert start_sending(session, settings, TAXONOMY, second.id or 0, by="ann", now=tomorrow) == 2


def test_pressing_send_twice_plans_each_member_once_and_the_bulletin_is_final(
    session: Session, newsroom: dict[str, int], settings: Settings
) -> None:
    bulletin = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="ann", now=NOW)
    assert bulletin.id is not None

    assert start_sending(session, settings, TAXONOMY, bulletin.id, by="ann", now=NOW) == 2
    with pytest.raises(BulletinError, match="already been sent"):
        start_sending(session, settings, TAXONOMY, bulletin.id, by="bob", now=NOW)
    with pytest.raises(BulletinError, match="can no longer be changed"):
        save_draft(
            session, TAXONOMY, tariff_draft(newsroom), by="bob", now=NOW, bulletin_id=bulletin.id
        )

    assert results(session, bulletin.id).planned == 2
    sent = get_bulletin(session, bulletin.id)
    assert (sent.status, sent.sent_by, sent.audience_size) == ("sending", "ann", 2)


def test_two_staff_pressing_send_at_the_same_moment_send_it_once(
    engine: sa.Engine, session: Session, newsroom: dict[str, int], settings: Settings
) -> None:
    bulletin = save_draft(session, TAXONOMY, tariff_draft(newsroom), by="ann", now=NOW)
    assert bulletin.id is not None
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def press(who: str) -> None:
        with Session(engine) as own:
            start.wait()
            try:
                start_sending(own, settings, TAXONOMY, bulletin.id or 0, by=who, now=NOW)
                outcomes.append("sent")
            except BulletinError:
                outcomes.append("refused")

    pressers = [threading.Thread(target=press, args=(who,)) for who in ("ann", "bob")]
    for thread in pressers:
        thread.start()
    for thread in pressers:
        thread.join()

    assert sorted(outcomes) == ["refused", "sent"]
    assert results(session, bulletin.id).planned == 2


def test_the_email_renders_markdown_safely_and_lists_the_chosen_items_in_order(
    session: Session, newsroom: dict[str, int], settings: Settings
) -> None:
    introduction = 'Read **this**. <script>alert("x")</script> [bad](javascript:alert(1))'
    bulletin = save_draft(
        session,
        TAXONOMY,
        tariff_draft(newsroom, introduction=introduction, item_ids=(newsroom["quota"],)),
        by="ann",
        now=NOW,
    )

    email = sample_email(settings, content_of(session, settings, TAXONOMY, bulletin), "x@y.example")

    assert "<strong>this</strong>" in email.html
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert 'href="javascript:' not in email.html
    assert "Steel safeguard quota reopens" in email.html
    assert "Anti-dumping" not in email.html
    assert "members following Tariffs and trade remedies" in email.text
    assert f"/bulletins/{bulletin.id}" in email.text  # view in browser


def test_a_members_next_digest_leaves_out_what_a_bulletin_sent_them(
    session: Session, newsroom: dict[str, int], settings: Settings, tmp_path: Path
) -> None:
    app_settings = settings.model_copy(update={"secret_key": "s"})
    outbox = OutboxTransport(tmp_path / "outbox", "alerts@alerter.example")
    bulletin = save_draft(
        session,
        TAXONOMY,
        tariff_draft(newsroom, item_ids=(newsroom["duties"],)),
        by="ann",
        now=NOW,
    )
    assert bulletin.id is not None
    start_sending(session, settings, TAXONOMY, bulletin.id, by="ann", now=NOW)
    send_bulletin(session, outbox, app_settings, TAXONOMY, bulletin.id)
    assert get_bulletin(session, bulletin.id).status == "sent"

    run_digest(session, outbox, app_settings, TAXONOMY, Frequency.WEEKLY, NOW + timedelta(1))

    ann = find_member(session, "ann@alfed.example")
    digest = session.exec(
        select(Delivery).where(Delivery.kind == "digest-weekly", Delivery.member_id == ann.id)  # type: ignore[union-attr]
    ).one()
    assert digest.item_ids == [newsroom["quota"]]  # the duties item came in the bulletin


@pytest.fixture
def sendgrid(env_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        monkeypatch.setenv("ALERTER_MAIL_BACKEND", "sendgrid")
        monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
        monkeypatch.setenv("ALERTER_SENDGRID_BASE_URL", fake.url)
        yield fake


def test_the_command_sends_one_email_to_each_active_follower_and_refuses_to_repeat(
    session: Session, newsroom: dict[str, int], sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    message = tmp_path / "message.md"
    message.write_text("The **memorandum** was signed today.", encoding="utf-8")
    command = ["bulletin", "send", "--subject", "UK and US sign minerals MoU"]
    command += ["--message-file", str(message), "--topic", "tariffs"]
    command += ["--item", str(newsroom["duties"]), "--item", str(newsroom["quota"]), "--yes"]

    sent = runner.invoke(app, command)

    assert sent.exit_code == 0, sent.output
    assert "audience: 2 members (2 who unsubscribed or were suppressed are left out)" in sent.stdout
    assert "sent 2, failed 0" in sent.stdout
    delivered = sendgrid.delivered()
    assert sorted(d.to for d in delivered) == ["ann@alfed.example", "bob@castings.example"]
    [bulletin] = session.exec(select(Bulletin)).all()
    held_until = results(session, bulletin.id or 0).delivered_by
    session.rollback()  # SQLite: a reader that stays open keeps the next command waiting
    assert held_until is not None and held_until > datetime.now(UTC) + timedelta(minutes=10)
    assert all(d.categories == ("bulletin",) for d in delivered)
    assert all("<strong>memorandum</strong>" in d.html for d in delivered)
    assert all("Steel safeguard quota reopens" in d.text for d in delivered)
    assert all("/unsubscribe/" in d.headers["List-Unsubscribe"] for d in delivered)
    assert delivered[0].headers["List-Unsubscribe"] != delivered[1].headers["List-Unsubscribe"]

    again = runner.invoke(app, command)

    assert again.exit_code == 2
    assert "add --again to send it once more" in again.output
    assert len(sendgrid.delivered()) == 2


def test_without_yes_the_command_asks_and_a_no_sends_nothing(
    session: Session, newsroom: dict[str, int], sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    message = tmp_path / "message.md"
    message.write_text("Steel safeguard changes from 1 July.", encoding="utf-8")

    answer = runner.invoke(
        app,
        ["bulletin", "send", "--subject", "Safeguards", "--message-file", str(message), "--all"],
        input="n\n",
    )

    assert answer.exit_code == 1
    assert "audience: 4 members" in answer.stdout and "Send it now?" in answer.stdout
    assert sendgrid.delivered() == []
    assert session.exec(select(Delivery)).all() == []
