"""Labelled examples, the classifier's teachers: the labelled sets the repository ships (written
for the project in the style of GOV.UK, trade bodies and the trade press), labelled files given
to `alerter classify --eval`, and the items staff corrected.

Staff corrections teach twice: at once, an item much like a corrected one takes the topics staff
gave it (or loses those staff removed), by the cosine of TF-IDF vectors over normalised words, so
the evidence can name the example; and, as they accumulate, they join the training of the
learned model (`alerter.topics.model`)."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from alerter.topics.evidence import Text
from alerter.topics.matching import tokenise

SHIPPED_DIR = Path(__file__).resolve().parent / "labelled"
# How alike two items must be (cosine, 0 to 1) for a correction on one to apply to the other.
SIMILARITY = 0.5


@dataclass(frozen=True)
class LabelledText:
    """An item with the topics it should have: a line of a labelled JSON-lines file."""

    title: str
    summary: str
    topics: frozenset[str]
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def text(self) -> Text:
        return Text(self.title, self.summary, self.metadata)


@dataclass(frozen=True)
class LabelledExample:
    """An item staff corrected: the topics they put on it and those they took off."""

    item_id: int
    title: str
    summary: str
    added: frozenset[str]
    removed: frozenset[str]

    @property
    def text(self) -> Text:
        return Text(self.title, self.summary)


class LabelledFileError(ValueError):
    """A labelled file cannot be read; the message names the file and line."""


def text_from_record(record: Any) -> Text | str:
    """A JSON record ({"title", "summary"?, "metadata"?}) as a Text, or why it is not one."""
    if not isinstance(record, dict):
        return "expected a JSON object with a title"
    title, summary = record.get("title"), record.get("summary", "")
    if not isinstance(title, str) or not title.strip():
        return "no title: each line needs a non-empty string `title`"
    if not isinstance(summary, str):
        return "`summary` must be a string"
    metadata = record.get("metadata")
    return Text(title, summary, metadata if isinstance(metadata, dict) else {})


def read_labelled(path: Path) -> list[LabelledText]:
    """Every line of a labelled JSON-lines file: a Text's fields and its `topics` list."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise LabelledFileError(f"{path}: {error.strerror}") from None
    labelled = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelledFileError(
                f"{path}, line {number}: not JSON: {error.msg} at column {error.colno}"
            ) from None
        text = text_from_record(record)
        if isinstance(text, str):
            raise LabelledFileError(f"{path}, line {number}: {text}")
        topics = record.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise LabelledFileError(f"{path}, line {number}: no `topics` list of topic ids")
        labelled.append(LabelledText(text.title, text.summary, frozenset(topics), text.metadata))
    return labelled


def shipped_files() -> list[Path]:
    return sorted(SHIPPED_DIR.glob("*.jsonl"))


@cache
def shipped_labelled() -> tuple[LabelledText, ...]:
    """The labelled sets the repository ships, in file order: what the model learns from."""
    return tuple(item for path in shipped_files() for item in read_labelled(path))


def words_of(text: str) -> list[str]:
    """The normalised words similarity is computed on."""
    return [token.norm for token in tokenise(text)]


def _as_is(words: list[str]) -> list[str]:
    return words


@dataclass(frozen=True)
class Neighbour:
    """The most similar corrected item for one topic, and what staff decided there."""

    topic: str
    example: LabelledExample
    similarity: float
    keep: bool  # False when staff removed the topic from the example


class ExampleMatcher:
    """Finds, for each text, the labelled examples at least SIMILARITY alike."""

    def __init__(self, examples: Sequence[LabelledExample]) -> None:
        self.examples: tuple[LabelledExample, ...] = tuple(examples)
        self._vectoriser: Any = None
        self._matrix: Any = None
        if self.examples:
            # Imported here: scikit-learn takes a moment to load and many runs need none of it.
            from sklearn.feature_extraction.text import TfidfVectorizer

            # Texts arrive already split into normalised words (the rules needed them too).
            self._vectoriser = TfidfVectorizer(analyzer=_as_is, sublinear_tf=True, norm="l2")
            self._matrix = self._vectoriser.fit_transform(
                [words_of(f"{e.title}\n{e.summary}") for e in self.examples]
            )

    @property
    def active(self) -> bool:
        return bool(self.examples)

    def neighbours(self, texts: Sequence[list[str]]) -> list[list[Neighbour]]:
        """For each text (as `words_of` gives it), its most similar example per topic."""
        if not self.examples or not texts:
            return [[] for _ in texts]
        similarities = (self._vectoriser.transform(list(texts)) @ self._matrix.T).toarray()
        results = []
        for row in similarities:
            best: dict[str, Neighbour] = {}
            for index in row.argsort(kind="stable")[::-1]:
                similarity = float(row[index])
                if similarity < SIMILARITY:
                    break
                example = self.examples[index]
                for topic, keep in [(t, True) for t in sorted(example.added)] + [
                    (t, False) for t in sorted(example.removed)
                ]:
                    if topic not in best:
                        best[topic] = Neighbour(topic, example, similarity, keep)
            results.append(list(best.values()))
        return results
