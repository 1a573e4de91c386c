"""The learned topic model: trained from labelled examples and corrections, deterministically;
every topic it gives comes with evidence in the item's own words or the taxonomy's phrases."""

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerter.config import DEFAULT_TOPICS_FILE, get_settings
from alerter.topics import model as topic_model
from alerter.topics.classifier import Classifier, Text
from alerter.topics.examples import LabelledExample, LabelledText, read_labelled, shipped_labelled
from alerter.topics.matching import compile_phrase, tokenise
from alerter.topics.model import MIN_POSITIVES, TopicModel, features, shipped_model, train
from alerter.topics.rules import Rules
from alerter.topics.taxonomy import Taxonomy, Topic, load_taxonomy

HELD_OUT = Path(__file__).parent.parent / "fixtures" / "topics" / "heldout.jsonl"


def topic(topic_id: str, *phrases: str) -> Topic:
    return Topic(
        id=topic_id,
        label=topic_id,
        description=f"About {topic_id}.",
        phrases=tuple(map(compile_phrase, phrases)),
        strong=(),
        exclude=(),
        veto=(),
        govuk_types=frozenset(),
        govuk_organisations=frozenset(),
        threshold=2.0,
    )


TAXONOMY = Taxonomy((topic("skills", "apprentice*"), topic("events", "conference")))


def labelled(title: str, *topics: str) -> LabelledText:
    return LabelledText(title, "", frozenset(topics))


# Small enough to read: skills items speak of training, events items of gatherings.
TRAINING = (
    [
        labelled(f"{what} for {who}", "skills")
        for what in ("Apprenticeships", "Training courses", "Welding courses", "Apprentice pay")
        for who in ("foundries", "extruders", "toolmakers")
    ]
    + [
        labelled(f"{what} in {where}", "events")
        for what in ("Annual conference", "Members' conference", "Awards dinner", "Open day")
        for where in ("Birmingham", "Sheffield", "Telford")
    ]
    + [
        labelled(f"{what} in {where}")
        for what in ("Steel prices fall", "Foundry closes", "Rates held", "Output rises")
        for where in ("Birmingham", "Sheffield", "Wales")
    ]
)


def digest(model: TopicModel) -> str:
    """The model's every number, as one fingerprint."""
    return hashlib.sha256(
        repr(
            (model.topics, model.features, model.coefficients.tobytes(), model.bias.tobytes())
        ).encode()
        + model.thresholds.tobytes()
    ).hexdigest()


def test_training_twice_gives_the_same_model() -> None:
    first, second = train(TAXONOMY, TRAINING), train(TAXONOMY, TRAINING)

    assert digest(first) == digest(second)
    assert first.fingerprint == second.fingerprint


