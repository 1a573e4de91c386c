"""The learned part of classification: for each topic, a logistic regression over an item's
words (and their beginnings), its pairs of adjacent words, a sum of money, the taxonomy's
phrases found in it (after their exclusions and vetoes; their points, and whether any is strong)
and its metadata (GOV.UK content type and organisation, a publisher's document type). It is trained
from the labelled examples the repository ships and from staff corrections, deterministically,
in a few seconds.

Why this model: real headlines name a topic in words no phrase list foresees ("cash injection",
"kerbside"), and the taxonomy's phrases, though good evidence, misfire in contexts a list cannot
enumerate ("jobs at risk" is not skills news). A linear model learns how much each word and each
phrase counts, and against which topic, from examples; it stays fast (a sum of weights) and
explainable (each topic's largest contributions are its evidence).

Each topic's threshold is calibrated on cross-validated scores of the training examples (the
middle of the range where F1 is within 0.02 of its best), so topics with different amounts of
data get comparable precision and recall, and one new example does not swing it.
A topic with too few labelled examples (a topic staff just added) is left to the rules."""

import dataclasses
import hashlib
import logging
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence, Set
from functools import lru_cache
from importlib import metadata
from itertools import chain
from pathlib import Path
from typing import Any

from alerter.config import get_settings
from alerter.topics.evidence import Evidence, Text
from alerter.topics.examples import LabelledExample, LabelledText, shipped_labelled
from alerter.topics.matching import Token, tokenise
from alerter.topics.rules import STRONG_POINTS, Rules, govuk_facts, organisation_names
from alerter.topics.taxonomy import Taxonomy

log = logging.getLogger(__name__)

# A topic needs this many labelled positives before the model decides it instead of the rules.
MIN_POSITIVES = 8
# A staff correction counts as much as this many shipped examples: it is the association's own
# news, labelled by the people who know what members want.
CORRECTION_WEIGHT = 3.0
REGULARISATION = 1.0  # as scikit-learn's C: larger fits the training examples more closely
FOLDS = 5  # cross-validation folds for calibrating each topic's threshold
F1_TOLERANCE = 0.02  # how far below the best F1 a threshold may be and still be a candidate
# The taxonomy's points for a topic, as a feature: capped, and scaled so a strong phrase is 1.
RULE_POINTS_CAP = 6.0
RULE_POINTS_UNIT = 3.0
# A long word's first letters are a feature too, so forms the examples never showed count
# ("decarbonising" like "decarbonisation", "recyclers" like "recycling").
STEM_LETTERS = 5
_WORD_KINDS = ("w:", "t:", "s:", "b:")  # features that are the item's own words
# Evidence shown per topic: its largest contributions, down to this size.
MAX_EVIDENCE = 5
MIN_CONTRIBUTION = 0.05
WORD_CACHE_SIZE = 100_000  # distinct words a model remembers the feature rows of

# Words too common to be evidence on their own (they still count in pairs: "call for evidence").
STOP_WORDS = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "been", "by", "for", "from", "has", "have",
        "in", "into", "is", "it", "its", "new", "of", "on", "or", "our", "over", "that", "the",
        "their", "this", "to", "up", "was", "we", "were", "will", "with", "after", "more", "than",
    )
)  # fmt: skip
# A sum of money as headlines write it: "£149m", "$50 million", "EUR 20m", and in words, "a
# multibillion pound plan", "a million-pound boost", "20 million euros".
_MONEY = re.compile(
    r"[£$€]\s?\d[\d,.]*(?:\s?(?:bn|billion|mn|m|million|k)\b)?|\b(?:GBP|EUR|USD)\s?\d[\d,.]*"
    r"|\b(?:multi-?)?(?:million|billion)[- ]pounds?\b"
    r"|\b\d[\d,.]*\s?(?:bn|billion|mn|m|million)\s(?:pounds|euros|dollars)\b",
    re.IGNORECASE,
)
# What any sum _MONEY finds contains, besides a currency sign.
_MONEY_WORDS = ("illion", "pound", "eur", "dollar", "gbp", "usd")
_DIGIT = re.compile(r"\d")
NUMBER = "<number>"  # how every number reads as a feature: "£149m" and "£12m" alike

Features = dict[str, float]


@lru_cache(maxsize=65536)
def feature_word(norm: str) -> str:
    """A normalised word as the model reads it; numbers are all one word."""
    return NUMBER if _DIGIT.search(norm) else norm


