"""Labelled examples: reading labelled files, the sets the repository ships to learn from, and
staff-corrected items applied to items much like them."""

import json
from collections import Counter
from pathlib import Path

import pytest

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.topics.examples import (
    SIMILARITY,
    ExampleMatcher,
    LabelledExample,
    LabelledFileError,
    read_labelled,
    shipped_files,
    shipped_labelled,
    words_of,
)
from alerter.topics.taxonomy import load_taxonomy

HELD_OUT = Path(__file__).parent.parent / "fixtures" / "topics" / "heldout.jsonl"


def test_a_labelled_file_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text(
        json.dumps({"title": "Steel tariffs rise", "summary": "From April.", "topics": ["tariffs"]})
        + "\n\n"
        + json.dumps({"title": "Passport fees rise", "topics": []})
        + "\n",
        encoding="utf-8",
    )

    first, second = read_labelled(path)

    assert (first.title, first.summary, first.topics) == (
        "Steel tariffs rise",
        "From April.",
        frozenset({"tariffs"}),
    )
    assert (second.summary, second.topics) == ("", frozenset())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "line 1: not JSON"),
        (json.dumps({"summary": "no title", "topics": []}), "line 1: no title"),
        (json.dumps({"title": "No topics"}), "line 1: no `topics` list"),
        (json.dumps({"title": "Topics not a list", "topics": "tariffs"}), "line 1: no `topics`"),
    ],
    ids=["not json", "no title", "no topics", "topics not a list"],
)
def test_a_bad_line_is_refused_naming_the_file_and_line(
    tmp_path: Path, line: str, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")

    with pytest.raises(LabelledFileError, match=reason) as refused:
        read_labelled(path)
    assert str(path) in str(refused.value)


def test_a_missing_labelled_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabelledFileError, match="No such file"):
        read_labelled(tmp_path / "missing.jsonl")


def test_the_shipped_sets_are_package_data_labelled_with_the_shipped_topics() -> None:
    ids = set(load_taxonomy(DEFAULT_TOPICS_FILE).ids)
    shipped = shipped_labelled()

    assert shipped_files() and all(p.parent.name == "labelled" for p in shipped_files())
    assert all(item.topics <= ids for item in shipped)
    counts = Counter(topic for item in shipped for topic in item.topics)
    assert min(counts[topic] for topic in ids) >= 40
    # Most news is routed nowhere; the model must learn that as well.
    assert sum(not item.topics for item in shipped) >= 0.25 * len(shipped)


def test_the_shipped_sets_say_each_thing_once_and_leave_the_held_out_set_unseen() -> None:
    titles = [item.title.lower() for item in shipped_labelled()]
    held_out = {item.title.lower() for item in read_labelled(HELD_OUT)}

    assert len(titles) == len(set(titles))
    assert held_out.isdisjoint(titles)


CASTINGS = LabelledExample(
    7,
    "Castings sector outlook report",
    "Annual survey of foundries",
    frozenset({"skills"}),
    frozenset(),
)
PORT = LabelledExample(
    9, "Port of Tilbury tariff revised", "New harbour charges", frozenset(), frozenset({"tariffs"})
)


def test_an_item_much_like_a_corrected_one_gets_its_decisions() -> None:
    matcher = ExampleMatcher([CASTINGS, PORT])

    [nearby] = matcher.neighbours([words_of("Castings sector outlook report 2027\nAnnual survey")])

    [neighbour] = nearby
    assert (neighbour.topic, neighbour.example, neighbour.keep) == ("skills", CASTINGS, True)
    assert SIMILARITY <= neighbour.similarity <= 1.0


def test_an_item_much_like_one_staff_took_a_topic_off_loses_it() -> None:
    matcher = ExampleMatcher([CASTINGS, PORT])

    [nearby] = matcher.neighbours([words_of("Port of Tilbury tariff revised again")])

    assert [(n.topic, n.keep) for n in nearby] == [("tariffs", False)]


def test_an_unlike_item_gets_nothing_from_the_corrections() -> None:
    matcher = ExampleMatcher([CASTINGS, PORT])

    assert matcher.neighbours([words_of("Flood warnings for the Severn valley")]) == [[]]
