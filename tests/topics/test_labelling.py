"""Topics on stored items: classified when stored or edited, corrected by staff, reclassified."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from alerter.cli import app
from alerter.config import DEFAULT_TOPICS_FILE, Settings
from alerter.ingest.poll import poll_sources
from alerter.ingest.sources.base import Entry
from alerter.ingest.sources.catalog import sync_source_file
from alerter.ingest.store import store_entries, story_index
from alerter.models import Item, Source
from alerter.topics.examples import LabelledText
from alerter.topics.labelling import (
    CORRECTIONS_PER_RETRAINING,
    UnknownItem,
    UnknownTopic,
    classify_items,
    correct_item,
    correct_topic,
    load_classifier,
    reclassify,
    topic_counts,
    topics_of,
)
from tests.support.fake_web import FakeWeb
from tests.support.feeds import Story, rss

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RSS = "application/rss+xml; charset=utf-8"
runner = CliRunner()


def add_items(session: Session, *titles: str, published: datetime = NOW) -> list[int]:
    source = session.exec(select(Source).where(Source.name == "News")).one_or_none()
    if source is None:
        source = Source(name="News", kind="feed", url="https://news.example/feed", publisher="N")
        session.add(source)
        session.commit()
    entries = [
        Entry(f"id-{title}", f"https://news.example/{abs(hash(title))}", title, "", published)
        for title in titles
    ]
    result = store_entries(
        session, source, entries, now=NOW, backlog=False, stories=story_index(session)
    )
    classify_items(session, load_classifier(session, DEFAULT_TOPICS_FILE), result.new_item_ids)
    session.commit()
    return result.new_item_ids


def topics(session: Session, item_id: int) -> list[str]:
    return [row.topic_id for row in topics_of(session, [item_id]).get(item_id, [])]


def test_a_polled_item_is_stored_with_its_topics_and_their_evidence(
    engine: sa.Engine, settings: Settings, web: FakeWeb
) -> None:
    url = web.serve_bytes(
        "/feed",
        rss(
            [
                Story(
                    "TRA opens anti-dumping investigation into aluminium extrusions",
                    "https://news.example/ad",
                    NOW,
                    guid="ad",
                )
            ]
        ),
        RSS,
    )
    settings.sources.write_text(
        f'[[sources]]\nname = "TRA"\nkind = "feed"\nurl = "{url}"\npublisher = "TRA"\n'
    )
    with Session(engine) as session:
        sync_source_file(session, settings.sources)
        session.commit()

    poll_sources(engine, settings, clock=lambda: NOW)

    with Session(engine) as session:
        item = session.exec(select(Item)).one()
        [row] = topics_of(session, [item.id or 0])[item.id or 0]
    assert row.topic_id == "tariffs" and row.assigned_by == "classifier"
    evidence = {(e["kind"], e["text"], e["where"]): e["points"] for e in row.evidence}
    assert evidence[("phrase", "anti dumping", "title")] > 0


def test_an_edited_item_is_classified_again(
    engine: sa.Engine, settings: Settings, web: FakeWeb
) -> None:
    feed = lambda title: rss([Story(title, "https://news.example/x", NOW, guid="x")])  # noqa: E731
    url = web.serve_bytes("/feed", feed("Members' update from the Federation"), RSS)
    settings.sources.write_text(
        f'[[sources]]\nname = "CMF"\nkind = "feed"\nurl = "{url}"\npublisher = "CMF"\n'
    )
    with Session(engine) as session:
        sync_source_file(session, settings.sources)
        session.commit()
    poll_sources(engine, settings, clock=lambda: NOW)
    web.serve_bytes("/feed", feed("Members' update: anti-dumping duties on steel wire"), RSS)

    poll_sources(engine, settings, clock=lambda: NOW + timedelta(hours=1))

    with Session(engine) as session:
        item = session.exec(select(Item)).one()
        assert topics(session, item.id or 0) == ["tariffs"]


def test_a_staff_correction_wins_and_survives_reclassification(session: Session) -> None:
    [item_id] = add_items(session, "Steel safeguard quota reopens for the third quarter")
    taxonomy = load_classifier(session, DEFAULT_TOPICS_FILE).taxonomy

    correct_topic(
        session, taxonomy, item_id, "tariffs", present=False, corrected_by="ann@alfed", now=NOW
    )
    correct_topic(
        session, taxonomy, item_id, "events", present=True, corrected_by="ann@alfed", now=NOW
    )
    session.commit()
    reclassify(session, load_classifier(session, DEFAULT_TOPICS_FILE))

    assert topics(session, item_id) == ["events"]
    [events] = topics_of(session, [item_id])[item_id]
    assert events.assigned_by == "staff"
    assert events.evidence[0] == {
        "kind": "staff",
        "text": "ann@alfed",
        "where": "correction",
        "points": 0.0,
    }


def test_corrections_teach_the_classifier_about_similar_items(session: Session) -> None:
    [labelled] = add_items(session, "Castings sector outlook report published by the Federation")
    taxonomy = load_classifier(session, DEFAULT_TOPICS_FILE).taxonomy
    assert topics(session, labelled) == []
    correct_topic(
        session, taxonomy, labelled, "skills", present=True, corrected_by="staff", now=NOW
    )
    session.commit()

    [similar, unrelated] = add_items(
        session,
        "Castings sector outlook report 2027 published by the Federation",
        "Flood warnings issued for the Severn valley",
    )

    assert topics(session, similar) == ["skills"]
    assert topics(session, unrelated) == []
    [row] = topics_of(session, [similar])[similar]
    assert row.evidence[0]["kind"] == "example"
    assert row.evidence[0]["where"] == f"item {labelled}"


def test_correcting_an_unknown_topic_is_refused(session: Session) -> None:
    [item_id] = add_items(session, "Aluminium recycling rates rise")
    taxonomy = load_classifier(session, DEFAULT_TOPICS_FILE).taxonomy

    with pytest.raises(UnknownTopic, match="no topic 'steel'"):
        correct_topic(session, taxonomy, item_id, "steel", present=True, corrected_by="s", now=NOW)


def test_correcting_an_item_applies_each_decision_and_gives_its_topics_after(
    session: Session,
) -> None:
    [item_id] = add_items(session, "New anti-dumping duties on steel wire")
    taxonomy = load_classifier(session, DEFAULT_TOPICS_FILE).taxonomy

    now_on = correct_item(
        session,
        taxonomy,
        item_id,
        [("consultations", True), ("tariffs", False)],
        corrected_by="ann",
        now=NOW,
    )

    assert now_on == ["consultations"] == topics(session, item_id)


def test_correcting_an_item_that_does_not_exist_is_refused(session: Session) -> None:
    taxonomy = load_classifier(session, DEFAULT_TOPICS_FILE).taxonomy

    with pytest.raises(UnknownItem, match="no item 999"):
        correct_item(session, taxonomy, 999, [], corrected_by="s", now=NOW)


def test_reclassify_applies_an_edited_taxonomy_to_items_since_a_date(
    session: Session, tmp_path: Path
) -> None:
    [old] = add_items(session, "Foundry sand reuse guidance", published=NOW - timedelta(days=30))
    [new] = add_items(session, "Foundry sand reuse trial results")
    edited = tmp_path / "topics.toml"
    edited.write_text(
        DEFAULT_TOPICS_FILE.read_text(encoding="utf-8")
        + '\n[[topics]]\nid = "foundry-sand"\nlabel = "Foundry sand"\n'
        'description = "Sand reclamation and reuse."\nstrong = ["foundry sand"]\n',
        encoding="utf-8",
    )

    count = reclassify(session, load_classifier(session, edited), since=NOW - timedelta(days=1))

    assert count == 1
    assert "foundry-sand" in topics(session, new)
    assert "foundry-sand" not in topics(session, old)


def test_topic_counts_count_items_per_topic(session: Session) -> None:
    add_items(
        session,
        "New anti-dumping duties on steel wire",
        "CBAM draft regulations published",
        "Aluminium recycling rates rise",
    )

    counts = topic_counts(session)

    assert counts["tariffs"] == 2 and counts["recycling"] == 1


def test_classify_command_answers_each_line_in_order_and_reports_bad_lines(
    env_settings: Settings,
) -> None:
    lines = "\n".join(
        [
            json.dumps({"title": "UK and Japan sign critical minerals MoU"}),
            "{not json",
            json.dumps({"summary": "no title here"}),
            json.dumps({"title": "Passport fees to rise in April"}),
        ]
    )

    result = runner.invoke(app, ["classify"], input=lines + "\n")

    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0
    assert out[0]["topics"] == ["trade-agreements", "critical-minerals"]
    assert out[0]["evidence"]["trade-agreements"][0]["text"] == "MoU"
    assert "not JSON" in out[1]["error"]
    assert "no title" in out[2]["error"]
    assert out[3] == {"topics": [], "evidence": {}}


def test_classify_eval_prints_scores_per_topic_and_macro_f1(
    env_settings: Settings, tmp_path: Path
) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(
        "\n".join(
            [
                json.dumps(
                    {"title": "New anti-dumping duties on steel wire", "topics": ["tariffs"]}
                ),
                json.dumps({"title": "Passport fees to rise", "topics": ["tariffs"]}),
            ]
        ),
        encoding="utf-8",
    )

    result = runner.invoke(app, ["classify", "--eval", str(labelled)])

    tariffs = next(line for line in result.stdout.splitlines() if line.startswith("tariffs"))
    assert tariffs.split()[1:4] == ["1.000", "0.500", "0.667"]
    assert "macro-F1" in result.stdout


def test_topics_json_lists_the_taxonomy_with_item_counts(
    env_settings: Settings, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        add_items(session, "CBAM draft regulations published")

    result = runner.invoke(app, ["topics", "--json"])

    listed = {t["id"]: t for t in map(json.loads, result.stdout.splitlines())}
    assert listed["tariffs"]["items"] == 1 and listed["events"]["items"] == 0
    assert listed["tariffs"]["label"] and listed["tariffs"]["description"]


def test_correct_command_changes_an_items_topics(env_settings: Settings, engine: sa.Engine) -> None:
    with Session(engine) as session:
        [item_id] = add_items(session, "CBAM draft regulations published")

    result = runner.invoke(app, ["correct", str(item_id), "--add", "consultations", "--by", "ann"])

    assert result.exit_code == 0, result.output
    assert "consultations" in result.stdout


def test_correct_command_refuses_an_item_that_does_not_exist(env_settings: Settings) -> None:
    result = runner.invoke(app, ["correct", "999"])

    assert result.exit_code == 2
    assert "error: no item 999" in result.output


def test_classify_eval_with_baseline_prints_the_naive_keywords_scores_beside(
    env_settings: Settings, tmp_path: Path
) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(
        "\n".join(
            json.dumps(record)
            for record in [
                {"title": "New anti-dumping duties on steel wire", "topics": ["tariffs"]},
                {"title": "Fundamental review of rail timetables", "topics": []},
            ]
        ),
        encoding="utf-8",
    )

    result = runner.invoke(app, ["classify", "--eval", str(labelled), "--baseline"])

    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}
    assert rows["tariffs"] == ["1.000", "1.000", "1.000", "1.000", "1.000", "1.000"]
    # The naive keywords find "fund" in "Fundamental"; the classifier does not.
    assert rows["funding"][:3] == ["1.000", "1.000", "1.000"]
    assert rows["funding"][3:] == ["0.000", "1.000", "0.000"]
    assert "naive keywords" in result.stdout.splitlines()[0]


def test_classify_eval_names_a_bad_line(env_settings: Settings, tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(json.dumps({"title": "No topics here"}) + "\n", encoding="utf-8")

    result = runner.invoke(app, ["classify", "--eval", str(labelled)])

    assert result.exit_code == 2
    assert "line 1: no `topics` list" in result.output


def test_topics_quality_shows_how_a_proposed_taxonomy_would_move_the_scores(
    env_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each tariffs item names a different grommet product in a short word: no word (or word
    # beginning) repeats for the model to learn, but a phrase "gromm*" would find them all.
    products = ["grommo", "grommi", "gromma", "gromme", "grommu", "grommy", "grommz", "grommk"]
    labelled = [
        LabelledText(f"Rules change for {p}", "", frozenset({"tariffs"})) for p in products
    ] + [LabelledText(f"Rules change for passport {n}", "", frozenset()) for n in range(8)]
    monkeypatch.setattr("alerter.topics.evaluation.shipped_labelled", lambda: tuple(labelled))
    shipped = DEFAULT_TOPICS_FILE.read_text(encoding="utf-8")
    proposed = tmp_path / "topics.toml"
    proposed.write_text(
        shipped.replace('"customs",\n]', '"customs", "gromm*",\n]', 1), encoding="utf-8"
    )
    assert proposed.read_text(encoding="utf-8") != shipped

    result = runner.invoke(app, ["topics", "quality", "--proposed", str(proposed)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "shipped labelled sets (16 items)" in lines[0]
    assert lines[1].split() == ["now", "proposed"]
    tariffs = next(line.split() for line in lines if line.startswith("tariffs"))
    assert tariffs[2] == "0.000" and tariffs[5] == "1.000"  # recall, now and proposed
    assert "  tariffs: gains 8, loses 0; 8 of them right" in lines
    assert "    + ✓ Rules change for grommo" in lines


def test_a_batch_of_corrections_retrains_the_model(session: Session) -> None:
    taxonomy = load_classifier(session, DEFAULT_TOPICS_FILE).taxonomy
    shipped = load_classifier(session, DEFAULT_TOPICS_FILE).model
    items = add_items(
        session, *[f"Foundry open day number {n}" for n in range(CORRECTIONS_PER_RETRAINING)]
    )
    for item_id in items[:-1]:
        correct_topic(session, taxonomy, item_id, "events", present=True, corrected_by="s", now=NOW)
    session.commit()
    one_short = load_classifier(session, DEFAULT_TOPICS_FILE).model

    correct_topic(session, taxonomy, items[-1], "events", present=True, corrected_by="s", now=NOW)
    session.commit()
    retrained = load_classifier(session, DEFAULT_TOPICS_FILE).model

    assert shipped is not None and one_short is not None and retrained is not None
    assert one_short.fingerprint == shipped.fingerprint
    assert retrained.fingerprint != shipped.fingerprint
