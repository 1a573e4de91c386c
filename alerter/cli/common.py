"""What every command group uses: the error exit, JSON lines, and the engine, taxonomy,
classifier and transport as configured, each failing with a message staff can act on."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

# The library is imported by each helper when called: `alerter --help`, and any command that
# needs little, starts without loading the database layer, the classifier or the mail clients.
if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    import sqlalchemy as sa
    from sqlmodel import Session

    from alerter.config import Settings
    from alerter.delivery import Transport
    from alerter.topics.classifier import Classifier
    from alerter.topics.examples import LabelledText
    from alerter.topics.taxonomy import Taxonomy

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def fail(message: str) -> typer.Exit:
    """Say what went wrong on stderr; raise the result to exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def emit_json(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def configured_classifier(session: Session) -> Classifier:
    from alerter.config import get_settings
    from alerter.topics.labelling import load_classifier
    from alerter.topics.taxonomy import TaxonomyError

    try:
        return load_classifier(session, get_settings().topics)
    except TaxonomyError as error:
        raise fail(str(error)) from None


def configured_taxonomy(path: Path | None = None) -> Taxonomy:
    """The configured taxonomy (or the file given), without training a classifier for it."""
    from alerter.config import get_settings
    from alerter.topics.taxonomy import TaxonomyError, load_taxonomy

    try:
        return load_taxonomy(path or get_settings().topics)
    except TaxonomyError as error:
        raise fail(str(error)) from None


def labelled_file(path: Path) -> list[LabelledText]:
    from alerter.topics.examples import LabelledFileError, read_labelled

    try:
        return read_labelled(path)
    except LabelledFileError as error:
        raise fail(str(error)) from None


def configured_transport(settings: Settings) -> Transport:
    from alerter.delivery import MailSettingsError, transport_for

    try:
        return transport_for(settings)
    except MailSettingsError as error:
        raise fail(str(error)) from None


def prepared_engine() -> sa.Engine:
    """The migrated engine with the sources file synced in; exits with a clear error otherwise."""
    from alerter.config import get_settings
    from alerter.db import get_engine, session_scope
    from alerter.ingest.sources.catalog import SourceFileError, sync_source_file

    settings = get_settings()
    engine = get_engine()
    try:
        with session_scope(engine) as session:
            sync_source_file(session, settings.sources)
    except SourceFileError as error:
        raise fail(str(error)) from None
    return engine


def parse_since(value: str | None) -> datetime | None:
    from alerter.ingest.clean import UnparseableDate, parse_listing_date

    if value is None:
        return None
    try:
        return parse_listing_date(value)
    except UnparseableDate:
        raise fail(f"--since: cannot read {value!r} as a date (try 2026-02-04)") from None