@lru_cache(maxsize=65536)
def _word_features(norm: str) -> tuple[str, str | None, str, str | None]:
    """The word as the model reads it, and its features (none for a common word): anywhere,
    in the title, and its beginning (for a long word)."""
    word = feature_word(norm)
    if word in STOP_WORDS:
        return word, None, "t:" + word, None
    stem = "s:" + word[:STEM_LETTERS] if len(word) > STEM_LETTERS + 1 else None
    return word, "w:" + word, "t:" + word, stem


@lru_cache(maxsize=262144)
def _pair_feature(previous: str, word: str) -> str | None:
    """Two adjacent words as one feature, unless both are common words."""
    return None if previous in STOP_WORDS and word in STOP_WORDS else f"b:{previous} {word}"


def features(
    text: Text,
    title: list[Token],
    summary: list[Token],
    rules: Mapping[str, list[Evidence]],
) -> Features:
    """What the model reads of one item (each feature is present or not)."""
    found: Features = {}
    for in_title, tokens in ((True, title), (False, summary)):
        previous = None
        for token in tokens:
            word, anywhere, in_the_title, stem = _word_features(token.norm)
            if anywhere is not None:
                found[anywhere] = 1.0
                if in_title:
                    found[in_the_title] = 1.0
                if stem is not None:
                    found[stem] = 1.0
            if previous is not None:
                pair = _pair_feature(previous, word)
                if pair is not None:
                    found[pair] = 1.0
            previous = word
    found.update((name, 1.0) for name in _money_features(text))
    found.update(_rule_features(rules))
    if text.metadata:
        found.update((name, 1.0) for name in _metadata_features(text.metadata))
    return found


def word_positions(
    title: list[Token], summary: list[Token], wanted: Set[str]
) -> dict[str, tuple[bool, int]]:
    """Where each of the wanted word features first appears in an item: (in the title, position
    of its first word). Only explaining needs it, for a topic's few largest contributions."""
    positions: dict[str, tuple[bool, int]] = {}
    pairs = {tuple(f[2:].split(" ")) for f in wanted if f.startswith("b:")}
    needed = sum(f[:2] in _WORD_KINDS for f in wanted)
    for in_title, tokens in ((True, title), (False, summary)):
        previous = None
        for i, token in enumerate(tokens):
            word, anywhere, in_the_title, stem = _word_features(token.norm)
            if anywhere is not None:
                for feature in (anywhere, in_the_title, stem):
                    if feature is not None and feature in wanted and feature not in positions:
                        positions[feature] = (in_title, i)
            if previous is not None and (previous, word) in pairs:
                positions.setdefault(f"b:{previous} {word}", (in_title, i - 1))
            if len(positions) == needed:
                return positions  # the rest of the item can only repeat them
            previous = word
    return positions


def _money_features(text: Text) -> list[str]:
    """Whether the item names a sum of money, in figures or in words."""
    return ["money"] if _names_money(text.title) or _names_money(text.summary) else []


def _names_money(field: str) -> bool:
    # Most fields have none of what a sum needs, and these tests are much cheaper than the search.
    lower = field.lower()
    if not any(sign in field for sign in "£$€") and not any(word in lower for word in _MONEY_WORDS):
        return False
    return _MONEY.search(field) is not None


def _rule_features(rules: Mapping[str, list[Evidence]]) -> list[tuple[str, float]]:
    """The taxonomy's evidence as features: each topic's points (capped), whether any of it is
    strong, and each phrase or metadata found."""
    found = []
    for topic_id, evidence in rules.items():
        points = sum(e.points for e in evidence)
        found.append(("rule:" + topic_id, min(points, RULE_POINTS_CAP) / RULE_POINTS_UNIT))
        if any(e.points >= STRONG_POINTS for e in evidence):
            # A strong phrase or a content type: nearly decisive whatever else the item says.
            found.append(("strong:" + topic_id, 1.0))
        found += [(f"p:{topic_id}:{e.text}", 1.0) for e in evidence]
    return found


def _metadata_features(metadata: Mapping[str, Any]) -> list[str]:
    content_types, organisations = govuk_facts(metadata)
    return ["type:" + t for t in content_types] + ["org:" + o for o in organisations]


