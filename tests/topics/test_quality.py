"""The shipped classifier's quality on the held-out labelled set, which was never trained or
tuned on.

The model learns from the labelled sets in alerter/topics/labelled/; heldout.jsonl was written
independently and stays unseen, so this figure says how the classifier does on news it has not
met. Tuning against it would spend it: it would then have to join the training sets and a new
held-out set be written."""

import json
from pathlib import Path

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.topics.classifier import Classifier, Text
from alerter.topics.evaluation import Report, evaluate
from alerter.topics.model import shipped_model
from alerter.topics.taxonomy import load_taxonomy

LABELLED = Path(__file__).parent.parent / "fixtures" / "topics"


def score(file_name: str) -> Report:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    classifier = Classifier(taxonomy, shipped_model(taxonomy))
    records = [
        json.loads(line)
        for line in (LABELLED / file_name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = [Text(r["title"], r["summary"], r.get("metadata") or {}) for r in records]
    predicted = [c.topics for c in classifier.classify_many(texts)]
    return evaluate(classifier.taxonomy.ids, [r["topics"] for r in records], predicted)


def test_held_out_macro_f1_is_at_least_0_9() -> None:
    assert score("heldout.jsonl").macro_f1 >= 0.9


def test_no_topic_recall_on_the_held_out_set_is_below_0_85() -> None:
    weak = {t.topic: round(t.recall, 3) for t in score("heldout.jsonl").topics if t.recall < 0.85}
    assert weak == {}


def test_no_topic_precision_on_the_held_out_set_is_below_0_8() -> None:
    weak = {
        t.topic: round(t.precision, 3) for t in score("heldout.jsonl").topics if t.precision < 0.8
    }
    assert weak == {}


def test_the_held_out_set_has_200_items_covering_every_topic() -> None:
    held_out = score("heldout.jsonl")

    assert len((LABELLED / "heldout.jsonl").read_text(encoding="utf-8").splitlines()) >= 200
    assert all(t.support >= 15 for t in held_out.topics)
