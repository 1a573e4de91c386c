"""`alerter members ...` and `alerter staff ...`: thin commands over subscriptions' functions."""

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from alerter.config import get_settings
from alerter.db import get_engine, session_scope
from alerter.delivery import transport_for
from alerter.progress import progress_bar
from alerter.topics import TaxonomyError, load_taxonomy
from subscriptions.importing import ImportFileError, export_members, import_members
from subscriptions.models import Member
from subscriptions.notices import send_confirmation
from subscriptions.staff import StaffError, create_staff

members_app = typer.Typer(help="Members: import and export as CSV.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)


def _stop(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@members_app.command("import")
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
    by: Annotated[str, typer.Option(help="Who is importing: recorded in the consent log.")] = (
        "command line"
    ),
) -> None:
    """Add or update members from a CSV file; bad rows are reported and skipped."""
    settings = get_settings()
    try:
        text = file.read_text(encoding="utf-8-sig")
        known_topics = load_taxonomy(settings.topics).ids
    except OSError as error:
        raise _stop(f"{file}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise _stop(f"{file}: not UTF-8 text; save the CSV as UTF-8") from None
    except TaxonomyError as error:
        raise _stop(str(error)) from None
    with session_scope(get_engine()) as session, progress_bar("importing") as progress:
        try:
            report = import_members(
                session,
                text,
                known_topics=known_topics,
                consent_confirmed=consent_confirmed,
                imported_by=by,
                now=datetime.now(UTC),
                progress=progress,
            )
        except ImportFileError as error:
            raise _stop(f"{file}: {error}") from None
        transport = transport_for(settings)
        for member_id in report.to_confirm:
            member = session.get(Member, member_id)
            assert member is not None
            send_confirmation(settings, transport, member)
    typer.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.problems)} rows with problems"
    )
    if report.to_confirm:
        typer.echo(f"confirmation emails sent: {len(report.to_confirm)}")
    for address in report.kept_opted_out:
        typer.echo(f"kept as they are (unsubscribed or suppressed): {address}")
    for problem in report.problems:
        typer.echo(f"line {problem.line}: {problem.reason}")


@members_app.command("export")
def export_command(
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Write every member (erased ones excepted) in the import format."""
    with session_scope(get_engine()) as session:
        text = export_members(session)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


@staff_app.command("create")
def create_command(
    email: Annotated[str, typer.Argument(help="The staff member's email address.")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password."),
    ],
) -> None:
    """Create a staff account (password asked for twice, hidden)."""
    with session_scope(get_engine()) as session:
        try:
            staff = create_staff(session, email, password, datetime.now(UTC))
        except (StaffError, ValueError) as error:
            raise _stop(str(error)) from None
        typer.echo(f"staff account created for {staff.email}")