def test_the_shipped_model_is_the_same_in_every_process() -> None:
    # Each process hashes strings differently; nothing in training may depend on it.
    program = (
        "from tests.topics.test_model import digest;"
        "from alerter.config import DEFAULT_TOPICS_FILE;"
        "from alerter.topics.examples import shipped_labelled;"
        "from alerter.topics.model import train;"
        "from alerter.topics.taxonomy import load_taxonomy;"
        "print(digest(train(load_taxonomy(DEFAULT_TOPICS_FILE), shipped_labelled())))"
    )
    root = Path(__file__).parent.parent.parent
    digests = {
        subprocess.run(
            [sys.executable, "-c", program],
            cwd=root,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }

    assert digests == {digest(shipped_model(load_taxonomy(DEFAULT_TOPICS_FILE)))}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A model cache of the test's own, the shipped examples replaced by the small set."""
    monkeypatch.setenv("ALERTER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(topic_model, "shipped_labelled", lambda: tuple(TRAINING))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_a_model_is_trained_once_and_read_by_later_processes(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained = shipped_model.__wrapped__(TAXONOMY)

    def no_training(*args: object) -> TopicModel:
        raise AssertionError("trained again")

    monkeypatch.setattr(topic_model, "train", no_training)
    read = shipped_model.__wrapped__(TAXONOMY)

    assert (digest(read), read.fingerprint) == (digest(trained), trained.fingerprint)
    assert len(list(cache_dir.iterdir())) == 1


def test_other_corrections_or_a_changed_taxonomy_train_a_model_of_their_own(
    cache_dir: Path,
) -> None:
    correction = LabelledExample(1, "Welders wanted", "", frozenset({"skills"}), frozenset())

    shipped_model.__wrapped__(TAXONOMY)
    shipped_model.__wrapped__(TAXONOMY, (correction,))
    shipped_model.__wrapped__(Taxonomy(TAXONOMY.topics[:1]))

    assert len(list(cache_dir.iterdir())) == 3


def test_an_unreadable_cached_model_is_trained_again(cache_dir: Path) -> None:
    trained = shipped_model.__wrapped__(TAXONOMY)
    [kept] = cache_dir.iterdir()
    kept.write_bytes(kept.read_bytes()[:100])  # cut short, as by a full disk

    again = shipped_model.__wrapped__(TAXONOMY)

    assert digest(again) == digest(trained)
    assert shipped_model.__wrapped__(TAXONOMY).fingerprint == trained.fingerprint


def test_a_topic_with_too_few_examples_is_left_to_the_rules() -> None:
    few = [item for item in TRAINING if "events" not in item.topics] + [
        labelled(f"Conference {n}", "events") for n in range(MIN_POSITIVES - 1)
    ]

    model = train(TAXONOMY, few)
    result = Classifier(TAXONOMY, model).classify(Text("Conference news", "conference"))

    assert model.topics == ("skills",)
    assert result.topics == ("events",)  # by the taxonomy's points: 2 in the title
    assert [e.kind for e in result.evidence["events"]] == ["phrase"]


def test_the_model_learns_words_the_taxonomy_does_not_name() -> None:
    classifier = Classifier(TAXONOMY, train(TAXONOMY, TRAINING))

    result = classifier.classify(Text("Welding courses for fabricators"))

    assert result.topics == ("skills",)
    assert {e.text for e in result.evidence["skills"]} & {"Welding", "courses", "Welding courses"}


def test_corrections_teach_the_model_a_new_way_of_saying_a_topic() -> None:
    unseen = Text("Masterclass for die casters in Walsall")
    corrections = [
        LabelledExample(n, f"Masterclass for {who}", "", frozenset({"skills"}), frozenset())
        for n, who in enumerate(("moulders", "welders", "fettlers", "pattern makers"))
    ]
    before = Classifier(TAXONOMY, train(TAXONOMY, TRAINING)).classify(unseen)

    after = Classifier(TAXONOMY, train(TAXONOMY, TRAINING, corrections)).classify(unseen)

    assert "skills" not in before.topics
    assert "skills" in after.topics
    assert any(e.text == "Masterclass" for e in after.evidence["skills"])


def test_a_correction_that_removes_a_topic_teaches_against_it() -> None:
    unseen = Text("Apprentice of the year wins holiday")
    corrections = [
        LabelledExample(
            n, f"Apprentice of the year wins {prize}", "", frozenset(), frozenset({"skills"})
        )
        for n, prize in enumerate(("car", "cruise", "bicycle", "television", "watch", "trip"))
    ]
    before = Classifier(TAXONOMY, train(TAXONOMY, TRAINING)).classify(unseen)

    after = Classifier(TAXONOMY, train(TAXONOMY, TRAINING, corrections)).classify(unseen)

    assert "skills" in before.topics
    assert "skills" not in after.topics


def test_every_number_and_sum_of_money_reads_alike() -> None:
    def read(title: str) -> dict[str, float]:
        return features(Text(title), tokenise(title), [], {})

    assert read("£149m for 12 foundries") == read("£3bn for 250 foundries")
    assert {"money", "w:<number>", "w:foundry"} <= set(read("£149m for 12 foundries"))


@pytest.mark.parametrize(
    ("title", "money"),
    [
        ("Multibillion pound plan for steel", True),
        ("A million-pound boost for foundries", True),
        ("Grant of 20 million euros for the smelter", True),
        ("EUR 5m for recyclers", True),
        ("Europe's steelmakers meet in Brussels", False),
        ("Millions of cans collected", False),
    ],
)
def test_a_sum_of_money_in_words_reads_as_money(title: str, money: bool) -> None:
    assert ("money" in features(Text(title), tokenise(title), [], {})) is money


def test_an_item_is_encoded_as_its_features_the_model_knows() -> None:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    model, rules = shipped_model(taxonomy), Rules(taxonomy)
    for item in read_labelled(HELD_OUT):
        text = item.text
        title, summary = tokenise(text.title), tokenise(text.summary)
        evidence = rules.evidence(text, title, summary)
        known = set(model.features)

        columns, values = model.encode(text, title, summary, evidence)

        expected = {f: v for f, v in features(text, title, summary, evidence).items() if f in known}
        assert dict(zip((model.features[c] for c in columns), values, strict=True)) == expected


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    return Classifier(taxonomy, shipped_model(taxonomy))


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(list(shipped_labelled()), id="shipped"),
        pytest.param(read_labelled(HELD_OUT), id="held out"),
    ],
)
def test_every_topic_given_comes_with_evidence_members_can_read(
    shipped: Classifier, items: list[LabelledText]
) -> None:
    results = shipped.classify_many([item.text for item in items])

    given = [
        (item, topic, r.evidence[topic])
        for item, r in zip(items, results, strict=True)
        for topic in r.topics
    ]
    assert given
    for item, topic, evidence in given:
        assert evidence, f"{topic} on {item.title!r} has no evidence"
        assert all(e.points > 0 and e.describe() for e in evidence)
        own_words = [e for e in evidence if e.kind == "words"]
        assert all(e.text in f"{item.title} {item.summary}" for e in own_words)


def test_evidence_names_the_words_that_counted_most_first(shipped: Classifier) -> None:
    result = shipped.classify(
        Text("Apprenticeship levy reforms confirmed", "Employers can fund shorter courses.")
    )

    evidence = result.evidence["skills"]
    assert [e.points for e in evidence] == sorted((e.points for e in evidence), reverse=True)
    assert any("pprentice" in e.text for e in evidence[:2])
