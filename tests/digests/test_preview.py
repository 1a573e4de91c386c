"""`alerter digest preview`: the digest a member would get now, from stored items."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from alerter.cli import app
from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.digests.candidates import candidates
from alerter.topics.labelling import correct_topic, load_classifier
from subscriptions.members import unsubscribe
from subscriptions.models import Member
from tests.support.newsroom import add_subscriber, store_item

runner = CliRunner()


def setup(session: Session) -> dict[str, int]:
    joined = datetime.now(UTC) - timedelta(days=3)
    ids = {
        "backlog": store_item(
            session, "Steel safeguard review opens", joined + timedelta(hours=1), backlog=True
        ),
        "before": store_item(
            session, "New anti-dumping duties on rebar", joined - timedelta(days=1)
        ),
        "news": store_item(
            session, "Tariff-rate quota for aluminium wire reopens", joined + timedelta(days=1)
        ),
        "other": store_item(
            session, "Foundry apprenticeship scheme expands", joined + timedelta(days=1)
        ),
    }
    add_subscriber(session, "jo@foundry.example", ["tariffs"], joined=joined, name="Jo")
    return ids


def test_candidates_are_new_since_joining_never_backlog_and_on_the_topics(session: Session) -> None:
    ids = setup(session)

    found = candidates(
        session,
        since=datetime.now(UTC) - timedelta(days=3),
        until=datetime.now(UTC),
        topics=["tariffs"],
    )

    assert [c.item_id for c in found] == [ids["news"]]
    assert found[0].publishers == ("DBT",)


def test_a_staff_topic_outranks_the_classifiers_evidence(session: Session) -> None:
    ids = setup(session)
    taxonomy = load_classifier(session, DEFAULT_TOPICS_FILE).taxonomy
    correct_topic(
        session,
        taxonomy,
        ids["news"],
        "events",
        present=True,
        corrected_by="ann",
        now=datetime.now(UTC),
    )

    [found] = candidates(
        session,
        since=datetime.now(UTC) - timedelta(days=3),
        until=datetime.now(UTC),
        topics=["tariffs"],
    )

    assert found.topics["events"] > found.topics["tariffs"]


def test_preview_prints_the_members_digest_without_sending(
    env_settings: Settings, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        setup(session)

    result = runner.invoke(app, ["digest", "preview", "Jo@Foundry.example"])

    assert result.exit_code == 0, result.output
    assert "Tariff-rate quota for aluminium wire reopens" in result.stdout
    assert "Steel safeguard review opens" not in result.stdout
    assert "Foundry apprenticeship" not in result.stdout
    assert not list(Path("outbox").glob("*.eml"))


def test_preview_can_write_the_html_part(
    env_settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        setup(session)
    out = tmp_path / "digest.html"

    result = runner.invoke(app, ["digest", "preview", "jo@foundry.example", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "Tariff-rate quota for aluminium wire reopens" in out.read_text(encoding="utf-8")


def test_preview_of_an_unknown_member_is_an_error(env_settings: Settings) -> None:
    result = runner.invoke(app, ["digest", "preview", "nobody@example.org"])

    assert result.exit_code == 2
    assert "no member with the address" in result.output


def test_preview_of_a_member_who_receives_nothing_says_so(
    env_settings: Settings, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        setup(session)
        member = session.exec(select(Member)).one()
        unsubscribe(session, member, "one-click", datetime.now(UTC))
        session.commit()

    result = runner.invoke(app, ["digest", "preview", "jo@foundry.example"])

    assert result.exit_code == 2
    assert "receives no alerts (status: unsubscribed)" in result.output
