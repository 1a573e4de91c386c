"""`alerter deadlines send`: the day's deadline reminders and outcome alerts, now."""

from datetime import UTC, datetime

import typer

from alerter.cli.common import configured_taxonomy, configured_transport

app = typer.Typer(
    help="Deadline reminders and outcome alerts (the worker sends them each morning).",
    no_args_is_help=True,
)


@app.command("send")
def deadlines_send() -> None:
    """Plan the deadline reminders due today and the outcome alerts due, and send them: what
    the worker's deadline-alerts job does. Running it again the same day sends nothing more."""
    from alerter.config import get_settings
    from alerter.db import get_engine, session_scope
    from alerter.dispatch import run_deadline_alerts

    settings = get_settings()
    with session_scope(get_engine()) as session:
        transport = configured_transport(settings)
        report = run_deadline_alerts(
            session,
            transport,
            settings,
            configured_taxonomy(),
            datetime.now(UTC),
            clock=lambda: datetime.now(UTC),
        )
    sent = report.sent
    typer.echo(
        f"reminders due: {report.reminders}, outcome alerts due: {report.outcomes} (each sent "
        f"once); sent {sent.sent}, skipped {sent.skipped}, failed {sent.failed}, "
        f"deferred {sent.deferred}"
    )
    for error in sent.errors:
        typer.echo(f"  {error}", err=True)
