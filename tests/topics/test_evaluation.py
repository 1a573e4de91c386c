"""Scoring topic predictions against labelled items: precision, recall and F1 per topic, and
their macro average. The example below is small enough to check by hand:

    item  expected           predicted
    1     tariffs, energy    tariffs, energy
    2     tariffs            energy
    3     energy             energy, tariffs
    4     events             (none)

    tariffs  TP 1, FP 1, FN 1  precision 1/2, recall 1/2, F1 1/2
    energy   TP 2, FP 1, FN 0  precision 2/3, recall 1,   F1 4/5
    events   TP 0, FP 0, FN 1  never predicted: recall 0, F1 0
    skills   neither expected nor predicted: 1 throughout
"""

import pytest

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.topics.classifier import Classifier
from alerter.topics.evaluation import (
    NAIVE_KEYWORDS,
    Report,
    TopicScore,
    changed_items,
    cross_validated,
    evaluate,
    naive_topics,
    side_by_side,
)
from alerter.topics.evidence import Text
from alerter.topics.examples import LabelledText
from alerter.topics.model import train
from alerter.topics.taxonomy import Taxonomy, load_taxonomy

TOPICS = ["tariffs", "energy", "events", "skills"]
EXPECTED = [{"tariffs", "energy"}, {"tariffs"}, {"energy"}, {"events"}]
PREDICTED = [{"tariffs", "energy"}, {"energy"}, {"energy", "tariffs"}, set()]


@pytest.fixture
def report() -> Report:
    return evaluate(TOPICS, EXPECTED, PREDICTED)


def score(report: Report, topic: str) -> TopicScore:
    return next(score for score in report.topics if score.topic == topic)


def test_scores_come_in_the_order_of_the_topics_given(report: Report) -> None:
    assert [score.topic for score in report.topics] == TOPICS


def test_a_topic_half_right_scores_a_half(report: Report) -> None:
    assert score(report, "tariffs") == TopicScore("tariffs", 0.5, 0.5, 0.5, support=2)


def test_a_topic_with_a_false_alarm_loses_precision_only(report: Report) -> None:
    energy = score(report, "energy")

    assert (energy.precision, energy.recall, energy.f1, energy.support) == pytest.approx(
        (2 / 3, 1.0, 0.8, 2)
    )


def test_a_topic_never_predicted_has_no_recall_and_no_f1(report: Report) -> None:
    events = score(report, "events")

    assert (events.recall, events.f1, events.support) == (0.0, 0.0, 1)


def test_a_topic_neither_expected_nor_predicted_scores_one(report: Report) -> None:
    assert score(report, "skills") == TopicScore("skills", 1.0, 1.0, 1.0, support=0)


def test_macro_f1_is_the_mean_of_every_topics_f1(report: Report) -> None:
    assert report.macro_f1 == pytest.approx((0.5 + 0.8 + 0.0 + 1.0) / 4)


def test_a_topic_only_ever_predicted_wrongly_scores_zero() -> None:
    [tariffs] = evaluate(["tariffs"], [set(), set()], [{"tariffs"}, set()]).topics

    assert (tariffs.precision, tariffs.f1, tariffs.support) == (0.0, 0.0, 0)


def test_macro_f1_of_no_topics_is_zero() -> None:
    assert evaluate([], [set()], [set()]).macro_f1 == 0.0


def test_expected_and_predicted_must_be_the_same_length() -> None:
    with pytest.raises(ValueError):
        evaluate(TOPICS, EXPECTED, PREDICTED[:-1])


def test_report_lines_are_a_table_ending_in_macro_f1(report: Report) -> None:
    lines = report.lines()

    assert lines[0].split() == ["topic", "precision", "recall", "F1", "support"]
    assert lines[2].split() == ["energy", "0.667", "1.000", "0.800", "2"]
    assert lines[-1].split() == ["macro-F1", "0.575"]


def test_side_by_side_puts_each_reports_scores_in_its_own_columns(report: Report) -> None:
    perfect = evaluate(TOPICS, EXPECTED, EXPECTED)

    lines = side_by_side({"classifier": perfect, "naive keywords": report})

    assert lines[0].split() == ["classifier", "naive", "keywords"]
    assert lines[3].split() == ["energy", "1.000", "1.000", "1.000", "0.667", "1.000", "0.800"]
    assert lines[-1].split() == ["macro-F1", "1.000", "0.575"]


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("£5m for foundries", "", {"funding"}),
        ("Steel safeguard extended", "Import duties stay.", {"tariffs"}),
        ("Fundamental review of rail fares", "", {"funding"}),  # naive: "fund" in "fundamental"
        ("Passport fees rise", "", set()),
    ],
)
def test_the_naive_baseline_matches_its_keywords_as_substrings(
    title: str, summary: str, expected: set[str]
) -> None:
    assert naive_topics(Text(title, summary), NAIVE_KEYWORDS) == expected


def test_the_naive_baseline_has_one_line_of_keywords_per_shipped_topic() -> None:
    assert set(NAIVE_KEYWORDS) == set(load_taxonomy(DEFAULT_TOPICS_FILE).ids)


def labelled(title: str, *topics: str) -> LabelledText:
    return LabelledText(title, "", frozenset(topics))


def test_cross_validation_classifies_each_item_by_a_model_trained_without_it() -> None:
    taxonomy = Taxonomy(
        tuple(t for t in load_taxonomy(DEFAULT_TOPICS_FILE).topics if t.id == "skills")
    )
    items = [labelled(f"Apprenticeships for {n} welders", "skills") for n in range(20)] + [
        labelled(f"Steel prices fall in week {n}") for n in range(20)
    ]
    # An item whose words appear nowhere else: only a model that saw it could learn them.
    items.append(labelled("Zorbing lessons for quokkas", "skills"))

    predicted = cross_validated(taxonomy, items)

    assert predicted[:20] == [("skills",)] * 20 and predicted[20:40] == [()] * 20
    assert predicted[40] == ()
    trained_on_it = Classifier(taxonomy, train(taxonomy, items))
    assert trained_on_it.classify(items[40].text).topics == ("skills",)


def test_changed_items_lists_what_a_proposal_gains_and_loses_and_whether_rightly() -> None:
    items = [
        labelled("Steel safeguard", "tariffs"),
        labelled("Rail fares"),
        labelled("Duty", "tariffs"),
    ]

    lines = changed_items(
        ["tariffs"], items, [(), ("tariffs",), ("tariffs",)], [("tariffs",), (), ()]
    )

    assert lines[1:] == [
        "  tariffs: gains 1, loses 2; 2 of them right",
        "    + ✓ Steel safeguard",
        "    - ✓ Rail fares",
        "    - ✗ Duty",
    ]
