"""Benchmark: items classified per second on one core, with the shipped classifier (the
taxonomy's rules and the model learned from the shipped labelled sets), evidence included.

Classifies the shipped labelled sets' and the held-out test set's titles and summaries
(realistic lengths and vocabulary), repeated to 20,000 items, in batches of 500 as `alerter
classify` does: once as shipped, once with 100 staff-corrected items as labelled examples too.
Also prints how long training the model takes. Target: at least 5,000 items/s.

    .venv/bin/python -m bench.classify
"""

import time
from pathlib import Path

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.topics.classifier import Classifier, Text
from alerter.topics.examples import ExampleMatcher, LabelledExample, read_labelled, shipped_labelled
from alerter.topics.model import train
from alerter.topics.taxonomy import load_taxonomy

HELD_OUT = Path(__file__).parent.parent / "tests" / "fixtures" / "topics" / "heldout.jsonl"
ITEMS = 20_000
BATCH = 500


def load_texts() -> list[Text]:
    texts = [item.text for item in (*shipped_labelled(), *read_labelled(HELD_OUT))]
    return (texts * (ITEMS // len(texts) + 1))[:ITEMS]


def rate(classifier: Classifier, texts: list[Text]) -> tuple[float, float]:
    """Items per second by the clock, and per second of this process's own CPU time (what
    other processes on a busy machine do not inflate)."""
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), BATCH):
        classifier.classify_many(texts[start : start + BATCH])
    return len(texts) / (time.perf_counter() - started), len(texts) / (time.process_time() - cpu)


def main() -> None:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    texts = load_texts()
    started = time.perf_counter()
    model = train(taxonomy, shipped_labelled())
    trained = time.perf_counter() - started
    examples = [
        LabelledExample(n, t.title, t.summary, frozenset({"events"}), frozenset())
        for n, t in enumerate(texts[:100])
    ]
    print(f"trained on {len(shipped_labelled()):,} labelled items in {trained:.1f} s")
    print(f"classified {len(texts):,} items with evidence, one process, batches of {BATCH}")
    print("(items/s by the clock; per second of CPU time)   target >= 5,000/s")
    for name, classifier in (
        ("rules alone (for comparison)", Classifier(taxonomy)),
        ("as shipped", Classifier(taxonomy, model)),
        ("+ 100 staff-labelled examples", Classifier(taxonomy, model, ExampleMatcher(examples))),
    ):
        wall, cpu = rate(classifier, texts)
        print(f"  {name:<30} {wall:>8,.0f} items/s; {cpu:>8,.0f} items/CPU-s")


if __name__ == "__main__":
    main()
