"""The topic taxonomy: what members can follow and the evidence that recognises each topic."""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alerter.topics.matching import Phrase, compile_phrase

_TOPIC_ID = re.compile(r"^[a-z][a-z0-9-]*$")


class TopicDeclaration(BaseModel):
    """One [[topics]] entry of the taxonomy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)
    phrases: list[str] = Field(default_factory=list)
    strong: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    veto: list[str] = Field(default_factory=list)
    govuk_types: list[str] = Field(default_factory=list)
    govuk_organisations: list[str] = Field(default_factory=list)
    threshold: float = Field(default=2.0, gt=0)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _TOPIC_ID.match(value):
            raise ValueError("must be lower-case letters, digits and hyphens, e.g. 'net-zero'")
        return value


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    description: str
    phrases: tuple[Phrase, ...]
    strong: tuple[Phrase, ...]
    exclude: tuple[Phrase, ...]
    veto: tuple[Phrase, ...]
    govuk_types: frozenset[str]
    govuk_organisations: frozenset[str]
    threshold: float


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]

    @property
    def ids(self) -> list[str]:
        return [topic.id for topic in self.topics]

    def get(self, topic_id: str) -> Topic | None:
        return next((topic for topic in self.topics if topic.id == topic_id), None)


class TaxonomyError(ValueError):
    """The topics file cannot be used; the message says which entry and why."""


def load_taxonomy(path: Path) -> Taxonomy:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TaxonomyError(f"{path}: cannot read the topics file ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TaxonomyError(f"{path}: not a valid UTF-8 TOML file ({error})") from None
    entries = data.get("topics")
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{path}: expected an array of tables [[topics]]")
    topics: list[Topic] = []
    problems: list[str] = []
    for number, entry in enumerate(entries, start=1):
        named = isinstance(entry, dict) and "id" in entry
        label = f"topic #{number}" + (f" ({entry['id']!r})" if named else "")
        try:
            topics.append(_compile(TopicDeclaration.model_validate(entry)))
        except ValidationError as error:
            problems += [
                f"{label}: {'.'.join(map(str, p['loc'])) or 'entry'}: {p['msg']}"
                for p in error.errors()
            ]
        except ValueError as error:
            problems.append(f"{label}: {error}")
    ids = [topic.id for topic in topics]
    problems += [
        f"topic id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    if problems:
        raise TaxonomyError(f"{path}: " + "; ".join(problems))
    return Taxonomy(tuple(topics))


def _compile(declaration: TopicDeclaration) -> Topic:
    def phrases(texts: list[str]) -> tuple[Phrase, ...]:
        return tuple(compile_phrase(text) for text in texts)

    return Topic(
        id=declaration.id,
        label=declaration.label,
        description=declaration.description,
        phrases=phrases(declaration.phrases),
        strong=phrases(declaration.strong),
        exclude=phrases(declaration.exclude),
        veto=phrases(declaration.veto),
        govuk_types=frozenset(declaration.govuk_types),
        govuk_organisations=frozenset(declaration.govuk_organisations),
        threshold=declaration.threshold,
    )
