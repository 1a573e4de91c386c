"""What every command group uses: the error exit, JSON lines, and the engine, taxonomy,
classifier and transport as configured, each failing with a message staff can act on."""

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from sqlmodel import Session

from alerter.config import Settings, get_settings
from alerter.db import get_engine, session_scope
from alerter.delivery import MailSettingsError, Transport, transport_for
from alerter.ingest.clean import UnparseableDate, parse_listing_date
from alerter.ingest.sources.catalog import SourceFileError, sync_source_file
from alerter.topics.classifier import Classifier
from alerter.topics.examples import LabelledFileError, LabelledText, read_labelled
from alerter.topics.labelling import load_classifier
from alerter.topics.taxonomy import Taxonomy, TaxonomyError, load_taxonomy

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def fail(message: str) -> typer.Exit:
    """Say what went wrong on stderr; raise the result to exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def emit_json(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def configured_classifier(session: Session) -> Classifier:
    try:
        return load_classifier(session, get_settings().topics)
    except TaxonomyError as error:
        raise fail(str(error)) from None


def configured_taxonomy(path: Path | None = None) -> Taxonomy:
    """The configured taxonomy (or the file given), without training a classifier for it."""
    try:
        return load_taxonomy(path or get_settings().topics)
    except TaxonomyError as error:
        raise fail(str(error)) from None


def labelled_file(path: Path) -> list[LabelledText]:
    try:
        return read_labelled(path)
    except LabelledFileError as error:
        raise fail(str(error)) from None


def configured_transport(settings: Settings) -> Transport:
    try:
        return transport_for(settings)
    except MailSettingsError as error:
        raise fail(str(error)) from None


def prepared_engine() -> sa.Engine:
    """The migrated engine with the sources file synced in; exits with a clear error otherwise."""
    settings = get_settings()
    engine = get_engine()
    try:
        with session_scope(engine) as session:
            sync_source_file(session, settings.sources)
    except SourceFileError as error:
        raise fail(str(error)) from None
    return engine


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_listing_date(value)
    except UnparseableDate:
        raise fail(f"--since: cannot read {value!r} as a date (try 2026-02-04)") from None
