"""Precision, recall and F1 of topic predictions against labelled examples. Pure."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TopicScore:
    topic: str
    precision: float
    recall: float
    f1: float
    support: int  # labelled positives


@dataclass(frozen=True)
class Report:
    topics: tuple[TopicScore, ...]

    @property
    def macro_f1(self) -> float:
        return sum(t.f1 for t in self.topics) / len(self.topics) if self.topics else 0.0

    def lines(self) -> list[str]:
        rows = [f"{'topic':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}"]
        rows += [
            f"{t.topic:<20} {t.precision:>9.3f} {t.recall:>7.3f} {t.f1:>6.3f} {t.support:>8}"
            for t in self.topics
        ]
        rows.append(f"{'macro-F1':<20} {'':>9} {'':>7} {self.macro_f1:>6.3f}")
        return rows


def evaluate(
    topic_ids: Iterable[str],
    expected: Sequence[Iterable[str]],
    predicted: Sequence[Iterable[str]],
) -> Report:
    """Per-topic scores; a topic neither expected nor predicted anywhere scores 1."""
    scores = []
    pairs = [(set(e), set(p)) for e, p in zip(expected, predicted, strict=True)]
    for topic in topic_ids:
        true_positive = sum(topic in e and topic in p for e, p in pairs)
        false_positive = sum(topic not in e and topic in p for e, p in pairs)
        false_negative = sum(topic in e and topic not in p for e, p in pairs)
        precision = _ratio(true_positive, true_positive + false_positive)
        recall = _ratio(true_positive, true_positive + false_negative)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(TopicScore(topic, precision, recall, f1, true_positive + false_negative))
    return Report(tuple(scores))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 1.0
