"""The embedded default under real use: `alerter serve` and `alerter worker`, as separate
processes on one SQLite file, while a poll of many local feeds is under way, 20 clients use
staff and member pages at once (sign-ups and saves among them), and the worker sends a weekly
digest and immediate alerts. Nothing answers 5xx, every member gets exactly one email, and the
worker keeps beating.

Scaled down from the 30 feeds of 300 items and 2,000 requests it was reproduced with, to stay
within a minute on a loaded 2-core machine: 10 feeds of 100 items, 20 clients each making at
least 20 requests and going on until the poll has stored everything. Only loopback: the feeds,
the mail server and the web app are on 127.0.0.1."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.models import Delivery, Sighting, WorkerHeartbeat
from alerter.worker import build_scheduler
from subscriptions.links import member_link
from subscriptions.models import Frequency, Member
from subscriptions.staff import create_staff
from subscriptions.tokens import Purpose
from tests.support.fake_smtp import Mailbox
from tests.support.fake_web import FakeWeb, Reply, free_port
from tests.support.feeds import Story, rss
from tests.support.newsroom import add_subscriber, store_item
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

FEEDS = 10
ITEMS_PER_FEED = 100
CLIENTS = 20
REQUESTS_PER_CLIENT = 20  # at least; each goes on while the poll is under way
MEMBERS = 30  # half weekly, half immediate
SIGN_UPS = 15  # under the 20 an hour one client address may make
SECRET = "load test secret"
# Generous bounds, for a loaded machine: the test waits for events, never for a time.
PATIENCE_SECONDS = 180

STAFF_PAGES = ["/staff/items", "/staff/sources", "/staff/members", "/staff/deliveries"]


def feed_sources(web: FakeWeb, path: Path) -> Path:
    """FEEDS feeds of ITEMS_PER_FEED stories each, and the sources file that lists them."""
    published = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    entries = []
    for feed in range(FEEDS):
        stories = [
            Story(
                f"Trade notice {feed}-{n}: aluminium import quota update",
                f"{web.base_url}/news/{feed}/{n}",
                published - timedelta(minutes=n),
                summary="Quota volumes for the next period.",
            )
            for n in range(ITEMS_PER_FEED)
        ]
        body = rss(stories)
        # A little delay, so that the poll is still under way while the clients start.
        url = web.route(
            f"/feed/{feed}.xml",
            Reply(body=body, headers={"Content-Type": "application/rss+xml"}, delay=0.5),
        )
        entries.append(
            f'[[sources]]\nname = "Feed {feed}"\nkind = "feed"\nurl = "{url}"\n'
            f'publisher = "Publisher {feed}"\n'
        )
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def members_with_news(session: Session, now: datetime) -> list[int]:
    """MEMBERS active members on tariffs, who joined before an item on tariffs was stored."""
    joined = now - timedelta(days=2)
    ids = [
        add_subscriber(
            session,
            f"member{n}@foundry.example",
            ["tariffs"],
            joined=joined,
            frequency=Frequency.WEEKLY if n % 2 else Frequency.IMMEDIATE,
        )
        for n in range(MEMBERS)
    ]
    store_item(session, "New anti-dumping duties on aluminium extrusions", now - timedelta(days=1))
    create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, now)
    session.commit()
    return ids


def jobs_due_at_start(settings: Settings, engine: sa.Engine) -> None:
    """The worker will find its poll, dispatcher and weekly digest due the moment it starts."""
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS apscheduler_jobs"))
    scheduler = build_scheduler(settings)
    for job_id in ("poll", "dispatch", "digest-weekly"):
        scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
    scheduler.shutdown(wait=False)


def alerter_process(args: list[str], env: dict[str, str], log: Path, prelude: str = "") -> Any:
    return subprocess.Popen(
        [sys.executable, "-c", f"{prelude}from alerter.cli import app; app()", "-v", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def wait_for(
    what: str, condition: Callable[[], bool], processes: list[Any], logs: Callable[[], str]
) -> None:
    """Wait until `condition`; fail, with the processes' logs, if one exits or it never comes."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        for process in processes:
            assert process.poll() is None, f"a process exited while waiting for {what}:\n{logs()}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}:\n{logs()}"
        time.sleep(0.2)


