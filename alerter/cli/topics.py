"""`alerter classify`, `reclassify`, `correct` and `topics ...`: the taxonomy, classifying text
and stored items, staff corrections, and how well the topics classify."""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alerter.cli.common import (
    JsonOption,
    configured_classifier,
    configured_taxonomy,
    emit_json,
    fail,
    labelled_file,
    parse_since,
)

if TYPE_CHECKING:
    from alerter.topics.classifier import Classifier, Text

app = typer.Typer(help="The topic taxonomy and how well it classifies.")


def classify(
    eval_file: Annotated[
        Path | None,
        typer.Option(
            "--eval", help="JSON lines with expected `topics`: print precision, recall, F1."
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline", help="With --eval: the naive keyword baseline's scores beside them."
        ),
    ] = False,
) -> None:
    """Classify JSON lines from standard input ({"title", "summary"?}), one JSON line out each."""
    from alerter.db import get_engine, session_scope
    from alerter.topics.evaluation import labelled_scores

    engine = get_engine()
    with session_scope(engine) as session:
        classifier = configured_classifier(session)
    if eval_file is not None:
        for row in labelled_scores(classifier, labelled_file(eval_file), baseline=baseline):
            typer.echo(row)
        return
    batch: list[str] = []
    for line in sys.stdin:
        batch.append(line)
        if len(batch) == 500:
            _classify_lines(classifier, batch)
            batch = []
    _classify_lines(classifier, batch)


def _classify_lines(classifier: "Classifier", lines: list[str]) -> None:
    from alerter.topics.classifier import Text

    inputs = [_text_from_line(line) for line in lines if line.strip()]
    texts = [text for text in inputs if isinstance(text, Text)]
    results = iter(classifier.classify_many(texts))
    for text in inputs:
        emit_json(next(results).public() if isinstance(text, Text) else {"error": text})
    sys.stdout.flush()


def _text_from_line(line: str) -> "Text | str":
    """The line as a Text, or the reason it is not one."""
    from alerter.topics.examples import text_from_record

    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not JSON: {error.msg} at column {error.colno}"
    return text_from_record(record)


@app.callback(invoke_without_command=True)
def topics(context: typer.Context, as_json: JsonOption = False) -> None:
    """The topic taxonomy with the number of items on each topic."""
    from alerter.db import get_engine, session_scope
    from alerter.topics.labelling import topic_counts

    if context.invoked_subcommand is not None:
        return
    taxonomy = configured_taxonomy()
    engine = get_engine()
    with session_scope(engine) as session:
        counts = topic_counts(session)
    for topic in taxonomy.topics:
        if as_json:
            emit_json(
                {
                    "id": topic.id,
                    "label": topic.label,
                    "description": topic.description,
                    "items": counts.get(topic.id, 0),
                }
            )
        else:
            typer.echo(
                f"{topic.id:<20} {counts.get(topic.id, 0):>6}  {topic.label}: {topic.description}"
            )


@app.command("quality")
def topics_quality(
    proposed: Annotated[
        Path | None,
        typer.Option(help="An edited copy of the topics file: its scores beside today's."),
    ] = None,
    labelled: Annotated[
        list[Path] | None,
        typer.Option("--labelled", help="A labelled JSON-lines file to score on as well."),
    ] = None,
) -> None:
    """Precision and recall per topic on the labelled sets, and how a proposed topics file
    would move them, before it is saved."""
    from alerter.db import get_engine, session_scope
    from alerter.topics.evaluation import quality_report
    from alerter.topics.labelling import learned_corrections

    taxonomies = {"now": configured_taxonomy()}
    if proposed is not None:
        taxonomies["proposed"] = configured_taxonomy(proposed)
    files = [(str(path), labelled_file(path)) for path in labelled or []]
    engine = get_engine()
    with session_scope(engine) as session:
        corrections = learned_corrections(session)
    for line in quality_report(taxonomies, corrections, files):
        typer.echo(line)


def reclassify(
    since: Annotated[
        str | None, typer.Option(help="Only items published on or after this date.")
    ] = None,
) -> None:
    """Classify stored items again, e.g. after editing the topics file. Staff corrections stay."""
    from alerter.db import get_engine, session_scope
    from alerter.progress import progress_bar
    from alerter.topics.labelling import reclassify as run_reclassification

    since_time = parse_since(since)
    engine = get_engine()
    with session_scope(engine) as session, progress_bar("reclassifying") as progress:
        done = run_reclassification(
            session, configured_classifier(session), since=since_time, progress=progress
        )
    typer.echo(f"reclassified {done} items")


def correct(
    item_id: Annotated[int, typer.Argument(help="The item's id (see `alerter items`).")],
    add: Annotated[
        list[str] | None, typer.Option("--add", help="Topic to put on the item.")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Topic to take off the item.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who decided: recorded with the correction.")] = "staff",
) -> None:
    """Correct an item's topics. The correction wins over the classifier for this item and
    teaches it about similar ones."""
    from alerter.db import get_engine, session_scope
    from alerter.topics.labelling import UnknownItem, UnknownTopic, correct_item

    engine = get_engine()
    with session_scope(engine) as session:
        taxonomy = configured_taxonomy()
        changes = [(t, True) for t in add or []] + [(t, False) for t in remove or []]
        try:
            now_on = correct_item(
                session, taxonomy, item_id, changes, corrected_by=by, now=datetime.now(UTC)
            )
        except (UnknownItem, UnknownTopic) as error:
            raise fail(str(error)) from None
    typer.echo(f"item {item_id} topics: {', '.join(now_on) or 'none'}")