class TopicModel:
    """Learned weights for the topics that had enough examples; scores are log-odds."""

    def __init__(
        self,
        topics: tuple[str, ...],
        features: tuple[str, ...],
        coefficients: Any,
        bias: Any,
        thresholds: Any,
        fingerprint: str,
    ) -> None:
        self.topics = topics  # the topics learned, in taxonomy order
        self.features = features  # the name of each row of coefficients
        self.coefficients = coefficients  # numpy array, one row per feature, one column per topic
        self.bias = bias
        self.thresholds = thresholds  # the score at or above which each topic is given
        self.fingerprint = fingerprint  # of what it was trained from: equal inputs, equal models
        self._columns = {name: i for i, name in enumerate(features)}
        # Per normalised word: the word as the model reads it, and the rows of its features
        # (anywhere, in the title, its beginning; None where the model has none). Texts share
        # most of their words, so each is looked up once.
        self._words: dict[str, tuple[str, int | None, int | None, int | None]] = {}

    def encode(
        self,
        text: Text,
        title: list[Token],
        summary: list[Token],
        rules: Mapping[str, list[Evidence]],
    ) -> tuple[list[int], list[float]]:
        """The item's `features` that the model knows, as their rows in the coefficients and
        their values; classifying's fast path, which never names a feature the model lacks."""
        found: dict[int, float] = {}
        columns, words = self._columns, self._words
        get = columns.get
        for in_title, tokens in ((True, title), (False, summary)):
            previous = None
            for token in tokens:
                known = words.get(token.norm)
                if known is None:
                    known = self._word(token.norm)
                word, anywhere, in_the_title, stem = known
                if anywhere is not None:
                    found[anywhere] = 1.0
                if in_title and in_the_title is not None:
                    found[in_the_title] = 1.0
                if stem is not None:
                    found[stem] = 1.0
                if previous is not None and (previous not in STOP_WORDS or word not in STOP_WORDS):
                    pair = get(f"b:{previous} {word}")
                    if pair is not None:
                        found[pair] = 1.0
                previous = word
        for name in _money_features(text):
            column = get(name)
            if column is not None:
                found[column] = 1.0
        for name, value in _rule_features(rules):
            column = get(name)
            if column is not None:
                found[column] = value
        if text.metadata:
            for name in _metadata_features(text.metadata):
                column = get(name)
                if column is not None:
                    found[column] = 1.0
        return list(found), list(found.values())

    def _word(self, norm: str) -> tuple[str, int | None, int | None, int | None]:
        word, anywhere, in_the_title, stem = _word_features(norm)
        get = self._columns.get
        known = (
            (word, get(anywhere), get(in_the_title), get(stem) if stem else None)
            if anywhere is not None
            else (word, None, None, None)
        )
        if len(self._words) < WORD_CACHE_SIZE:
            self._words[norm] = known
        return known

    def scores(self, rows: Sequence[tuple[list[int], list[float]]]) -> Any:
        """Every topic's score for each vectorised item (an array, items by topics)."""
        import numpy as np
        from scipy.sparse import csr_matrix

        values = np.fromiter(chain.from_iterable(v for _, v in rows), dtype=float)
        columns = np.fromiter(chain.from_iterable(c for c, _ in rows), dtype=np.int32)
        matrix = csr_matrix(
            (values, columns, np.cumsum([0] + [len(c) for c, _ in rows], dtype=np.int32)),
            shape=(len(rows), len(self.features)),
        )
        matrix.sort_indices()  # so every process adds each item's weights in the same order
        return matrix @ self.coefficients + self.bias

    def contributions(
        self, columns: list[int], values: list[float], index: int
    ) -> list[tuple[str, float]]:
        """The features that raised this topic's score most, largest first."""
        import numpy as np

        rows = np.array(columns, dtype=np.intp)
        points = self.coefficients[rows, index] * np.array(values)
        raised = np.flatnonzero(points >= MIN_CONTRIBUTION)
        # Largest first, ties in feature order; more than can be shown: some merge into one
        # piece of evidence.
        ranked = raised[np.lexsort((rows[raised], -points[raised]))][: 2 * MAX_EVIDENCE]
        return [(self.features[rows[k]], float(points[k])) for k in ranked]


