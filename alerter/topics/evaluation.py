"""Precision, recall and F1 of topic predictions against labelled examples; the naive keyword
baseline the classifier is measured against; cross-validated predictions on the shipped
labelled sets, for judging a change to the taxonomy before it is saved. Pure."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerter.topics.classifier import Classifier
from alerter.topics.evidence import Text
from alerter.topics.examples import LabelledExample, LabelledText, shipped_labelled
from alerter.topics.model import shipped_model, train
from alerter.topics.taxonomy import Taxonomy

CROSS_VALIDATION_FOLDS = 5

# One line of obvious keywords per topic, matched as substrings of the lower-cased title and
# summary: what anyone would write first. The classifier has to beat it to be worth having.
NAIVE_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "trade-agreements": (
        "trade agreement", "trade deal", "free trade", "fta", "memorandum of understanding",
        "mou", "trade talks", "negotiation",
    ),
    "tariffs": ("tariff", "duty", "duties", "anti-dumping", "safeguard", "quota", "trade remed"),
    "recycling": ("recycl", "scrap", "waste", "circular economy"),
    "critical-minerals": (
        "critical mineral", "lithium", "cobalt", "rare earth", "graphite", "mining",
    ),
    "energy": ("energy", "electricity", "gas price", "power"),
    "net-zero": (
        "net zero", "net-zero", "decarbon", "emission", "carbon", "hydrogen", "green steel",
    ),
    "funding": ("fund", "grant", "£", "investment"),
    "consultations": ("consultation", "call for evidence", "have your say", "views"),
    "events": ("conference", "event", "webinar", "expo", "exhibition", "summit", "award"),
    "skills": ("skill", "apprentice", "training", "workforce", "careers"),
}  # fmt: skip


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


def side_by_side(reports: Mapping[str, Report]) -> list[str]:
    """Several reports on the same topics as one table: precision, recall and F1 of each."""
    names = list(reports)
    first = reports[names[0]]
    header = f"{'':<20}" + "".join(f" {name:^22}" for name in names)
    columns = f"{'topic':<20}" + " ".join(f"{'P':>6} {'R':>7} {'F1':>7}" for _ in names)
    rows = [header, columns]
    for position, topic in enumerate(first.topics):
        cells = [reports[name].topics[position] for name in names]
        rows.append(
            f"{topic.topic:<20}"
            + " ".join(f"{c.precision:>6.3f} {c.recall:>7.3f} {c.f1:>7.3f}" for c in cells)
        )
    rows.append(
        f"{'macro-F1':<20}"
        + " ".join(f"{'':>6} {'':>7} {reports[name].macro_f1:>7.3f}" for name in names)
    )
    return rows


def labelled_scores(
    classifier: Classifier, labelled: Sequence[LabelledText], *, baseline: bool = False
) -> list[str]:
    """The classifier's precision, recall and F1 per topic on labelled items, as lines; with
    `baseline`, the naive keywords' beside them."""
    ids = classifier.taxonomy.ids
    expected = [item.topics for item in labelled]
    predicted = [c.topics for c in classifier.classify_many([item.text for item in labelled])]
    report = evaluate(ids, expected, predicted)
    if not baseline:
        return report.lines()
    naive = [naive_topics(item.text, ids) for item in labelled]
    return side_by_side({"classifier": report, "naive keywords": evaluate(ids, expected, naive)})


def cross_validated(
    taxonomy: Taxonomy,
    labelled: Sequence[LabelledText],
    corrections: Sequence[LabelledExample] = (),
) -> list[tuple[str, ...]]:
    """Each labelled item's topics as a classifier trained without it would give them: the
    items are split into folds, and each fold is classified by a model trained on the others
    (and on the corrections). How the taxonomy would do on news it has not seen."""
    predicted: list[tuple[str, ...]] = [()] * len(labelled)
    for fold in range(CROSS_VALIDATION_FOLDS):
        held_out = range(fold, len(labelled), CROSS_VALIDATION_FOLDS)
        training = [item for i, item in enumerate(labelled) if i % CROSS_VALIDATION_FOLDS != fold]
        classifier = Classifier(taxonomy, train(taxonomy, training, corrections))
        classified = classifier.classify_many([labelled[i].text for i in held_out])
        for i, classification in zip(held_out, classified, strict=True):
            predicted[i] = classification.topics
    return predicted


def quality_report(
    taxonomies: Mapping[str, Taxonomy],
    corrections: Sequence[LabelledExample],
    files: Sequence[tuple[object, Sequence[LabelledText]]] = (),
) -> list[str]:
    """Per-topic precision, recall and F1 of each named taxonomy (today's, a proposed one):
    cross-validated on the shipped labelled sets, then on each labelled file given; and, for a
    second taxonomy, the shipped items whose topics it would change."""
    named = list(taxonomies.items())
    ids = list(dict.fromkeys(i for _, taxonomy in named for i in taxonomy.ids))
    shipped = shipped_labelled()
    expected = [item.topics for item in shipped]
    predictions = {name: cross_validated(t, shipped, corrections) for name, t in named}
    lines = [
        f"shipped labelled sets ({len(shipped)} items), each fifth classified by a model "
        "trained on the rest:"
    ]
    lines += side_by_side({name: evaluate(ids, expected, p) for name, p in predictions.items()})
    if len(named) > 1:
        lines += changed_items(ids, shipped, predictions[named[0][0]], predictions[named[1][0]])
    for label, items in files:
        lines.append(f"{label} ({len(items)} items), classified as the product would:")
        reports = {}
        for name, taxonomy in named:
            classifier = Classifier(taxonomy, shipped_model(taxonomy, tuple(corrections)))
            topics = [c.topics for c in classifier.classify_many([item.text for item in items])]
            reports[name] = evaluate(ids, [item.topics for item in items], topics)
        lines += side_by_side(reports)
    return lines


def changed_items(
    topic_ids: Sequence[str],
    labelled: Sequence[LabelledText],
    before: Sequence[Iterable[str]],
    after: Sequence[Iterable[str]],
    *,
    shown: int = 5,
) -> list[str]:
    """Per topic, the items that would gain or lose it, and whether their labels agree."""
    lines = ["items whose topics would change (✓ the change agrees with the item's labels):"]
    for topic in topic_ids:
        gained = [
            item
            for item, b, a in zip(labelled, before, after, strict=True)
            if topic in a and topic not in b
        ]
        lost = [
            item
            for item, b, a in zip(labelled, before, after, strict=True)
            if topic in b and topic not in a
        ]
        if not gained and not lost:
            continue
        right = sum(topic in item.topics for item in gained) + sum(
            topic not in item.topics for item in lost
        )
        lines.append(f"  {topic}: gains {len(gained)}, loses {len(lost)}; {right} of them right")
        for sign, items, agrees in (("+", gained, True), ("-", lost, False)):
            for item in items[:shown]:
                mark = "✓" if (topic in item.topics) == agrees else "✗"
                lines.append(f"    {sign} {mark} {item.title}")
    if len(lines) == 1:
        lines.append("  none")
    return lines


def naive_topics(text: Text, topic_ids: Iterable[str]) -> set[str]:
    """The topics whose naive keywords occur anywhere in the text."""
    words = f"{text.title} {text.summary}".lower()
    return {
        topic
        for topic in topic_ids
        if any(keyword in words for keyword in NAIVE_KEYWORDS.get(topic, ()))
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 1.0
