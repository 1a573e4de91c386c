"""The `alerter` command line: each command a thin layer over library functions."""

import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from sqlmodel import Session

from alerter.bulletins import (
    BulletinDraft,
    BulletinError,
    RepeatRefused,
    audience_of,
    check_draft,
    check_not_repeated,
    results,
    save_draft,
    start_sending,
)
from alerter.config import Settings, get_settings
from alerter.db import create_db_engine, get_engine, migrate, session_scope
from alerter.delivery import MailSettingsError, Transport, transport_for
from alerter.ingest.clean import UnparseableDate, parse_listing_date
from alerter.ingest.poll import UnknownSource, poll_sources
from alerter.ingest.sources.catalog import (
    SourceFileError,
    list_sources,
    source_health,
    sync_source_file,
)
from alerter.ingest.store import list_items
from alerter.logs import configure_logging
from alerter.models import Item
from alerter.progress import progress_bar
from alerter.sending import (
    PlanReport,
    Waiting,
    plan_digests,
    preview,
    run_deadline_alerts,
    run_digest,
    send_bulletin,
)
from alerter.topics.classifier import Classifier, Text, describe
from alerter.topics.evaluation import evaluate, naive_topics, quality_report, side_by_side
from alerter.topics.examples import LabelledFileError, LabelledText, read_labelled, text_from_record
from alerter.topics.labelling import (
    UnknownTopic,
    correct_topic,
    learned_corrections,
    load_classifier,
    topic_counts,
    topics_of,
)
from alerter.topics.labelling import reclassify as run_reclassification
from alerter.topics.taxonomy import Taxonomy, TaxonomyError, load_taxonomy
from subscriptions.cli import members_app, staff_app
from subscriptions.members import find_member, subscriber
from subscriptions.models import Frequency

