"""The learned part of classification: items staff corrected become labelled examples, and a new
item much like one of them takes the topics staff gave it (or loses those staff removed).

Similarity is the cosine of TF-IDF vectors over normalised words, so the evidence can name the
example it came from."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alerter.matching import tokenise

if TYPE_CHECKING:
    from alerter.classifier import Evidence

# How alike two items must be (cosine, 0 to 1) for a correction on one to apply to the other.
SIMILARITY = 0.5


@dataclass(frozen=True)
class LabelledExample:
    item_id: int
    title: str
    text: str  # title and summary
    added: frozenset[str]  # topics staff put on the item
    removed: frozenset[str]  # topics staff took off it


def words_of(text: str) -> list[str]:
    """The normalised words similarity is computed on."""
    return [token.norm for token in tokenise(text)]


def _as_is(words: list[str]) -> list[str]:
    return words


class ExampleMatcher:
    """Finds, for each text, the labelled examples at least SIMILARITY alike."""

    def __init__(self, examples: Sequence[LabelledExample]) -> None:
        self.examples: tuple[LabelledExample, ...] = tuple(examples)
        self._vectoriser: Any = None
        self._matrix: Any = None
        if self.examples:
            # Imported here: scikit-learn takes a moment to load and most runs need none of it.
            from sklearn.feature_extraction.text import TfidfVectorizer

            # Texts arrive already split into normalised words (the rules needed them too).
            self._vectoriser = TfidfVectorizer(analyzer=_as_is, sublinear_tf=True, norm="l2")
            self._matrix = self._vectoriser.fit_transform([words_of(e.text) for e in self.examples])

    @property
    def active(self) -> bool:
        return bool(self.examples)

    def neighbours(self, texts: Sequence[list[str]]) -> list[list[tuple[str, "Evidence", bool]]]:
        """For each text (as `words_of` gives it): (topic, evidence, keep) from its most similar
        example per topic; keep is False when staff removed that topic from the example."""
        from alerter.classifier import Evidence

        if not self.examples or not texts:
            return [[] for _ in texts]
        similarities = (self._vectoriser.transform(list(texts)) @ self._matrix.T).toarray()
        results = []
        for row in similarities:
            best: dict[str, tuple[float, LabelledExample, bool]] = {}
            for index in row.argsort()[::-1]:
                similarity = float(row[index])
                if similarity < SIMILARITY:
                    break
                example = self.examples[index]
                for topic, keep in [(t, True) for t in example.added] + [
                    (t, False) for t in example.removed
                ]:
                    if topic not in best:
                        best[topic] = (similarity, example, keep)
            results.append(
                [
                    (
                        topic,
                        Evidence(
                            "example", example.title, f"item {example.item_id}", round(sim, 2)
                        ),
                        keep,
                    )
                    for topic, (sim, example, keep) in best.items()
                ]
            )
        return results
