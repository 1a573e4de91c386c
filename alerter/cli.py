"""The `alerter` command line: each command a thin layer over library functions."""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from sqlmodel import col, select

from alerter.clean import UnparseableDate, parse_listing_date
from alerter.config import get_settings
from alerter.db import create_db_engine, get_engine, migrate, session_scope
from alerter.models import Source
from alerter.poll import UnknownSource, poll_sources
from alerter.sources.catalog import SourceFileError, source_health, sync_source_file
from alerter.store import list_items

app = typer.Typer(help="Policy-news alerts for UK metals trade associations.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _emit_json(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def _prepared_engine() -> sa.Engine:
    """The migrated engine with the sources file synced in; exits with a clear error otherwise."""
    settings = get_settings()
    engine = get_engine()
    try:
        with session_scope(engine) as session:
            sync_source_file(session, settings.sources)
    except SourceFileError as error:
        raise _fail(str(error)) from None
    return engine


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    migrate(create_db_engine(get_settings().database_url))
    typer.echo("database is up to date")


@app.command()
def poll(
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Poll only this source (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Poll every enabled source now and report what each one gave."""
    engine = _prepared_engine()
    try:
        reports = poll_sources(engine, get_settings(), names=source or ())
    except UnknownSource as error:
        raise _fail(str(error)) from None
    for report in reports:
        if as_json:
            _emit_json(report.public())
            continue
        if report.status == "failed" or report.status == "busy":
            typer.echo(f"{report.source}: {report.status.upper()}: {report.error}")
            continue
        fetched = "304 not modified" if report.status == "not_modified" else "fetched"
        typer.echo(
            f"{report.source}: {fetched}, {report.new} new"
            + (" (backlog)" if report.backlog and report.new else "")
            + f", {report.updated} updated, {report.merged} already known from another source,"
            f" {report.skipped} skipped"
        )
        for warning in report.warnings:
            typer.echo(f"  warning: {warning}")


@app.command()
def sources(as_json: JsonOption = False) -> None:
    """List sources with their health."""
    engine = _prepared_engine()
    with session_scope(engine) as session:
        rows = list(session.exec(select(Source).order_by(col(Source.name))))
        for row in rows:
            health = source_health(row)
            if as_json:
                _emit_json(health)
                continue
            state = (
                "disabled"
                if not row.enabled
                else (
                    f"FAILING x{row.consecutive_failures}: {row.last_error}"
                    if row.last_error
                    else ("ok" if row.last_success_at else "not polled yet")
                )
            )
            typer.echo(f"{row.name} [{row.kind}] {state}")
            typer.echo(f"  {row.url}")
            typer.echo(
                f"  last success: {health['last_success'] or 'never'}; "
                f"next poll: {health['next_poll'] or 'now'}"
            )
            for warning in row.last_warnings:
                typer.echo(f"  warning: {warning}")


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_listing_date(value)
    except UnparseableDate:
        raise _fail(f"--since: cannot read {value!r} as a date (try 2026-02-04)") from None


@app.command()
def items(
    as_json: JsonOption = False,
    since: Annotated[
        str | None, typer.Option(help="Only items published on or after this date.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only items this source carried.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many items.")] = None,
) -> None:
    """List stored items, newest first."""
    since_time = _parse_since(since)
    engine = _prepared_engine()
    with session_scope(engine) as session:
        for stored in list_items(session, since=since_time, source_name=source, limit=limit):
            item = stored.item
            if as_json:
                _emit_json(
                    {
                        "id": item.id,
                        "source": stored.source,
                        "sources": stored.sources,
                        "title": item.title,
                        "summary": item.summary,
                        "url": item.url,
                        "published": item.published_at.isoformat(),
                        "first_seen": item.first_seen_at.isoformat(),
                        "updated": item.updated_at.isoformat() if item.updated_at else None,
                        "backlog": item.backlog,
                        "metadata": item.source_metadata,
                    }
                )
                continue
            when = item.published_at.astimezone(UTC).strftime("%Y-%m-%d")
            flag = " [backlog]" if item.backlog else ""
            typer.echo(f"{item.id}  {when}  {', '.join(stored.sources)}: {item.title}{flag}")
            typer.echo(f"    {item.url}")
