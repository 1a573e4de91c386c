"""The taxonomy's own evidence for each topic: its phrases found in an item's title and summary
(with their exclusions and vetoes) and the GOV.UK metadata it names, each worth points. The
points decide topics that have no labelled examples to learn from, and every topic's phrases are
features of the learned model. Pure: no database, no I/O."""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Literal

from alerter.topics.evidence import Evidence, Text, organisation_name
from alerter.topics.matching import Phrase, PhraseSet, Token
from alerter.topics.taxonomy import Taxonomy, Topic

STRONG_POINTS = 3.0
TITLE_POINTS = 2.0
SUMMARY_POINTS = 1.0
CONTENT_TYPE_POINTS = 3.0
ORGANISATION_POINTS = 1.0

PhraseRole = Literal["phrase", "strong", "exclude", "veto"]


class Rules:
    """Every topic's phrases in one index, so each text is scanned once."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        # By the phrase as written: a phrase in several topics is one entry, found once, and a
        # string's hash is cheaper than a compiled phrase's.
        self._roles: defaultdict[str, list[tuple[Topic, PhraseRole]]] = defaultdict(list)
        compiled: dict[str, Phrase] = {}
        for topic in taxonomy.topics:
            for role, phrases in (
                ("phrase", topic.phrases),
                ("strong", topic.strong),
                ("exclude", topic.exclude),
                ("veto", topic.veto),
            ):
                for phrase in phrases:
                    self._roles[phrase.text].append((topic, role))  # type: ignore[arg-type]
                    compiled.setdefault(phrase.text, phrase)
        self._phrases = PhraseSet(list(compiled.values()))
        self._words = {text: _words_of(phrase) for text, phrase in compiled.items()}

    def evidence(
        self, text: Text, title: list[Token], summary: list[Token]
    ) -> dict[str, list[Evidence]]:
        """Each topic's evidence from phrases and metadata, before any threshold."""
        fields = {"title": title, "summary": summary}
        matches = {name: self._phrases.find(tokens) for name, tokens in fields.items()}
        masked: defaultdict[str, set[tuple[str, int]]] = defaultdict(set)
        vetoed: set[str] = set()
        for name, found in matches.items():
            for phrase, start, end in found:
                for topic, role in self._roles[phrase.text]:
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
                for topic, role in self._roles[phrase.text]:
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
            content_types, organisations = govuk_facts(text.metadata)
            names = organisation_names(text.metadata)
            for topic in self.taxonomy.topics:
                evidence[topic.id] += [
                    Evidence("metadata", kind, "content type", CONTENT_TYPE_POINTS)
                    for kind in sorted(content_types & topic.govuk_types)
                ] + [
                    Evidence("metadata", names[slug], "organisation", ORGANISATION_POINTS)
                    for slug in organisations
                    if slug in topic.govuk_organisations
                ]
        return {topic_id: found for topic_id, found in evidence.items() if found}

    def words_of(self, text: str) -> tuple[frozenset[str], tuple[str, ...]]:
        """The words a taxonomy phrase matches, normalised: those it names exactly, and the
        beginnings of those it names with a *."""
        return self._words.get(text, (frozenset(), ()))

    def passes(self, topic: Topic, evidence: list[Evidence]) -> bool:
        """Whether the taxonomy's evidence alone reaches the topic's threshold."""
        return sum(e.points for e in evidence if e.kind in ("phrase", "metadata")) >= (
            topic.threshold
        )


def _words_of(phrase: Phrase) -> tuple[frozenset[str], tuple[str, ...]]:
    exact = frozenset(
        w.abbreviation.lower() if w.abbreviation else w.norm for w in phrase.words if not w.prefix
    )
    return exact, tuple(w.norm for w in phrase.words if w.prefix)


def govuk_facts(metadata: Mapping[str, Any]) -> tuple[set[str], list[str]]:
    """The content types an item's source gave it (GOV.UK's two spellings, and the document type
    of a publisher's record) and the organisation slugs GOV.UK gave it."""
    content_types = {
        str(metadata.get("content_store_document_type") or ""),
        _as_type(str(metadata.get("display_type") or "")),
        str(metadata.get("document_type") or ""),
    } - {""}
    organisations = [
        str(org["slug"])
        for org in metadata.get("organisations") or []
        if isinstance(org, Mapping) and org.get("slug")
    ]
    return content_types, organisations


def organisation_names(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Each organisation slug GOV.UK gave the item, with the name members read: GOV.UK's title
    ("Department for Business and Trade"), or one made from the slug where it gave none."""
    names = {}
    for org in metadata.get("organisations") or []:
        if isinstance(org, Mapping) and org.get("slug"):
            title = org.get("title")
            slug = str(org["slug"])
            names[slug] = str(title) if title else organisation_name(slug)
    return names


def _as_type(display_type: str) -> str:
    """GOV.UK's display type ("Open consultation") in content-type form ("open_consultation")."""
    return display_type.strip().lower().replace(" ", "_")
