"""What the classifier reads and what it says back: the text of an item, and each reason a topic
was given, in words members and staff understand. Shared by the rules, the learned model and
staff corrections."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

EvidenceKind = Literal["phrase", "words", "metadata", "example", "staff"]


@dataclass(frozen=True)
class Text:
    """What is classified: an item's title and summary, and any metadata its source gave (GOV.UK
    content type and organisations; the document type a publisher's API record names)."""

    title: str
    summary: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


def item_text(
    title: str, summary: str, metadata: Mapping[str, Any], document_type: str | None
) -> Text:
    """An item or entry as the classifier reads it: the document type of its publisher's record
    ("committee_inquiry", "call_for_evidence") joins its metadata, as evidence of its kind."""
    if document_type:
        metadata = {**metadata, "document_type": document_type}
    return Text(title, summary, metadata)


@dataclass(frozen=True)
class Evidence:
    """One reason a topic was assigned (or, for staff and examples, removed)."""

    kind: EvidenceKind
    # The taxonomy phrase or the item's own words, metadata value, example's title or staff member.
    text: str
    where: str  # "title", "summary", "content type", "organisation", "item 12", "correction"
    points: float

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "where": self.where, "points": self.points}

    def describe(self) -> str:
        return describe(self.public())


# Words an organisation's name keeps in lower case, and abbreviations it writes in capitals, when
# the name has to be read off its GOV.UK slug ("department-for-business-and-trade").
_NAME_SMALL_WORDS = frozenset(("and", "for", "of", "the", "on", "in", "to", "at", "by"))
_NAME_CAPITALS = frozenset(("hm", "uk", "nhs", "hmrc", "ukri", "ukef", "bgs", "dvla", "hse"))


def organisation_name(name_or_slug: str) -> str:
    """An organisation as members read its name: GOV.UK's title as it is; a slug (evidence
    stored before titles were kept, or an organisation GOV.UK gave no title) in title case."""
    if " " in name_or_slug or ("-" not in name_or_slug and not name_or_slug.islower()):
        return name_or_slug
    words = name_or_slug.split("-")
    return " ".join(
        word.upper()
        if word in _NAME_CAPITALS
        else word
        if word in _NAME_SMALL_WORDS and position
        else word.capitalize()
        for position, word in enumerate(words)
    )


def describe(evidence: Mapping[str, Any]) -> str:
    """One piece of stored evidence in words, for staff and for "why am I seeing this"."""
    kind, text, where = evidence.get("kind"), evidence.get("text"), evidence.get("where")
    if kind in ("phrase", "words"):
        return f"“{text}” in the {where}"
    if kind == "metadata":
        if where == "organisation":
            return f"published by {organisation_name(str(text))}"
        readable = str(text).replace("_", " ").replace("-", " ")
        article = "an" if readable[:1] in ("a", "e", "i", "o", "u") else "a"
        return f"published as {article} {readable}"
    if kind == "example":
        return f"like {where} (“{text}”), which staff labelled"
    return f"set by staff ({text})"
