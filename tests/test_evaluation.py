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

from alerter.evaluation import Report, TopicScore, evaluate

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