def explain(
    model: TopicModel,
    index: int,
    vector: tuple[list[int], list[float]],
    text: Text,
    title: list[Token],
    summary: list[Token],
    rules: Rules,
    by_rules: Mapping[str, list[Evidence]],
) -> list[Evidence]:
    """A topic's largest contributions as evidence members can read: the item's own words, the
    taxonomy's phrases, the sum of money, GOV.UK metadata."""
    topic_id = model.topics[index]
    contributions = model.contributions(*vector, index)
    positions = word_positions(title, summary, {feature for feature, _ in contributions})
    # Each piece: kind, text, where, points, and the words it covers (exactly, or by how they
    # start), so a word already shown in a phrase adds to that phrase instead of repeating.
    pieces: list[list[Any]] = []
    for feature, points in contributions:
        kind, _, rest = feature.partition(":")
        if kind in ("w", "t", "b", "s"):
            position = positions.get(feature)
            if position is None:
                continue
            in_title, start = position
            if kind == "s":  # the word that begins this way
                wanted = [feature_word((title if in_title else summary)[start].norm)]
            else:
                wanted = rest.split(" ") if kind == "b" else [rest]
            if all(w == NUMBER or w in STOP_WORDS for w in wanted):
                continue  # a number alone says nothing; the sum of money is shown instead
            where = "title" if in_title else "summary"
            covering = None
            for piece in pieces:
                if piece[2] == where and _covered(wanted, piece[4], piece[5]):
                    covering = piece
                    break
            if covering is not None:
                covering[3] += points
                continue
            tokens = (title if in_title else summary)[start : start + len(wanted)]
            written = _as_written(text.title if in_title else text.summary, tokens)
            new = [["words", written, where, points, wanted, ()]]
        elif kind in ("rule", "strong", "p"):
            phrases = by_rules.get(topic_id, ())
            if kind == "p":
                phrases = [e for e in phrases if e.text == rest][:1]
            elif kind == "strong":
                phrases = [e for e in phrases if e.points >= STRONG_POINTS]
            total = sum(e.points for e in phrases) or 1.0
            new = [
                [e.kind, e.text, e.where, points * e.points / total, *rules.words_of(e.text)]
                for e in phrases
            ]
        elif kind == "money":
            where, written = _money_in(text)
            new = [["words", written, where, points, (), ()]]
        elif kind == "type":
            new = [["metadata", rest, "content type", points, (), ()]]
        elif kind == "org":
            name = organisation_names(text.metadata).get(rest, rest)
            new = [["metadata", name, "organisation", points, (), ()]]
        else:
            continue
        for piece in new:
            for same in pieces:
                if same[0] == piece[0] and same[1] == piece[1] and same[2] == piece[2]:
                    same[3] += piece[3]
                    break
            else:
                if len(pieces) < MAX_EVIDENCE:
                    pieces.append(piece)
        if len(pieces) >= MAX_EVIDENCE:
            break
    pieces.sort(key=lambda piece: -piece[3])
    return [
        Evidence(kind, words, where, round(points, 2)) for kind, words, where, points, *_ in pieces
    ]


def _as_written(field: str, tokens: list[Token]) -> str:
    """The words as the item writes them ("energy-from-waste"), less a common word at either
    end of a pair ("Masterclass for" is shown as "Masterclass")."""
    while len(tokens) > 1 and feature_word(tokens[-1].norm) in STOP_WORDS:
        tokens = tokens[:-1]
    while len(tokens) > 1 and feature_word(tokens[0].norm) in STOP_WORDS:
        tokens = tokens[1:]
    if len(tokens) == 1:
        return tokens[0].word
    spaced = " ".join(t.word for t in tokens)
    if spaced in field:
        return spaced
    found = re.search(r"\W+".join(re.escape(t.word) for t in tokens), field)
    return found.group(0) if found else spaced


def _covered(wanted: list[str], exact: Any, prefixes: tuple[str, ...]) -> bool:
    for word in wanted:
        if word not in exact and not (prefixes and word.startswith(prefixes)):
            return False
    return True


def _money_in(text: Text) -> tuple[str, str]:
    for where, field in (("title", text.title), ("summary", text.summary)):
        found = _MONEY.search(field)
        if found:
            return where, found.group(0).strip()
    return "summary", ""


