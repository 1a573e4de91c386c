"""A staff edit of one topic (label, description, phrases) checked and previewed before it is
saved: the edited taxonomy, and the stored items that would gain or lose the topic."""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import ValidationError
from sqlmodel import Session, col, select

from alerter.models import Item
from alerter.topics.classifier import Classifier, Text
from alerter.topics.labelling import learned_corrections, text_of
from alerter.topics.matching import compile_phrase
from alerter.topics.model import shipped_model
from alerter.topics.taxonomy import Taxonomy, TopicDeclaration

PREVIEW_EXAMPLES = 5


@dataclass(frozen=True)
class TopicEdit:
    label: str
    description: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class TopicPreview:
    considered: int  # stored items published in the window
    gained: tuple[Item, ...]
    lost: tuple[Item, ...]


def edited_taxonomy(
    taxonomy: Taxonomy, topic_id: str, edit: TopicEdit
) -> tuple[Taxonomy | None, dict[str, str]]:
    """The taxonomy with this topic edited, or the problems with the edit by form field."""
    problems: dict[str, str] = {}
    try:
        TopicDeclaration(
            id=topic_id, label=edit.label, description=edit.description, phrases=list(edit.phrases)
        )
    except ValidationError as error:
        for problem in error.errors():
            field = str(problem["loc"][0])
            problems.setdefault(field, f"Enter the topic's {field}")
    compiled = []
    for text in edit.phrases:
        try:
            compiled.append(compile_phrase(text))
        except ValueError as error:
            problems.setdefault("phrases", str(error).capitalize())
    if problems:
        return None, problems
    topics = tuple(
        replace(t, label=edit.label, description=edit.description, phrases=tuple(compiled))
        if t.id == topic_id
        else t
        for t in taxonomy.topics
    )
    return Taxonomy(topics), {}


def preview_edit(
    session: Session, now: Taxonomy, proposed: Taxonomy, topic_id: str, since: datetime
) -> TopicPreview:
    """The stored items published since `since` that the proposed taxonomy would give or take
    away `topic_id`, compared with today's taxonomy (both with the models learned for them)."""
    corrections = tuple(learned_corrections(session))
    items = list(
        session.exec(select(Item).where(Item.published_at >= since).order_by(col(Item.id)))
    )
    texts = [text_of(item) for item in items]
    before = _topics(Classifier(now, shipped_model(now, corrections)), texts)
    after = _topics(Classifier(proposed, shipped_model(proposed, corrections)), texts)
    gained = [i for i, b, a in zip(items, before, after, strict=True) if topic_id in a - b]
    lost = [i for i, b, a in zip(items, before, after, strict=True) if topic_id in b - a]
    return TopicPreview(len(items), tuple(gained), tuple(lost))


def _topics(classifier: Classifier, texts: Sequence[Text]) -> list[set[str]]:
    return [set(c.topics) for c in classifier.classify_many(texts)]