class Clients:
    """CLIENTS threads using the web app at once, until each has made REQUESTS_PER_CLIENT
    requests and `poll_done` is set; every answer's status and every error kept."""

    def __init__(
        self, base_url: str, manage_links: list[tuple[str, str]], poll_done: threading.Event
    ) -> None:
        self.base_url = base_url
        self.manage_links = manage_links
        self.poll_done = poll_done
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.signed_up: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=PATIENCE_SECONDS)
        if any(thread.is_alive() for thread in threads):
            self.errors.append("a client never finished")

    def _client(self, n: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=PATIENCE_SECONDS) as client:
            try:
                if n % 2:
                    self._staff(client)
                else:
                    self._member(client, n)
            except httpx.HTTPError as error:
                with self.lock:
                    self.errors.append(f"client {n}: {error!r}")

    def _record(self, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.statuses[response.status_code] += 1
        return response

    def _rounds(self, requests_each: int) -> Iterator[int]:
        """Round numbers, until enough requests are made and the poll is over."""
        round_ = 0
        while round_ * requests_each < REQUESTS_PER_CLIENT or not self.poll_done.is_set():
            yield round_
            round_ += 1

    def _staff(self, client: httpx.Client) -> None:
        self._record(sign_in(client))
        for request in self._rounds(1):
            self._record(client.get(STAFF_PAGES[request % len(STAFF_PAGES)]))

    def _member(self, client: httpx.Client, n: int) -> None:
        manage, frequency = self.manage_links[n % len(self.manage_links)]
        for request in self._rounds(4):
            page = self._record(client.get(manage))
            token = manage.rsplit("/", 1)[1]
            self._record(client.get(f"/news/{token}"))
            self._record(
                client.post(
                    manage,
                    data={
                        "csrf_token": csrf(page.text),
                        "topics": ["tariffs"],
                        "frequency": frequency,
                    },
                )
            )
            address = f"new{n}-{request}@smelter.example"
            with self.lock:
                signing_up = len(self.signed_up) < SIGN_UPS
                if signing_up:
                    self.signed_up.append(address)
            if signing_up:
                form = self._record(client.get("/signup"))
                data = {"csrf_token": csrf(form.text), "email": address, "topics": ["tariffs"]}
                self._record(client.post("/signup", data=data))
            else:
                self._record(client.get("/signup"))


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    inbox = Mailbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_serve_and_worker_on_sqlite_under_load(
    database_url: str,
    env_settings: Settings,
    engine: sa.Engine,
    web: FakeWeb,
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the embedded default: a SQLite file shared by the web app and the worker")
    inbox, smtp_port = mailbox
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        member_ids = members_with_news(session, now)
        link_settings = env_settings.model_copy(update={"secret_key": SECRET, "base_url": ""})
        members = [session.get(Member, member_id) for member_id in member_ids]
        manage_links = [
            (member_link(link_settings, member, Purpose.MANAGE), member.frequency)
            for member in members
            if member is not None
        ]
    jobs_due_at_start(env_settings, engine)
    env = dict(
        os.environ,
        ALERTER_SOURCES=str(feed_sources(web, tmp_path / "load-sources.toml")),
        ALERTER_SECRET_KEY=SECRET,
        ALERTER_BASE_URL=base_url,
        ALERTER_MAIL_BACKEND="smtp",
        ALERTER_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        ALERTER_MAIL_FROM="CMF alerts <alerts@cmf.example>",
        ALERTER_PARSE_WORKERS="1",
    )
    web_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    server = alerter_process(["serve", "--port", str(port)], env, web_log)
    # The worker beats every second here instead of every 30, so that the test sees it go on.
    worker = alerter_process(
        ["worker"], env, worker_log, prelude="import alerter.worker as w; w.HEARTBEAT_SECONDS = 1; "
    )
    processes = [server, worker]

    def logs() -> str:
        return web_log.read_text()[-5000:] + worker_log.read_text()[-20000:]

    try:
        wait_for("the web app", lambda: _answers(f"{base_url}/healthz"), processes, logs)
        wait_for("the worker", lambda: _last_beat(engine) is not None, processes, logs)
        seen = FEEDS * ITEMS_PER_FEED + 1  # each feed's stories, and the one stored before
        poll_done = threading.Event()
        clients = Clients(base_url, manage_links, poll_done)
        load = threading.Thread(target=clients.run)
        load.start()
        try:
            wait_for("the poll", lambda: _count(engine, Sighting) >= seen, processes, logs)
        finally:
            poll_done.set()
            load.join()
        loaded_until = _last_beat(engine)
        expected = {f"member{n}@foundry.example" for n in range(MEMBERS)} | set(clients.signed_up)
        wait_for(
            "every email",
            lambda: expected <= {m["To"] for m in inbox.messages} and _all_settled(engine),
            processes,
            logs,
        )
        wait_for(
            "a beat after the load", lambda: _beat_since(engine, loaded_until), processes, logs
        )
        worker_alive = worker.poll() is None
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    received = Counter(message["To"] for message in inbox.messages)

    assert clients.errors == [], logs()
    assert not [status for status in clients.statuses if status >= 500], (clients.statuses, logs())
    assert sum(clients.statuses.values()) >= CLIENTS * REQUESTS_PER_CLIENT
    assert received == Counter(expected), logs()  # each member and each sign-up: exactly one
    assert worker_alive and worker.returncode == 0, logs()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _last_beat(engine: sa.Engine) -> datetime | None:
    with Session(engine) as session:
        return session.exec(select(sa.func.max(WorkerHeartbeat.beat_at))).one()


def _beat_since(engine: sa.Engine, then: datetime | None) -> bool:
    last = _last_beat(engine)
    return last is not None and then is not None and last > then


def _count(engine: sa.Engine, table: type[Sighting]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(sa.func.count()).select_from(table)).one())


def _all_settled(engine: sa.Engine) -> bool:
    """Every planned email is sent (so none can be sent again) and at least one was planned."""
    with Session(engine) as session:
        statuses = set(session.exec(select(Delivery.status)))
    return statuses == {"sent"}
