"""Running alerter: the worker, the web app, both in one process, the demo, the readiness
check and the schema upgrade."""

import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from alerter.cli.common import emit_json, prepared_engine

if TYPE_CHECKING:
    from alerter.config import Settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def worker() -> None:
    """Run the scheduled jobs: polling, digests, immediate alerts. Stops cleanly on SIGTERM."""
    from alerter.config import get_settings
    from alerter.logs import configure_logging
    from alerter.worker import SchedulerFailed, run_worker

    settings = get_settings()
    configure_logging(settings.log_format, logging.INFO)  # a service logs what it does
    prepared_engine()
    try:
        run_worker(settings)
    except SchedulerFailed as error:
        raise _worker_failed(error) from None


def _worker_failed(error: Exception) -> typer.Exit:
    """Exit 1 saying why the worker stopped: a supervisor restarts it, staff read why."""
    typer.echo(f"error: the worker stopped: {error}", err=True)
    return typer.Exit(code=1)


def run(
    host: Annotated[str, typer.Option(help="Address the web app listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the web app listens on.")] = 8000,
) -> None:
    """The whole product in one process: the web app and the scheduled worker."""
    from alerter.config import get_settings
    from alerter.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, logging.INFO)
    _serve_with_worker(settings, host, port)


def _serve_with_worker(settings: "Settings", host: str, port: int) -> None:
    import uvicorn

    from alerter.web.app import create_app
    from alerter.worker import build_scheduler, fail_worker, stop_scheduler, watch_scheduler

    engine = prepared_engine()
    scheduler = build_scheduler(settings)
    scheduler.resume()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine), host=host, port=port, proxy_headers=False)
    )
    # A scheduler that can no longer run jobs stops the web app too: the process exits non-zero
    # and its supervisor restarts the whole product.
    problems: list[str] = []
    stopping = threading.Event()

    def watch() -> None:
        problem = watch_scheduler(scheduler, stopping)
        if problem is not None:
            problems.append(problem)
            server.should_exit = True

    watcher = threading.Thread(target=watch, name="scheduler-watch", daemon=True)
    watcher.start()
    typer.echo(f"alerter: web app on http://{host}:{port}, worker running; Ctrl-C stops both")
    # Uvicorn stops on SIGTERM, then raises it again; exiting through Python instead lets the
    # scheduler finish its jobs below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.run()
    finally:
        stopping.set()
        watcher.join()
        if not problems:
            stop_scheduler(scheduler)
    if problems:
        raise _worker_failed(fail_worker(scheduler, problems[0]))


def ready() -> None:
    """Exit 0 when alerter can work: the database answers, a worker is running, not every
    source is failing (what /readyz says, for container health checks); 1 otherwise."""
    from alerter.config import get_settings
    from alerter.db import create_db_engine
    from alerter.health import readiness

    state = readiness(create_db_engine(get_settings().database_url), datetime.now(UTC))
    emit_json({"ready": state.ready, "problems": list(state.problems)})
    if not state.ready:
        raise typer.Exit(code=1)


def demo(
    folder: Annotated[
        Path, typer.Option(help="Where the demo keeps its database and outbox.")
    ] = Path("alerter-demo"),
    port: Annotated[int, typer.Option(help="Port of the demo's web app.")] = 8000,
) -> None:
    """See alerter work with no network and no credentials: sample sources, members, digests
    in an outbox folder, and the web app and worker running."""
    from alerter.demo import STAFF_EMAIL, prepare, run_demo

    def say(message: str) -> None:
        typer.echo(f"  {message}")

    typer.echo(f"alerter demo in {folder}/")
    settings, news = prepare(folder, port, say)
    result = run_demo(settings, news, say)
    typer.echo(
        f"""
Look at:
  the digests       {result.outbox}/ ({result.digests} .eml files; open one in a mail program)
  a member's page   {result.manage_link}
  the staff console {settings.base_url}/staff  ({STAFF_EMAIL}, password {result.staff_password})
  members sign up   {settings.base_url}/signup
"""
    )
    _serve_with_worker(settings, "127.0.0.1", port)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the web app (members' pages) on the configured database."""
    import uvicorn

    from alerter.config import get_settings
    from alerter.db import get_engine
    from alerter.web.app import create_app

    # X-Forwarded-For is believed only from ALERTER_TRUSTED_PROXIES (the app's own rule), not
    # from whatever uvicorn trusts by default.
    uvicorn.run(create_app(get_settings(), get_engine()), host=host, port=port, proxy_headers=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from alerter.config import get_settings
    from alerter.db import create_db_engine, migrate

    migrate(create_db_engine(get_settings().database_url))
    typer.echo("database is up to date")
