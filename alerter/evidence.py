"""What the classifier reads and what it says back: the text of an item, and each reason a topic
was given, in words members and staff understand. Shared by the rules, the learned model and
staff corrections."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

EvidenceKind = Literal["phrase", "words", "metadata", "example", "staff"]


@dataclass(frozen=True)
class Text:
    """What is classified: an item's title and summary, and any GOV.UK metadata."""

    title: str
    summary: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


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


def describe(evidence: Mapping[str, Any]) -> str:
    """One piece of stored evidence in words, for staff and for "why am I seeing this"."""
    kind, text, where = evidence.get("kind"), evidence.get("text"), evidence.get("where")
    if kind in ("phrase", "words"):
        return f"“{text}” in the {where}"
    if kind == "metadata":
        return f"GOV.UK {where}: {text}"
    if kind == "example":
        return f"like {where} (“{text}”), which staff labelled"
    return f"set by staff ({text})"
