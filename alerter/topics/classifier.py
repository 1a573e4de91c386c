"""Deciding an item's topics, and saying why. A topic with labelled examples is decided by the
learned model (`alerter.topics.model`), whose features include the taxonomy's phrases; a topic
without them by the taxonomy's points alone (`alerter.topics.rules`). Items staff corrected
then apply to items much like them (`alerter.topics.examples`). Pure: no database, no I/O."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerter.topics.evidence import Evidence, Text, describe
from alerter.topics.examples import ExampleMatcher, LabelledExample
from alerter.topics.matching import Token, tokenise
from alerter.topics.model import TopicModel, explain
from alerter.topics.rules import Rules
from alerter.topics.taxonomy import Taxonomy

__all__ = ["Classification", "Classifier", "Evidence", "Text", "describe"]


@dataclass(frozen=True)
class Classification:
    topics: tuple[str, ...]  # in taxonomy order
    evidence: Mapping[str, tuple[Evidence, ...]]  # for each assigned topic

    def public(self) -> dict[str, Any]:
        return {
            "topics": list(self.topics),
            "evidence": {
                topic: [e.public() for e in self.evidence[topic]] for topic in self.topics
            },
        }


class Classifier:
    """The taxonomy's rules, the model learned for it, and staff-labelled examples."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        model: TopicModel | None = None,
        examples: ExampleMatcher | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.model = model
        self.examples = examples
        self._rules = Rules(taxonomy)
        learned = {topic: i for i, topic in enumerate(model.topics)} if model else {}
        # Each topic with the model's index for it, or None where the rules decide.
        self._topics = [(topic, learned.get(topic.id)) for topic in taxonomy.topics]

    @property
    def basis(self) -> tuple[Taxonomy, str | None, tuple[LabelledExample, ...]]:
        """What it was built from: two classifiers with the same basis classify alike."""
        return (
            self.taxonomy,
            self.model.fingerprint if self.model else None,
            self.examples.examples if self.examples else (),
        )

    def classify(self, text: Text) -> Classification:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[Text]) -> list[Classification]:
        tokenised = [(tokenise(text.title), tokenise(text.summary)) for text in texts]
        by_rules = [
            self._rules.evidence(text, title, summary)
            for text, (title, summary) in zip(texts, tokenised, strict=True)
        ]
        decided = [self._by_rules(evidence) for evidence in by_rules]
        if self.model is not None and texts:
            self._by_model(self.model, texts, tokenised, by_rules, decided)
        if self.examples is not None and self.examples.active:
            neighbours = self.examples.neighbours(
                [[token.norm for token in title + summary] for title, summary in tokenised]
            )
            for evidence, nearby in zip(decided, neighbours, strict=True):
                for neighbour in nearby:
                    if neighbour.keep:
                        evidence.setdefault(neighbour.topic, []).append(
                            Evidence(
                                "example",
                                neighbour.example.title,
                                f"item {neighbour.example.item_id}",
                                round(neighbour.similarity, 2),
                            )
                        )
                    else:  # staff removed it from a very similar item
                        evidence.pop(neighbour.topic, None)
        return [self._classification(evidence) for evidence in decided]

    def _by_rules(self, evidence: dict[str, list[Evidence]]) -> dict[str, list[Evidence]]:
        """The topics the model does not decide whose taxonomy points reach their threshold."""
        return {
            topic.id: evidence[topic.id]
            for topic, index in self._topics
            if index is None
            and evidence.get(topic.id)
            and self._rules.passes(topic, evidence[topic.id])
        }

    def _by_model(
        self,
        model: TopicModel,
        texts: Sequence[Text],
        tokenised: list[tuple[list[Token], list[Token]]],
        by_rules: list[dict[str, list[Evidence]]],
        decided: list[dict[str, list[Evidence]]],
    ) -> None:
        """Add the topics the model gives each text, with their evidence."""
        vectors = [
            model.encode(text, title, summary, evidence)
            for text, (title, summary), evidence in zip(texts, tokenised, by_rules, strict=True)
        ]
        scores = model.scores(vectors)
        given = scores >= model.thresholds
        for row, (text, (title, summary)) in enumerate(zip(texts, tokenised, strict=True)):
            for topic, index in self._topics:
                if index is None or not given[row, index]:
                    continue
                explained = explain(
                    model,
                    index,
                    vectors[row],
                    text,
                    title,
                    summary,
                    self._rules,
                    by_rules[row],
                )
                if explained:  # a topic is never given without something to show for it
                    decided[row][topic.id] = explained

    def _classification(self, evidence: dict[str, list[Evidence]]) -> Classification:
        chosen = {
            topic.id: tuple(sorted(evidence[topic.id], key=lambda e: -e.points))
            for topic in self.taxonomy.topics
            if evidence.get(topic.id)
        }
        return Classification(tuple(chosen), chosen)
