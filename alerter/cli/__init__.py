"""The `alerter` command line, one module per command group, each command a few lines over
library functions; it sits on top of everything and may import any stage and the web app."""

import logging
from typing import Annotated

import typer

from alerter.cli import bulletins, deadlines, digests, ingest, members, service, staff, topics
from alerter.cli.common import fail

app = typer.Typer(help="Policy-news alerts for UK metals trade associations.", no_args_is_help=True)


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    # Imported here, as every command imports the library: `alerter --help` needs none of it.
    from pydantic import ValidationError

    from alerter.config import get_settings
    from alerter.logs import configure_logging

    try:
        settings = get_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"ALERTER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        raise fail(f"bad configuration: {problems}") from None
    configure_logging(settings.log_format, logging.INFO if verbose else logging.WARNING)


# In the order `alerter --help` lists them.
for command in (
    service.worker,
    service.run,
    service.ready,
    service.demo,
    service.serve,
    ingest.poll,
    ingest.sources,
    ingest.items,
    topics.classify,
    topics.reclassify,
    topics.correct,
):
    app.command()(command)
app.add_typer(service.db_app, name="db")
app.add_typer(digests.app, name="digest")
app.add_typer(bulletins.app, name="bulletin")
app.add_typer(topics.app, name="topics")
app.add_typer(members.app, name="members")
app.add_typer(staff.app, name="staff")
app.add_typer(deadlines.app, name="deadlines")
