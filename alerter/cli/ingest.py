"""`alerter poll`, `alerter sources` and `alerter items`: polling now, and what the sources and
their items look like."""

from typing import Annotated

import typer

from alerter.cli.common import JsonOption, emit_json, fail, parse_since, prepared_engine


def poll(
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Poll only this source (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Poll every enabled source now and report what each one gave."""
    from alerter.config import get_settings
    from alerter.ingest.poll import UnknownSource, poll_sources
    from alerter.progress import progress_bar

    engine = prepared_engine()
    try:
        with progress_bar("polling") as progress:
            reports = poll_sources(engine, get_settings(), names=source or (), progress=progress)
    except UnknownSource as error:
        raise fail(str(error)) from None
    for report in reports:
        if as_json:
            emit_json(report.public())
        else:
            typer.echo("\n".join(report.lines()))


def sources(as_json: JsonOption = False) -> None:
    """List sources with their health."""
    from alerter.db import session_scope
    from alerter.ingest.sources.catalog import health_lines, list_sources, source_health

    engine = prepared_engine()
    with session_scope(engine) as session:
        for row in list_sources(session):
            if as_json:
                emit_json(source_health(row))
            else:
                typer.echo("\n".join(health_lines(row)))


def items(
    as_json: JsonOption = False,
    since: Annotated[
        str | None, typer.Option(help="Only items published on or after this date.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only items this source carried.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many items.")] = None,
) -> None:
    """List stored items, newest first."""
    from alerter.db import session_scope
    from alerter.ingest.store import list_items
    from alerter.topics.labelling import topics_of

    since_time = parse_since(since)
    engine = prepared_engine()
    with session_scope(engine) as session:
        listed = list_items(session, since=since_time, source_name=source, limit=limit)
        topics = topics_of(session, [stored.item.id for stored in listed if stored.item.id])
        for stored in listed:
            item_topics = topics.get(stored.item.id or 0, [])
            if as_json:
                emit_json(stored.public(item_topics))
            else:
                typer.echo("\n".join(stored.lines(item_topics)))