def train(
    taxonomy: Taxonomy,
    labelled: Sequence[LabelledText],
    corrections: Sequence[LabelledExample] = (),
) -> TopicModel:
    """Learn each topic with enough examples; the same inputs always give the same model."""
    # Imported here: a classifier found in the memo (every poll cycle after the first) needs
    # none of them.
    import numpy as np
    from scipy.sparse import csr_matrix

    rules = Rules(taxonomy)
    texts = [item.text for item in labelled] + [example.text for example in corrections]
    rows = []
    for text in texts:
        title, summary = tokenise(text.title), tokenise(text.summary)
        rows.append(features(text, title, summary, rules.evidence(text, title, summary)))
    names = sorted({f for row in rows for f in row})
    vocabulary = {name: i for i, name in enumerate(names)}
    ordered = [sorted(row) for row in rows]
    matrix = csr_matrix(
        (
            np.array([rows[r][f] for r, row in enumerate(ordered) for f in row], dtype=float),
            np.array([vocabulary[f] for row in ordered for f in row], dtype=np.int32),
            np.cumsum([0] + [len(row) for row in ordered], dtype=np.int32),
        ),
        shape=(len(rows), max(len(names), 1)),
    )
    # Per topic: each row's target, and its weight (0 where a row says nothing of the topic:
    # a correction of another topic).
    learned, targets, weights = [], [], []
    for topic in taxonomy.topics:
        target = [topic.id in item.topics for item in labelled] + [
            topic.id in example.added for example in corrections
        ]
        weight = [1.0] * len(labelled) + [
            CORRECTION_WEIGHT if topic.id in example.added | example.removed else 0.0
            for example in corrections
        ]
        positives = sum(t for t, w in zip(target, weight, strict=True) if w)
        negatives = sum(not t for t, w in zip(target, weight, strict=True) if w)
        if positives >= MIN_POSITIVES and negatives:
            learned.append(topic.id)
            targets.append(target)
            weights.append(weight)
    y = np.array(targets, dtype=float).T.reshape(len(rows), len(learned))
    w = np.array(weights, dtype=float).T.reshape(len(rows), len(learned))
    coefficients, bias = _fit(matrix, y, w)
    thresholds = _calibrated_thresholds(matrix, y, w, np.array([_fold(text) for text in texts]))
    return TopicModel(
        topics=tuple(learned),
        features=tuple(names),
        coefficients=coefficients,
        bias=bias,
        thresholds=np.array(thresholds),
        fingerprint=_fingerprint(taxonomy, labelled, corrections),
    )


def _fit(x: Any, y: Any, w: Any) -> tuple[Any, Any]:
    """L2-regularised logistic regression for every topic (column of y) at once, each class
    weighted to count as much as the other: (coefficients, one column per topic; biases).
    Newton's method with conjugate gradients: a dozen steps, each a few sparse products."""
    import numpy as np
    from scipy.optimize import minimize

    width, topics = x.shape[1], y.shape[1]
    positive = (w * y).sum(axis=0)
    negative = (w * (1 - y)).sum(axis=0)
    total = positive + negative
    balanced = w * np.where(
        y > 0, total / (2 * np.maximum(positive, 1e-9)), total / (2 * np.maximum(negative, 1e-9))
    )
    sign = 2 * y - 1
    transposed = x.T.tocsr()

    def split(parameters: Any) -> tuple[Any, Any]:
        return parameters[: width * topics].reshape(width, topics), parameters[width * topics :]

    def margins(parameters: Any) -> Any:
        coefficients, bias = split(parameters)
        return np.clip(sign * (x @ coefficients + bias), -500, 500)

    def loss(parameters: Any) -> tuple[float, Any]:
        coefficients, _ = split(parameters)
        margin = margins(parameters)
        value = float((balanced * np.logaddexp(0, -margin)).sum())
        value += 0.5 / REGULARISATION * float((coefficients**2).sum())
        slope = -balanced * sign / (1 + np.exp(margin))
        gradient = (transposed @ slope + coefficients / REGULARISATION).ravel()
        return value, np.concatenate([gradient, slope.sum(axis=0)])

    def curvature(parameters: Any, direction: Any) -> Any:
        probability = 1 / (1 + np.exp(-margins(parameters)))
        coefficients, bias = split(direction)
        change = balanced * probability * (1 - probability) * (x @ coefficients + bias)
        product = (transposed @ change + coefficients / REGULARISATION).ravel()
        return np.concatenate([product, change.sum(axis=0)])

    result = minimize(
        loss, np.zeros(width * topics + topics), jac=True, hessp=curvature, method="Newton-CG"
    )
    return split(result.x)


