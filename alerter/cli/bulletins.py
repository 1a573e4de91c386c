"""`alerter bulletin send`: a bulletin composed on the command line, confirmed and sent now."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from alerter.cli.common import configured_taxonomy, configured_transport, fail, prepared_engine

app = typer.Typer(help="Bulletins: an email to members, sent now.", no_args_is_help=True)


@app.command("send")
def bulletin_send(
    subject: Annotated[str, typer.Option(help="The email's subject.")],
    message_file: Annotated[
        Path, typer.Option(help="The introduction, in Markdown.", exists=True, dir_okay=False)
    ],
    topic: Annotated[
        list[str] | None, typer.Option(help="Send to members following this topic (repeatable).")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Send to every active member.")] = False,
    item: Annotated[
        list[int] | None, typer.Option(help="Include this stored item (repeatable, in order).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Send without asking.")] = False,
    again: Annotated[
        bool, typer.Option(help="Send even if the same bulletin went out in the last 24 hours.")
    ] = False,
    by: Annotated[str, typer.Option(help="Who is sending it, for the record.")] = "command line",
) -> None:
    """Compose a bulletin and send it now: its audience size is shown and confirmed first."""
    from alerter.bulletins import (
        BulletinDraft,
        BulletinError,
        RepeatRefused,
        audience_of,
        check_before_sending,
        results,
        save_draft,
        send_bulletin,
        start_sending,
    )
    from alerter.config import get_settings
    from alerter.db import session_scope
    from alerter.progress import progress_bar

    settings = get_settings()
    draft = BulletinDraft(
        subject=subject,
        introduction=message_file.read_text(encoding="utf-8"),
        item_ids=tuple(item or ()),
        topic_ids=tuple(topic or ()),
        everyone=everyone,
    )
    with session_scope(prepared_engine()) as session:
        taxonomy = configured_taxonomy()
        now = datetime.now(UTC)
        try:
            check_before_sending(session, taxonomy, draft, now, again=again)
        except RepeatRefused as error:
            raise fail(f"{error}; add --again to send it once more") from None
        except BulletinError as error:
            raise fail(str(error)) from None
        reached = audience_of(session, draft)
        typer.echo(
            f"audience: {len(reached.member_ids):,} members "
            f"({reached.left_out:,} who unsubscribed or were suppressed are left out)"
        )
        if not yes:
            typer.confirm("Send it now?", abort=True)
        transport = configured_transport(settings)
        bulletin = save_draft(session, taxonomy, draft, by=by, now=now)
        assert bulletin.id is not None
        try:
            start_sending(session, settings, taxonomy, bulletin.id, by=by, now=now, again=again)
        except BulletinError as error:
            raise fail(str(error)) from None
        with progress_bar(f"bulletin {bulletin.id}") as progress:
            report = send_bulletin(
                session, transport, settings, taxonomy, bulletin.id, progress=progress
            )
        outcome = results(session, bulletin.id)
    typer.echo(
        f"bulletin {bulletin.id}: sent {outcome.sent}, failed {outcome.failed}, skipped "
        f"{outcome.skipped} (unsubscribed since), still to send {outcome.to_send}"
    )
    for reason in (*report.errors, *outcome.errors):
        typer.echo(f"  {reason}", err=True)
    if outcome.to_send:
        typer.echo("the worker sends the rest when the mail service answers again", err=True)
    if outcome.failed or outcome.to_send:
        raise typer.Exit(code=1)
