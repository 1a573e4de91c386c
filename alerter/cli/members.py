"""`alerter members ...`: importing members from CSV (confirmation emails to those who must
confirm) and exporting them."""

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from alerter.cli.common import fail

app = typer.Typer(help="Members: import and export as CSV.", no_args_is_help=True)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV: email,name,organisation,topics,frequency")],
    consent_confirmed: Annotated[
        bool,
        typer.Option(
            "--consent-confirmed",
            help="You hold these members' consent: make them active without double opt-in "
            "(recorded in their consent log). Otherwise each gets a confirmation email.",
        ),
    ] = False,
    update_existing: Annotated[
        bool,
        typer.Option(
            "--update-existing",
            help="Members already known take the file's name, organisation, topics and "
            "frequency. Otherwise they are left as they are.",
        ),
    ] = False,
    by: Annotated[str, typer.Option(help="Who is importing: recorded in the consent log.")] = (
        "command line"
    ),
) -> None:
    """Add members from a CSV file (and update known ones, if asked); every row's outcome is
    listed, and refused rows store nothing."""
    from alerter.config import get_settings
    from alerter.db import get_engine, session_scope
    from alerter.delivery import transport_for
    from alerter.notices import plan_confirmations, send_confirmations
    from alerter.progress import progress_bar
    from alerter.topics.taxonomy import TaxonomyError, load_taxonomy
    from subscriptions.importing import ImportFileError, decode, import_members

    settings = get_settings()
    try:
        text = decode(file.read_bytes())
        taxonomy = load_taxonomy(settings.topics)
    except OSError as error:
        raise fail(f"{file}: {error.strerror}") from None
    except ImportFileError as error:
        raise fail(f"{file}: {error}") from None
    except TaxonomyError as error:
        raise fail(str(error)) from None
    now = datetime.now(UTC)
    with session_scope(get_engine()) as session:
        with progress_bar("importing") as progress:
            try:
                report = import_members(
                    session,
                    text,
                    known_topics=taxonomy.ids,
                    consent_confirmed=consent_confirmed,
                    update_existing=update_existing,
                    imported_by=by,
                    now=now,
                    progress=progress,
                )
            except ImportFileError as error:
                raise fail(f"{file}: {error}") from None
            period = plan_confirmations(session, report.to_confirm, now)
            session.commit()
        for row in report.rows:
            typer.echo(
                f"line {row.line}: {row.email or '-'}: {row.outcome}"
                + (f" ({row.detail})" if row.detail else "")
            )
        typer.echo(report.summary())
        if report.to_confirm:
            with progress_bar("confirmation emails") as progress:
                sent = send_confirmations(
                    session, transport_for(settings), settings, period, progress=progress
                )
            typer.echo(
                f"confirmation emails: {sent.sent} sent, {sent.failed} failed, "
                f"{sent.deferred} left for the worker"
            )
            for reason in sent.errors:
                typer.echo(f"  {reason}", err=True)


@app.command("export")
def export_command(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write a file for a spreadsheet here (UTF-8 with the byte-order mark Excel "
            "needs) instead of standard output."
        ),
    ] = None,
) -> None:
    """Write every member (erased ones excepted) in the import format."""
    from alerter.db import get_engine, session_scope
    from subscriptions.importing import export_file, export_members

    with session_scope(get_engine()) as session:
        if out is None:
            sys.stdout.write(export_members(session))
        else:
            out.write_bytes(export_file(session))
