"""Benchmark: items classified per second on one core, with the shipped taxonomy.

Classifies the labelled test sets' titles and summaries (realistic lengths and vocabulary),
repeated to 20,000 items, in batches of 500 as `alerter classify` does: once with the rules
alone, once with 100 staff-corrected items as learned examples. Target: at least 5,000 items/s.

    .venv/bin/python -m bench.classify
"""

import json
import time
from pathlib import Path

from alerter.classifier import Classifier, Text
from alerter.config import DEFAULT_TOPICS_FILE
from alerter.examples import ExampleMatcher, LabelledExample
from alerter.topics import load_taxonomy

LABELLED = Path(__file__).parent.parent / "tests" / "fixtures" / "topics"
ITEMS = 20_000
BATCH = 500


def load_texts() -> list[Text]:
    records = [
        json.loads(line)
        for path in sorted(LABELLED.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    texts = [Text(r["title"], r.get("summary", ""), r.get("metadata") or {}) for r in records]
    return (texts * (ITEMS // len(texts) + 1))[:ITEMS]


def rate(classifier: Classifier, texts: list[Text]) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        classifier.classify_many(texts[start : start + BATCH])
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    texts = load_texts()
    examples = [
        LabelledExample(n, t.title, f"{t.title}\n{t.summary}", frozenset({"events"}), frozenset())
        for n, t in enumerate(texts[:100])
    ]
    rules_only = rate(Classifier(taxonomy), texts)
    with_examples = rate(Classifier(taxonomy, ExampleMatcher(examples)), texts)
    print(f"classified {len(texts):,} items, one process, batches of {BATCH}:")
    print(f"  rules only:                     {rules_only:>8,.0f} items/s (target >= 5,000/s)")
    print(f"  rules + 100 labelled examples:  {with_examples:>8,.0f} items/s (target >= 5,000/s)")


if __name__ == "__main__":
    main()