def _calibrated_thresholds(x: Any, y: Any, w: Any, folds: Any) -> list[float]:
    """Per topic, a score above which F1 is (nearly) highest on held-out folds of the examples:
    the median of the cut points within F1_TOLERANCE of the best. The F1 curve is flat near its
    top, so its single highest point moves with any one example; the plateau's middle does not."""
    import numpy as np

    scores = np.zeros(y.shape)
    for fold in range(FOLDS):
        held_out = np.flatnonzero(folds == fold)
        kept = np.flatnonzero(folds != fold)
        coefficients, bias = _fit(x[kept], y[kept], w[kept])
        scores[held_out] = x[held_out] @ coefficients + bias
    thresholds = []
    for topic in range(y.shape[1]):
        counted = w[:, topic] > 0
        topic_scores, target, weight = scores[counted, topic], y[counted, topic], w[counted, topic]
        ranked = np.argsort(-topic_scores, kind="stable")
        true_positives = np.cumsum(target[ranked] * weight[ranked])
        f1 = 2 * true_positives / (np.cumsum(weight[ranked]) + (target * weight).sum())
        ranked_scores = topic_scores[ranked]
        # Each cut point halfway to the next score down: a new item scoring like the last one
        # kept is kept.
        below = np.append(ranked_scores[1:], ranked_scores[-1] - 1)
        cuts = (ranked_scores + below) / 2
        thresholds.append(float(np.median(cuts[f1 >= f1.max() - F1_TOLERANCE])))
    return thresholds


def _fold(text: Text) -> int:
    """The cross-validation fold an example falls in, by its own words: adding examples leaves
    every other example in its fold, so thresholds move only as much as the new examples move
    them (a shuffle of all rows would deal every example afresh)."""
    digest = hashlib.sha256(f"{text.title}\n{text.summary}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % FOLDS


def _fingerprint(
    taxonomy: Taxonomy, labelled: Sequence[LabelledText], corrections: Sequence[LabelledExample]
) -> str:
    # Sets written sorted: the fingerprint is the same in every process, whatever its hash seed.
    digest = hashlib.sha256(repr(_canonical(taxonomy)).encode())
    for item in labelled:
        digest.update(repr((item.title, item.summary, sorted(item.topics))).encode())
        digest.update(repr(sorted(item.metadata.items(), key=str)).encode())
    for example in corrections:
        digest.update(repr(_canonical(example)).encode())
    return digest.hexdigest()[:16]


def _canonical(value: Any) -> Any:
    """The value with every set in it sorted, and dataclasses as their fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__name__, *(_canonical(getattr(value, f.name)) for f in fields))
    if isinstance(value, (set, frozenset)):
        return ("set", *sorted(map(_canonical, value), key=repr))
    if isinstance(value, (list, tuple)):
        return tuple(map(_canonical, value))
    if isinstance(value, dict):
        return ("dict", *sorted(((k, _canonical(v)) for k, v in value.items()), key=repr))
    return value


@lru_cache(maxsize=4)
def shipped_model(taxonomy: Taxonomy, corrections: tuple[LabelledExample, ...] = ()) -> TopicModel:
    """The model trained from the shipped labelled sets (and these corrections). Training takes
    seconds, so each model is trained once per machine and kept in ALERTER_CACHE_DIR, where
    any later process (a command, the worker restarting) reads it in milliseconds."""
    labelled = shipped_labelled()
    path = get_settings().cache_dir / f"topic-model-{_cache_key(taxonomy, labelled, corrections)}"
    try:
        with path.open("rb") as cached:
            model = pickle.load(cached)
        if isinstance(model, TopicModel):
            return model
    except FileNotFoundError:
        pass
    except Exception as error:  # a file cut short or from an incompatible version: train anew
        log.warning("topic model cache %s unreadable (%r); training again", path, error)
    model = train(taxonomy, labelled, corrections)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written aside and renamed: a process reading it never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as written:
            pickle.dump(model, written, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(written.name, path)
    except OSError as error:
        log.warning("topic model not kept in %s (%s); it is trained in each process", path, error)
    return model


def _cache_key(
    taxonomy: Taxonomy, labelled: Sequence[LabelledText], corrections: Sequence[LabelledExample]
) -> str:
    """What a trained model depends on: its inputs, the code, and the numerical libraries."""
    digest = hashlib.sha256(_fingerprint(taxonomy, labelled, corrections).encode())
    # The topics stage's code: when any of it changes, the model is trained again.
    for code in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(code.read_bytes())
    for library in ("numpy", "scipy"):
        digest.update(f"{library} {metadata.version(library)}".encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:24]
