"""The shipped taxonomy's quality on the labelled set's held-out half, which was never tuned on.

The development files (dev*.jsonl) are what the taxonomy was tuned against; heldout.jsonl stays
unseen so that this figure says how the classifier does on news it has not met."""

import json
from pathlib import Path

from alerter.classifier import Classifier, Text
from alerter.config import DEFAULT_TOPICS_FILE
from alerter.evaluation import Report, evaluate
from alerter.topics import load_taxonomy

LABELLED = Path(__file__).parent / "fixtures" / "topics"


def score(file_name: str) -> Report:
    classifier = Classifier(load_taxonomy(DEFAULT_TOPICS_FILE))
    records = [
        json.loads(line)
        for line in (LABELLED / file_name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = [Text(r["title"], r["summary"], r.get("metadata") or {}) for r in records]
    predicted = [c.topics for c in classifier.classify_many(texts)]
    return evaluate(classifier.taxonomy.ids, [r["topics"] for r in records], predicted)


def test_held_out_macro_f1_is_at_least_0_85() -> None:
    assert score("heldout.jsonl").macro_f1 >= 0.85


def test_no_topic_recall_on_the_held_out_half_is_below_0_8() -> None:
    weak = {t.topic: round(t.recall, 3) for t in score("heldout.jsonl").topics if t.recall < 0.8}
    assert weak == {}


def test_the_labelled_set_has_200_items_covering_every_topic_in_both_halves() -> None:
    held_out = score("heldout.jsonl")
    development = score("dev.jsonl")

    total = sum(
        len((LABELLED / name).read_text(encoding="utf-8").splitlines())
        for name in ("dev.jsonl", "heldout.jsonl")
    )
    assert total >= 200
    assert all(t.support >= 10 for t in held_out.topics + development.topics)