app = typer.Typer(help="Policy-news alerts for UK metals trade associations.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
digest_app = typer.Typer(help="Digests: preview what a member would get.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")
bulletin_app = typer.Typer(help="Bulletins: an email to members, sent now.", no_args_is_help=True)
app.add_typer(bulletin_app, name="bulletin")
topics_app = typer.Typer(help="The topic taxonomy and how well it classifies.")
app.add_typer(topics_app, name="topics")
app.add_typer(members_app, name="members")
app.add_typer(staff_app, name="staff")


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    try:
        settings = get_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"ALERTER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        raise _fail(f"bad configuration: {problems}") from None
    configure_logging(settings.log_format, logging.INFO if verbose else logging.WARNING)


JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _emit_json(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def _classifier(session: Session) -> Classifier:
    try:
        return load_classifier(session, get_settings().topics)
    except TaxonomyError as error:
        raise _fail(str(error)) from None


def _taxonomy(path: Path | None = None) -> Taxonomy:
    """The configured taxonomy (or the file given), without training a classifier for it."""
    try:
        return load_taxonomy(path or get_settings().topics)
    except TaxonomyError as error:
        raise _fail(str(error)) from None


def _labelled(path: Path) -> list[LabelledText]:
    try:
        return read_labelled(path)
    except LabelledFileError as error:
        raise _fail(str(error)) from None


def _transport(settings: Settings) -> Transport:
    try:
        return transport_for(settings)
    except MailSettingsError as error:
        raise _fail(str(error)) from None


def _prepared_engine() -> sa.Engine:
    """The migrated engine with the sources file synced in; exits with a clear error otherwise."""
    settings = get_settings()
    engine = get_engine()
    try:
        with session_scope(engine) as session:
            sync_source_file(session, settings.sources)
    except SourceFileError as error:
        raise _fail(str(error)) from None
    return engine


@app.command()
def worker() -> None:
    """Run the scheduled jobs: polling, digests, immediate alerts. Stops cleanly on SIGTERM."""
    from alerter.worker import SchedulerFailed, run_worker

    settings = get_settings()
    configure_logging(settings.log_format, logging.INFO)  # a service logs what it does
    _prepared_engine()
    try:
        run_worker(settings)
    except SchedulerFailed as error:
        raise _worker_failed(error) from None


def _worker_failed(error: Exception) -> typer.Exit:
    """Exit 1 saying why the worker stopped: a supervisor restarts it, staff read why."""
    typer.echo(f"error: the worker stopped: {error}", err=True)
    return typer.Exit(code=1)


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Address the web app listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the web app listens on.")] = 8000,
) -> None:
    """The whole product in one process: the web app and the scheduled worker."""
    settings = get_settings()
    configure_logging(settings.log_format, logging.INFO)
    _serve_with_worker(settings, host, port)


def _serve_with_worker(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from alerter.web.app import create_app
    from alerter.worker import build_scheduler, fail_worker, stop_scheduler, watch_scheduler

    engine = _prepared_engine()
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


@app.command()
def ready() -> None:
    """Exit 0 when alerter can work: the database answers, a worker is running, not every
    source is failing (what /readyz says, for container health checks); 1 otherwise."""
    from alerter.health import readiness

    state = readiness(create_db_engine(get_settings().database_url), datetime.now(UTC))
    _emit_json({"ready": state.ready, "problems": list(state.problems)})
    if not state.ready:
        raise typer.Exit(code=1)


@app.command()
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the web app (members' pages) on the configured database."""
    import uvicorn

    from alerter.web.app import create_app

    # X-Forwarded-For is believed only from ALERTER_TRUSTED_PROXIES (the app's own rule), not
    # from whatever uvicorn trusts by default.
    uvicorn.run(create_app(get_settings(), get_engine()), host=host, port=port, proxy_headers=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    migrate(create_db_engine(get_settings().database_url))
    typer.echo("database is up to date")


@app.command()
def poll(
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Poll only this source (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Poll every enabled source now and report what each one gave."""
    engine = _prepared_engine()
    try:
        with progress_bar("polling") as progress:
            reports = poll_sources(engine, get_settings(), names=source or (), progress=progress)
    except UnknownSource as error:
        raise _fail(str(error)) from None
    for report in reports:
        if as_json:
            _emit_json(report.public())
            continue
        if report.status == "failed" or report.status == "busy":
            typer.echo(f"{report.source}: {report.status.upper()}: {report.error}")
            continue
        fetched = "304 not modified" if report.status == "not_modified" else "fetched"
        typer.echo(
            f"{report.source}: {fetched}, {report.new} new"
            + (" (backlog)" if report.backlog and report.new else "")
            + f", {report.updated} updated, {report.merged} already known from another source,"
            f" {report.skipped} skipped"
        )
        for warning in report.warnings:
            typer.echo(f"  warning: {warning}")


@app.command()
def sources(as_json: JsonOption = False) -> None:
    """List sources with their health."""
    engine = _prepared_engine()
    with session_scope(engine) as session:
        for row in list_sources(session):
            health = source_health(row)
            if as_json:
                _emit_json(health)
                continue
            state = (
                "disabled"
                if not row.enabled
                else (
                    f"FAILING x{row.consecutive_failures}: {row.last_error}"
                    if row.last_error
                    else ("ok" if row.last_success_at else "not polled yet")
                )
            )
            typer.echo(f"{row.name} [{row.kind}] {state}")
            typer.echo(f"  {row.url}")
            typer.echo(
                f"  last success: {health['last_success'] or 'never'}; "
                f"next poll: {health['next_poll'] or 'now'}"
            )
            for warning in row.last_warnings:
                typer.echo(f"  warning: {warning}")


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_listing_date(value)
    except UnparseableDate:
        raise _fail(f"--since: cannot read {value!r} as a date (try 2026-02-04)") from None


@app.command()
def items(
    as_json: JsonOption = False,
    since: Annotated[
        str | None, typer.Option(help="Only items published on or after this date.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only items this source carried.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many items.")] = None,
) -> None:
    """List stored items, newest first."""
    since_time = _parse_since(since)
    engine = _prepared_engine()
    with session_scope(engine) as session:
        listed = list_items(session, since=since_time, source_name=source, limit=limit)
        topics = topics_of(session, [stored.item.id for stored in listed if stored.item.id])
        for stored in listed:
            item = stored.item
            item_topics = topics.get(item.id or 0, [])
            if as_json:
                _emit_json(
                    {
                        "id": item.id,
                        "source": stored.source,
                        "sources": stored.sources,
                        "title": item.title,
                        "summary": item.summary,
                        "url": item.url,
                        "published": item.published_at.isoformat(),
                        "first_seen": item.first_seen_at.isoformat(),
                        "updated": item.updated_at.isoformat() if item.updated_at else None,
                        "backlog": item.backlog,
                        "topics": [row.topic_id for row in item_topics],
                        "evidence": {
                            row.topic_id: [describe(e) for e in row.evidence] for row in item_topics
                        },
                        "metadata": item.source_metadata,
                    }
                )
                continue
            when = item.published_at.astimezone(UTC).strftime("%Y-%m-%d")
            flag = " [backlog]" if item.backlog else ""
            typer.echo(f"{item.id}  {when}  {', '.join(stored.sources)}: {item.title}{flag}")
            typer.echo(f"    {item.url}")
            if item_topics:
                typer.echo(f"    topics: {', '.join(row.topic_id for row in item_topics)}")


@app.command()
def classify(
    eval_file: Annotated[
        Path | None,
        typer.Option(
            "--eval", help="JSON lines with expected `topics`: print precision, recall, F1."
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline", help="With --eval: the naive keyword baseline's scores beside them."
        ),
    ] = False,
) -> None:
    """Classify JSON lines from standard input ({"title", "summary"?}), one JSON line out each."""
    engine = get_engine()
    with session_scope(engine) as session:
        classifier = _classifier(session)
    if eval_file is not None:
        for row in _scores(classifier, _labelled(eval_file), baseline=baseline):
            typer.echo(row)
        return
    batch: list[str] = []
    for line in sys.stdin:
        batch.append(line)
        if len(batch) == 500:
            _classify_lines(classifier, batch)
            batch = []
    _classify_lines(classifier, batch)


def _scores(classifier: Classifier, labelled: list[LabelledText], *, baseline: bool) -> list[str]:
    ids = classifier.taxonomy.ids
    expected = [item.topics for item in labelled]
    predicted = [c.topics for c in classifier.classify_many([item.text for item in labelled])]
    report = evaluate(ids, expected, predicted)
    if not baseline:
        return report.lines()
    naive = [naive_topics(item.text, ids) for item in labelled]
    return side_by_side({"classifier": report, "naive keywords": evaluate(ids, expected, naive)})


def _classify_lines(classifier: Classifier, lines: list[str]) -> None:
    inputs = [_text_from_line(line) for line in lines if line.strip()]
    texts = [text for text in inputs if isinstance(text, Text)]
    results = iter(classifier.classify_many(texts))
    for text in inputs:
        _emit_json(next(results).public() if isinstance(text, Text) else {"error": text})
    sys.stdout.flush()


def _text_from_line(line: str) -> Text | str:
    """The line as a Text, or the reason it is not one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not JSON: {error.msg} at column {error.colno}"
    return text_from_record(record)


@topics_app.callback(invoke_without_command=True)
def topics(context: typer.Context, as_json: JsonOption = False) -> None:
    """The topic taxonomy with the number of items on each topic."""
    if context.invoked_subcommand is not None:
        return
    taxonomy = _taxonomy()
    engine = get_engine()
    with session_scope(engine) as session:
        counts = topic_counts(session)
    for topic in taxonomy.topics:
        if as_json:
            _emit_json(
                {
                    "id": topic.id,
                    "label": topic.label,
                    "description": topic.description,
                    "items": counts.get(topic.id, 0),
                }
            )
        else:
            typer.echo(
                f"{topic.id:<20} {counts.get(topic.id, 0):>6}  {topic.label}: {topic.description}"
            )


@topics_app.command("quality")
def topics_quality(
    proposed: Annotated[
        Path | None,
        typer.Option(help="An edited copy of the topics file: its scores beside today's."),
    ] = None,
    labelled: Annotated[
        list[Path] | None,
        typer.Option("--labelled", help="A labelled JSON-lines file to score on as well."),
    ] = None,
) -> None:
    """Precision and recall per topic on the labelled sets, and how a proposed topics file
    would move them, before it is saved."""
    taxonomies = {"now": _taxonomy()}
    if proposed is not None:
        taxonomies["proposed"] = _taxonomy(proposed)
    files = [(str(path), _labelled(path)) for path in labelled or []]
    engine = get_engine()
    with session_scope(engine) as session:
        corrections = learned_corrections(session)
    for line in quality_report(taxonomies, corrections, files):
        typer.echo(line)


@app.command()
def reclassify(
    since: Annotated[
        str | None, typer.Option(help="Only items published on or after this date.")
    ] = None,
) -> None:
    """Classify stored items again, e.g. after editing the topics file. Staff corrections stay."""
    since_time = _parse_since(since)
    engine = get_engine()
    with session_scope(engine) as session, progress_bar("reclassifying") as progress:
        done = run_reclassification(
            session, _classifier(session), since=since_time, progress=progress
        )
    typer.echo(f"reclassified {done} items")


@app.command()
def correct(
    item_id: Annotated[int, typer.Argument(help="The item's id (see `alerter items`).")],
    add: Annotated[
        list[str] | None, typer.Option("--add", help="Topic to put on the item.")
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Topic to take off the item.")
    ] = None,
    by: Annotated[str, typer.Option(help="Who decided: recorded with the correction.")] = "staff",
) -> None:
    """Correct an item's topics. The correction wins over the classifier for this item and
    teaches it about similar ones."""
    engine = get_engine()
    with session_scope(engine) as session:
        taxonomy = _taxonomy()
        if session.get(Item, item_id) is None:
            raise _fail(f"no item {item_id}")
        try:
            for topic_id, present in [(t, True) for t in add or []] + [
                (t, False) for t in remove or []
            ]:
                correct_topic(
                    session,
                    taxonomy,
                    item_id,
                    topic_id,
                    present=present,
                    corrected_by=by,
                    now=datetime.now(UTC),
                )
        except UnknownTopic as error:
            raise _fail(str(error)) from None
        now_on = [row.topic_id for row in topics_of(session, [item_id]).get(item_id, [])]
    typer.echo(f"item {item_id} topics: {', '.join(now_on) or 'none'}")


def _echo_plan(plan: PlanReport) -> None:
    typer.echo(
        f"{plan.members} members: {plan.planned} digests planned, {plan.nothing_new} with "
        f"nothing new, {plan.already_planned} already planned this period"
    )


@digest_app.command("preview")
def digest_preview(
    email: Annotated[str, typer.Argument(help="The member's email address.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the HTML part here; otherwise print the text part.")
    ] = None,
) -> None:
    """Render the digest this member would get now, without sending it."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        member = find_member(session, email.strip().lower())
        if member is None or member.id is None:
            raise _fail(f"no member with the address {email}")
        receiving = subscriber(session, member.id)
        if receiving is None:
            raise _fail(f"{member.email} receives no alerts (status: {member.status})")
        taxonomy = _taxonomy()
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


@digest_app.command("send")
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
    settings = get_settings()
    with session_scope(get_engine()) as session:
        taxonomy = _taxonomy()
        now = datetime.now(UTC)
        if dry_run:
            _echo_plan(plan_digests(session, frequency, now, dry_run=True))
            return
        transport = _transport(settings)
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


deadlines_app = typer.Typer(
    help="Deadline reminders and outcome alerts (the worker sends them each morning).",
    no_args_is_help=True,
)
app.add_typer(deadlines_app, name="deadlines")


@deadlines_app.command("send")
def deadlines_send() -> None:
    """Plan the deadline reminders due today and the outcome alerts due, and send them: what
    the worker's deadline-alerts job does. Running it again the same day sends nothing more."""
    settings = get_settings()
    with session_scope(get_engine()) as session:
        transport = _transport(settings)
        report = run_deadline_alerts(
            session,
            transport,
            settings,
            _taxonomy(),
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


def _echo_waiting(waiting: Waiting) -> None:
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


@bulletin_app.command("send")
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
    settings = get_settings()
    draft = BulletinDraft(
        subject=subject,
        introduction=message_file.read_text(encoding="utf-8"),
        item_ids=tuple(item or ()),
        topic_ids=tuple(topic or ()),
        everyone=everyone,
    )
    with session_scope(_prepared_engine()) as session:
        taxonomy = _taxonomy()
        now = datetime.now(UTC)
        try:
            check_draft(session, taxonomy, draft)
            if not again:
                check_not_repeated(session, draft, now)
        except RepeatRefused as error:
            raise _fail(f"{error}; add --again to send it once more") from None
        except BulletinError as error:
            raise _fail(str(error)) from None
        reached = audience_of(session, draft)
        typer.echo(
            f"audience: {len(reached.member_ids):,} members "
            f"({reached.left_out:,} who unsubscribed or were suppressed are left out)"
        )
        if not yes:
            typer.confirm("Send it now?", abort=True)
        transport = _transport(settings)
        bulletin = save_draft(session, taxonomy, draft, by=by, now=now)
        assert bulletin.id is not None
        try:
            start_sending(session, settings, taxonomy, bulletin.id, by=by, now=now, again=again)
        except BulletinError as error:
            raise _fail(str(error)) from None
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
