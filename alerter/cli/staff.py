"""`alerter staff create`: a staff account for the console."""

from datetime import UTC, datetime
from typing import Annotated

import typer

from alerter.cli.common import fail

app = typer.Typer(help="Staff accounts.", no_args_is_help=True)


@app.command("create")
def create_command(
    email: Annotated[str, typer.Argument(help="The staff member's email address.")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password."),
    ],
) -> None:
    """Create a staff account (password asked for twice, hidden)."""
    from alerter.db import get_engine, session_scope
    from subscriptions.staff import StaffError, create_staff

    with session_scope(get_engine()) as session:
        try:
            staff = create_staff(session, email, password, datetime.now(UTC))
        except (StaffError, ValueError) as error:
            raise fail(str(error)) from None
        typer.echo(f"staff account created for {staff.email}")
