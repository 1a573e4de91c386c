"""`alerter digest ...`: previewing a member's digest, and running a digest now."""

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alerter.cli.common import configured_taxonomy, configured_transport, fail
from subscriptions.choices import Frequency

if TYPE_CHECKING:
    from alerter.digests.runs import PlanReport
    from alerter.ledger.sender import Waiting

app = typer.Typer(help="Digests: preview what a member would get.", no_args_is_help=True)


def _echo_plan(plan: "PlanReport") -> None:
    typer.echo(
        f"{plan.members} members: {plan.planned} digests planned, {plan.nothing_new} with "
        f"nothing new, {plan.already_planned} already planned this period"
    )


@app.command("preview")
def digest_preview(
    email: Annotated[str, typer.Argument(help="The member's email address.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the HTML part here; otherwise print the text part.")
    ] = None,
) -> None:
    """Render the digest this member would get now, without sending it."""
    from alerter.config import get_settings
    from alerter.db import get_engine, session_scope
    from alerter.digests.runs import preview
    from subscriptions.members import find_member, subscriber

    settings = get_settings()
    with session_scope(get_engine()) as session:
        member = find_member(session, email.strip().lower())
        if member is None or member.id is None:
            raise fail(f"no member with the address {email}")
        receiving = subscriber(session, member.id)
        if receiving is None:
            raise fail(f"{member.email} receives no alerts (status: {member.status})")
        taxonomy = configured_taxonomy()
        composed, since = preview(
            session, settings, taxonomy, receiving, Frequency(member.frequency), datetime.now(UTC)
        )
        if composed is None:
            typer.echo(f"nothing new on {member.email}'s topics since {since:%Y-%m-%d %H:%M} UTC")
            return
    if out is None:
        typer.echo(composed.text)
    else:
        out.write_text(composed.html, encoding="utf-8")
        typer.echo(f"wrote {out} ({len(composed.html.encode()):,} bytes)")


@app.command("send")
def digest_send(
    frequency: Annotated[Frequency, typer.Option(help="Which digest to run.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be sent; send and record nothing.")
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Do not wait for deliveries another sender holds (one that crashed holds "
            "them until its lease lapses); say how many and until when, and stop.",
        ),
    ] = False,
) -> None:
    """Run a digest now: plan it in the delivery ledger, then send every planned email, waiting
    for those a crashed sender still holds."""
    from alerter.config import get_settings
    from alerter.db import get_engine, session_scope
    from alerter.digests.runs import plan_digests, run_digest
    from alerter.progress import progress_bar

    settings = get_settings()
    with session_scope(get_engine()) as session:
        taxonomy = configured_taxonomy()
        now = datetime.now(UTC)
        if dry_run:
            _echo_plan(plan_digests(session, frequency, now, dry_run=True))
            return
        transport = configured_transport(settings)
        with progress_bar(f"{frequency.value} digest") as progress:
            plan, report = run_digest(
                session,
                transport,
                settings,
                taxonomy,
                frequency,
                now,
                progress=progress,
                wait=not no_wait,
                waiting=_echo_waiting,
            )
    _echo_plan(plan)
    typer.echo(
        f"sent {report.sent}, skipped {report.skipped} (no longer subscribed), "
        f"failed {report.failed}, in doubt {report.in_doubt}, deferred {report.deferred}; "
        f"{report.emails_composed} distinct emails in {transport.requests} requests to "
        f"{transport.name}"
    )
    if report.held and report.held_until is not None:
        typer.echo(
            f"{report.held} deliveries are held by another sender until "
            f"{report.held_until:%H:%M:%S} UTC; run again after then to send them (or without "
            "--no-wait, which waits for them)"
        )
    if report.in_doubt:
        typer.echo(
            f"{report.in_doubt} deliveries are in doubt (they may have been delivered): the "
            "staff console's Deliveries page says why and what happens next"
        )
    for error in report.errors:
        typer.echo(f"  {error}", err=True)


def _echo_waiting(waiting: "Waiting") -> None:
    if waiting.held and waiting.held_until is not None:
        typer.echo(
            f"{waiting.held} deliveries are held by another sender until "
            f"{waiting.held_until:%H:%M:%S} UTC (one that stopped holds them until its lease "
            "lapses): waiting to send them"
        )
    if waiting.in_doubt and waiting.in_doubt_until is not None:
        typer.echo(
            f"{waiting.in_doubt} deliveries are in doubt until their SendGrid batch can be "
            f"cancelled, at {waiting.in_doubt_until:%H:%M:%S} UTC: waiting to send them again"
        )
