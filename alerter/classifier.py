"""Deciding an item's topics, and saying why: taxonomy phrases found in its title and summary,
GOV.UK metadata, and staff-labelled examples it resembles. Pure: no database, no I/O."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from alerter.examples import ExampleMatcher, LabelledExample
from alerter.matching import Phrase, PhraseSet, Token, tokenise
from alerter.topics import Taxonomy, Topic

STRONG_POINTS = 3.0
TITLE_POINTS = 2.0
SUMMARY_POINTS = 1.0
CONTENT_TYPE_POINTS = 3.0
ORGANISATION_POINTS = 1.0

PhraseRole = Literal["phrase", "strong", "exclude", "veto"]


@dataclass(frozen=True)
class Text:
    """What is classified: an item's title and summary, and any GOV.UK metadata."""

    title: str
    summary: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """One reason a topic was assigned (or, for staff and examples, removed)."""

    kind: Literal["phrase", "metadata", "example", "staff"]
    text: str  # the taxonomy phrase, metadata value, example's title or staff member
    where: str  # "title", "summary", "content type", "organisation", "item 12", "correction"
    points: float

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "where": self.where, "points": self.points}

    def describe(self) -> str:
        return describe(self.public())


def describe(evidence: Mapping[str, Any]) -> str:
    """One piece of stored evidence in words, for staff and for "why am I seeing this"."""
    kind, text, where = evidence.get("kind"), evidence.get("text"), evidence.get("where")
    if kind == "phrase":
        return f"“{text}” in the {where}"
    if kind == "metadata":
        return f"GOV.UK {where}: {text}"
    if kind == "example":
        return f"like {where} (“{text}”), which staff labelled"
    return f"set by staff ({text})"


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
    """The taxonomy's rules, plus staff-labelled examples when there are any."""

    def __init__(self, taxonomy: Taxonomy, examples: ExampleMatcher | None = None) -> None:
        self.taxonomy = taxonomy
        self.examples = examples
        # One index over every topic's phrases, so each text is scanned once.
        self._roles: defaultdict[Phrase, list[tuple[Topic, PhraseRole]]] = defaultdict(list)
        for topic in taxonomy.topics:
            for role, phrases in (
                ("phrase", topic.phrases),
                ("strong", topic.strong),
                ("exclude", topic.exclude),
                ("veto", topic.veto),
            ):
                for phrase in phrases:
                    self._roles[phrase].append((topic, role))  # type: ignore[arg-type]
        self._phrases = PhraseSet(list(self._roles))

    @property
    def basis(self) -> tuple[Taxonomy, tuple[LabelledExample, ...]]:
        """What it was built from: two classifiers with the same basis classify alike."""
        return self.taxonomy, tuple(self.examples.examples) if self.examples else ()

    def classify(self, text: Text) -> Classification:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[Text]) -> list[Classification]:
        tokenised = [(tokenise(text.title), tokenise(text.summary)) for text in texts]
        ruled = [
            self._by_rules(text, title, summary)
            for text, (title, summary) in zip(texts, tokenised, strict=True)
        ]
        if self.examples is None or not self.examples.active:
            return [self._decide(evidence) for evidence in ruled]
        neighbours = self.examples.neighbours(
            [[token.norm for token in title + summary] for title, summary in tokenised]
        )
        decided = []
        for evidence, nearby in zip(ruled, neighbours, strict=True):
            for topic_id, example_evidence, keep in nearby:
                if keep:
                    evidence.setdefault(topic_id, []).append(example_evidence)
                else:
                    evidence.pop(topic_id, None)  # staff removed it from a very similar item
            decided.append(self._decide(evidence, examples_decide=True))
        return decided

    def _decide(
        self, evidence: dict[str, list[Evidence]], *, examples_decide: bool = False
    ) -> Classification:
        chosen: dict[str, tuple[Evidence, ...]] = {}
        for topic in self.taxonomy.topics:
            found = evidence.get(topic.id)
            if not found:
                continue
            points = sum(e.points for e in found if e.kind != "example")
            by_example = examples_decide and any(e.kind == "example" for e in found)
            if points >= topic.threshold or by_example:
                chosen[topic.id] = tuple(sorted(found, key=lambda e: -e.points))
        return Classification(tuple(chosen), chosen)

    def _by_rules(
        self, text: Text, title: list[Token], summary: list[Token]
    ) -> dict[str, list[Evidence]]:
        """Each topic's evidence from phrases and metadata (before thresholds)."""
        fields = {"title": title, "summary": summary}
        matches = {name: self._phrases.find(tokens) for name, tokens in fields.items()}
        masked: defaultdict[str, set[tuple[str, int]]] = defaultdict(set)
        vetoed: set[str] = set()
        for name, found in matches.items():
            for phrase, start, end in found:
                for topic, role in self._roles[phrase]:
                    if role == "exclude":
                        masked[topic.id].update((name, i) for i in range(start, end))
                    elif role == "veto":
                        vetoed.add(topic.id)
        # Candidates per topic, strongest and longest first: a word already explained by a
        # better phrase ("critical minerals") adds nothing through a weaker one ("mineral*").
        candidates: defaultdict[str, list[tuple[bool, int, str, Phrase, int, int]]] = defaultdict(
            list
        )
        for name, found in matches.items():
            for phrase, start, end in found:
                for topic, role in self._roles[phrase]:
                    if role not in ("phrase", "strong") or (
                        role == "phrase" and topic.id in vetoed
                    ):
                        continue
                    if any((name, i) in masked[topic.id] for i in range(start, end)):
                        continue
                    candidates[topic.id].append(
                        (role == "strong", end - start, name, phrase, start, end)
                    )
        evidence: dict[str, list[Evidence]] = defaultdict(list)
        for topic_id, topic_candidates in candidates.items():
            used: set[tuple[str, int]] = set()
            seen: set[str] = set()
            for strong, _, name, phrase, start, end in sorted(
                topic_candidates, key=lambda c: (not c[0], -c[1], c[2] != "title")
            ):
                span = {(name, i) for i in range(start, end)}
                if span & used or phrase.text in seen:
                    continue
                used |= span
                seen.add(phrase.text)
                points = (
                    STRONG_POINTS if strong else TITLE_POINTS if name == "title" else SUMMARY_POINTS
                )
                evidence[topic_id].append(Evidence("phrase", phrase.text, name, points))
        if text.metadata:
            content_types, organisations = _govuk_facts(text.metadata)
            for topic in self.taxonomy.topics:
                evidence[topic.id] += [
                    Evidence("metadata", kind, "content type", CONTENT_TYPE_POINTS)
                    for kind in sorted(content_types & topic.govuk_types)
                ] + [
                    Evidence("metadata", slug, "organisation", ORGANISATION_POINTS)
                    for slug in organisations
                    if slug in topic.govuk_organisations
                ]
        return {topic_id: found for topic_id, found in evidence.items() if found}


def _govuk_facts(metadata: Mapping[str, Any]) -> tuple[set[str], list[str]]:
    """The content types (both spellings) and organisation slugs GOV.UK gave an item."""
    content_types = {
        str(metadata.get("content_store_document_type") or ""),
        _as_type(str(metadata.get("display_type") or "")),
    } - {""}
    organisations = [
        str(org["slug"])
        for org in metadata.get("organisations") or []
        if isinstance(org, Mapping) and org.get("slug")
    ]
    return content_types, organisations


def _as_type(display_type: str) -> str:
    """GOV.UK's display type ("Open consultation") in content-type form ("open_consultation")."""
    return display_type.strip().lower().replace(" ", "_")
