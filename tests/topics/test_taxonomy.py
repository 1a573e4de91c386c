"""Loading the topic taxonomy: a valid file becomes compiled topics; a faulty one is refused with
a message that names the topic and the field to fix."""

from pathlib import Path

import pytest

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.topics.matching import compile_phrase
from alerter.topics.taxonomy import TaxonomyError, load_taxonomy

TARIFFS = """
[[topics]]
id = "tariffs"
label = "Tariffs and trade remedies"
description = "Tariffs, duties and trade remedies."
phrases = ["tariff*", "duty"]
strong = ["anti dumping", "TRA"]
exclude = ["feed in tariff*"]
veto = ["rail fare*"]
govuk_organisations = ["trade-remedies-authority"]
threshold = 3
"""

EVENTS = """
[[topics]]
id = "events"
label = "Events"
description = "Conferences and webinars."
strong = ["webinar*"]
govuk_types = ["open_consultation"]
"""


def topics_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads_its_topics_in_order(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(topics_file(tmp_path, TARIFFS + EVENTS))

    assert taxonomy.ids == ["tariffs", "events"]


def test_a_loaded_topic_has_its_phrases_compiled_by_role(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(topics_file(tmp_path, TARIFFS))

    tariffs = taxonomy.get("tariffs")

    assert tariffs is not None
    assert tariffs.label == "Tariffs and trade remedies"
    assert tariffs.phrases == (compile_phrase("tariff*"), compile_phrase("duty"))
    assert tariffs.strong == (compile_phrase("anti dumping"), compile_phrase("TRA"))
    assert tariffs.exclude == (compile_phrase("feed in tariff*"),)
    assert tariffs.veto == (compile_phrase("rail fare*"),)
    assert tariffs.govuk_organisations == frozenset({"trade-remedies-authority"})
    assert tariffs.threshold == 3


def test_a_topic_without_a_threshold_needs_two_points(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(topics_file(tmp_path, EVENTS))

    events = taxonomy.get("events")

    assert events is not None and events.threshold == 2.0


def test_get_answers_none_for_an_unknown_topic(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(topics_file(tmp_path, EVENTS))

    assert taxonomy.get("steel") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            EVENTS + '[[topics]]\nid = "skills"\ndescription = "Training."\n',
            "topic #2 ('skills'): label: Field required",
            id="missing label",
        ),
        pytest.param(
            EVENTS + '[[topics]]\nlabel = "Skills"\ndescription = "Training."\n',
            "topic #2: id: Field required",
            id="missing id",
        ),
        pytest.param(
            '[[topics]]\nid = "Net Zero"\nlabel = "Net zero"\ndescription = "Emissions."\n',
            "topic #1 ('Net Zero'): id: Value error, must be lower-case letters, digits",
            id="bad id",
        ),
        pytest.param(
            EVENTS + 'colour = "red"\n',
            "topic #1 ('events'): colour: Extra inputs are not permitted",
            id="unknown key",
        ),
        pytest.param(
            EVENTS + "threshold = 0\n",
            "topic #1 ('events'): threshold: Input should be greater than 0",
            id="threshold not positive",
        ),
        pytest.param(
            EVENTS + 'phrases = ["ev*"]\n',
            "topic #1 ('events'): phrase 'ev*': a word ending in * needs 3 letters",
            id="short prefix",
        ),
        pytest.param(EVENTS + EVENTS, "topic id 'events' is used twice", id="duplicate id"),
    ],
)
def test_a_faulty_topic_is_refused_naming_the_topic_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = topics_file(tmp_path, text)

    with pytest.raises(TaxonomyError) as refused:
        load_taxonomy(path)

    assert str(refused.value).startswith(f"{path}: ")
    assert message in str(refused.value)


def test_every_problem_in_the_file_is_reported_at_once(tmp_path: Path) -> None:
    path = topics_file(
        tmp_path,
        '[[topics]]\nid = "tariffs"\ndescription = "Duties."\n'
        '[[topics]]\nid = "events"\nlabel = "Events"\ndescription = "Talks."\nsize = 3\n',
    )

    with pytest.raises(TaxonomyError) as refused:
        load_taxonomy(path)

    assert str(refused.value) == (
        f"{path}: topic #1 ('tariffs'): label: Field required; "
        "topic #2 ('events'): size: Extra inputs are not permitted"
    )


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = topics_file(tmp_path, "[[topics]\nid = tariffs\n")

    with pytest.raises(TaxonomyError, match="not a valid UTF-8 TOML file"):
        load_taxonomy(path)


@pytest.mark.parametrize(
    "text", ["", "topics = []\n", '[[topic]]\nid = "events"\n'], ids=["empty", "none", "misnamed"]
)
def test_a_file_without_topics_is_refused(tmp_path: Path, text: str) -> None:
    path = topics_file(tmp_path, text)

    with pytest.raises(TaxonomyError, match=r"expected an array of tables \[\[topics\]\]"):
        load_taxonomy(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read the topics file"):
        load_taxonomy(tmp_path / "absent.toml")


def test_the_shipped_taxonomy_has_the_topics_members_follow() -> None:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)

    assert sorted(taxonomy.ids) == sorted(
        [
            "trade-agreements",
            "tariffs",
            "recycling",
            "critical-minerals",
            "energy",
            "net-zero",
            "funding",
            "consultations",
            "events",
            "skills",
        ]
    )


def test_every_shipped_topic_has_a_label_and_description() -> None:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)

    assert all(topic.label.strip() and topic.description.strip() for topic in taxonomy.topics)
