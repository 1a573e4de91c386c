"""A stand-in for SendGrid's v3 API on 127.0.0.1: Mail Send, batch ids and scheduled sends,
with the rules SendGrid documents and alerter relies on:

- at most 1,000 personalizations a request; `send_at` at most 72 hours ahead; a request with a
  `batch_id` must say when it goes (`send_at`);
- a batch can be cancelled or paused no later than 10 minutes before its `send_at`, and at most
  10 batches can be cancelled or paused at one time: an 11th is refused with a 400;
- a cancelled batch's messages are discarded when its `send_at` comes; deleting the
  cancellation before then lets them go out after all, deleting it afterwards frees its place
  among the 10.

Its clock is the test's (`clock`, seconds since the epoch), so that tests move time on rather
than wait for it. It records what it accepted and can answer with scripted failures, or with
faults drawn at random at a given rate. `delivered()` and `received()` are what recipients
get, or will get at `send_at`: every accepted message whose batch is neither cancelled nor
discarded, substitutions applied."""

import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "SG.test-key"
CANCEL_CUTOFF_SECONDS = 600
MOST_CANCELLED = 10
TOO_MANY_CANCELLED = "You can't pause or cancel more than 10 different batches at one time"
GATEWAY_TIMEOUT_PAGE = "<html><body><h1>504 Gateway Time-out</h1></body></html>"


@dataclass(frozen=True)
class Scripted:
    """An answer to give a Mail Send request instead of accepting it."""

    status: int
    errors: tuple[str, ...] = ("scripted failure",)
    headers: dict[str, str] = field(default_factory=dict)
    accept_anyway: bool = False  # take the message, then answer with the failure (lost answer)
    page: str | None = None  # a body that is not SendGrid's, such as a gateway's error page
    hang_up: bool = False  # close the connection without answering


def gateway_timeout(*, accept_anyway: bool) -> Scripted:
    """A load balancer's 504 page: SendGrid's documentation says nothing of what it means."""
    return Scripted(504, accept_anyway=accept_anyway, page=GATEWAY_TIMEOUT_PAGE)


class Faults:
    """Mail Send failures at random, at `rate`: half 429 with Retry-After: 1, half SendGrid's
    own 500 with its error body. Both are answers SendGrid documents: nothing was taken."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)

    def next(self) -> Scripted | None:
        if self.rng.random() >= self.rate:
            return None
        if self.rng.random() < 0.5:
            return Scripted(429, ("too many requests",), {"Retry-After": "1"})
        return Scripted(500, ("internal server error",))


@dataclass(frozen=True)
class Delivered:
    to: str
    subject: str
    text: str
    html: str
    delivery_id: str | None
    categories: tuple[str, ...]
    headers: dict[str, str]


@dataclass
class _Batch:
    status: str | None = None  # None, or "cancel" / "pause" while asked
    send_at: float | None = None  # the earliest send_at of its messages
    discarded: bool = False  # cancelled when its send_at came: its messages never go out


Answer = tuple[int, Any, dict[str, str] | None]


class FakeSendGrid:
    def __init__(
        self,
        *,
        keep_bodies: bool = True,
        answer_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
    ) -> None:
        """`answer_delay`: seconds between taking a message and answering, the window in
        which a sender that dies leaves a request it cannot know was taken."""
        self.lock = threading.Lock()
        self.answer_delay = answer_delay
        self.keep_bodies = keep_bodies
        self.clock = clock
        self.faults = faults
        self.script: deque[Scripted] = deque()
        self.batches: dict[str, _Batch] = {}
        self.accepted: list[dict[str, Any]] = []  # Mail Send bodies taken
        self.requests: list[str] = []  # "POST /v3/mail/send", ...
        self.personalizations = 0
        self.refused_cancels = 0
        self.failures = 0  # Mail Send requests answered with a scripted or random failure
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                if self.path == "/_stats":  # the fake's own counters, for benchmarks
                    self._answer(200, fake.stats())
                    return
                self._serve("GET")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake.lock:
                    fake.requests.append(f"{method} {self.path}")
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    self._answer(401, _errors("authorization required"))
                    return
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    self._answer(400, _errors("invalid JSON"))
                    return
                if method == "POST" and self.path == "/v3/mail/send":
                    scripted = fake.next_failure()
                    status, answer, headers = fake.mail_send(body, scripted)
                    if fake.answer_delay:
                        time.sleep(fake.answer_delay)
                    if scripted is not None and scripted.hang_up:
                        self.close_connection = True
                        return
                    if scripted is not None and scripted.page is not None:
                        self._answer_page(status, scripted.page)
                        return
                else:
                    status, answer, headers = fake.handle(method, self.path, body)
                self._answer(status, answer, headers)

            def _answer(
                self, status: int, body: Any, headers: dict[str, str] | None = None
            ) -> None:
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _answer_page(self, status: int, page: str) -> None:
                payload = page.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeSendGrid":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # The API ---------------------------------------------------------------------------------

    def next_failure(self) -> Scripted | None:
        with self.lock:
            if self.script:
                failure: Scripted | None = self.script.popleft()
            else:
                failure = self.faults.next() if self.faults is not None else None
            self.failures += failure is not None
            return failure

    def handle(self, method: str, path: str, body: dict[str, Any]) -> Answer:
        scheduled = "/v3/user/scheduled_sends"
        with self.lock:
            if (method, path) == ("POST", "/v3/mail/batch"):
                batch_id = uuid.uuid4().hex
                self.batches[batch_id] = _Batch()
                return 201, {"batch_id": batch_id}, None
            if method == "GET" and path.startswith("/v3/mail/batch/"):
                batch_id = path.removeprefix("/v3/mail/batch/")
                if batch_id in self.batches:
                    return 200, {"batch_id": batch_id}, None
                return 400, _errors("invalid batch id"), None
            if (method, path) == ("POST", scheduled):
                return self._cancel(body)
            if method == "GET" and path.startswith(f"{scheduled}/"):
                batch = self.batches.get(path.removeprefix(f"{scheduled}/"))
                if batch is None or batch.status is None:
                    return 200, [], None
                return 200, [{"batch_id": path.rsplit("/", 1)[1], "status": batch.status}], None
            if method == "DELETE" and path.startswith(f"{scheduled}/"):
                return self._delete_cancellation(path.removeprefix(f"{scheduled}/"))
        return 404, _errors(f"no such endpoint {method} {path}"), None

    def mail_send(self, body: dict[str, Any], scripted: Scripted | None) -> Answer:
        with self.lock:
            if scripted is not None and not scripted.accept_anyway:
                return scripted.status, _errors(*scripted.errors), scripted.headers
            problem = _invalid(body, self.batches, self.clock())
            if problem:
                return 400, _errors(problem), {}
            self.personalizations += len(body["personalizations"])
            if "batch_id" in body:
                batch = self.batches[body["batch_id"]]
                send_at = float(body["send_at"])
                batch.send_at = send_at if batch.send_at is None else min(batch.send_at, send_at)
            self.accepted.append(body if self.keep_bodies else _summary(body))
            if scripted is not None:
                return scripted.status, _errors(*scripted.errors), scripted.headers
            return 202, None, {"X-Message-Id": uuid.uuid4().hex}

    def _cancel(self, body: dict[str, Any]) -> Answer:
        batch_id = str(body.get("batch_id"))
        batch = self.batches.get(batch_id)
        if batch is None:
            return 400, _errors("batch_id: invalid batch id"), None
        if body.get("status") not in ("cancel", "pause"):
            return 400, _errors("status: must be cancel or pause"), None
        if batch.status is not None:
            return 400, _errors("batch_id: this batch already has a status; update it"), None
        if batch.send_at is not None and self.clock() > batch.send_at - CANCEL_CUTOFF_SECONDS:
            return 400, _errors("cannot cancel within 10 minutes of send_at"), None
        if sum(1 for b in self.batches.values() if b.status is not None) >= MOST_CANCELLED:
            self.refused_cancels += 1
            return 400, _errors(TOO_MANY_CANCELLED), None
        batch.status = str(body["status"])
        return 201, {"batch_id": batch_id, "status": batch.status}, None

    def _delete_cancellation(self, batch_id: str) -> Answer:
        batch = self.batches.get(batch_id)
        if batch is None or batch.status is None:
            return 404, _errors("batch id not found"), None
        if batch.send_at is not None and self.clock() >= batch.send_at:
            batch.discarded = batch.status == "cancel"  # its send_at came while cancelled
        batch.status = None
        return 204, None, None

    # What the recipients get -----------------------------------------------------------------

    def delivered(self) -> list[Delivered]:
        """Every message of every accepted request whose batch is neither cancelled nor
        discarded: what recipients get, or will get at its send_at."""
        with self.lock:
            bodies = list(self.accepted)
            withheld = {
                batch_id
                for batch_id, batch in self.batches.items()
                if batch.status == "cancel" or batch.discarded
            }
        out = []
        for body in bodies:
            if body.get("batch_id") in withheld:
                continue
            for person in body["personalizations"]:
                substitute = _substituter(person.get("substitutions", {}))
                parts = {c["type"]: c["value"] for c in body.get("content", [])}
                out.append(
                    Delivered(
                        to=person["to"][0]["email"],
                        subject=substitute(body.get("subject", "")),
                        text=substitute(parts.get("text/plain", "")),
                        html=substitute(parts.get("text/html", "")),
                        delivery_id=person.get("custom_args", {}).get("delivery_id"),
                        categories=tuple(body.get("categories", ())),
                        headers=dict(person.get("headers", {})),
                    )
                )
        return out

    def received(self) -> Counter[str]:
        """How many emails each address gets."""
        return Counter(d.to for d in self.delivered())

    def cancelled(self) -> int:
        """Batches cancelled or paused now: SendGrid allows at most 10."""
        with self.lock:
            return sum(1 for b in self.batches.values() if b.status is not None)

    def stats(self) -> dict[str, Any]:
        received = self.received()
        with self.lock:
            return {
                "received_once": sum(1 for n in received.values() if n == 1),
                "received_more": sum(1 for n in received.values() if n > 1),
                "faults": self.failures,
                "requests": len(self.requests),
                "mail_requests": sum(1 for r in self.requests if r == "POST /v3/mail/send"),
                "batch_requests": sum(1 for r in self.requests if r == "POST /v3/mail/batch"),
                "cancel_requests": sum(
                    1 for r in self.requests if r == "POST /v3/user/scheduled_sends"
                ),
                "refused_cancels": self.refused_cancels,
                "personalizations": self.personalizations,
                "recipients": len(
                    {p["to"][0]["email"] for b in self.accepted for p in b["personalizations"]}
                ),
            }

    def mail_requests(self) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r == "POST /v3/mail/send")


def _errors(*messages: str) -> dict[str, Any]:
    return {"errors": [{"message": m, "field": None} for m in messages]}


def _invalid(body: dict[str, Any], batches: dict[str, _Batch], now: float) -> str | None:
    """What SendGrid would refuse in this Mail Send body, if anything."""
    people = body.get("personalizations")
    if not isinstance(people, list) or not 1 <= len(people) <= 1000:
        return "personalizations: between 1 and 1000 are required"
    if any(not p.get("to") for p in people):
        return "personalizations.to: every personalization needs a recipient"
    if not body.get("from", {}).get("email"):
        return "from.email: required"
    types = [c.get("type") for c in body.get("content", [])]
    if not types or ("text/plain" in types and types[0] != "text/plain"):
        return "content: text/plain must come first"
    if len(body.get("categories", [])) > 10:
        return "categories: at most 10"
    for person in people:
        if len(json.dumps(person.get("substitutions", {}))) > 10_000:
            return "personalizations.substitutions: at most 10,000 bytes"
    if "batch_id" in body and body["batch_id"] not in batches:
        return "batch_id: invalid batch id"
    if "batch_id" in body and "send_at" not in body:
        return "send_at: a batch's messages need a time to be sent"
    if "send_at" in body and float(body["send_at"]) > now + 72 * 3600:
        return "send_at: cannot be more than 72 hours ahead"
    return None


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    """A body without its content, for benchmarks that only count."""
    return {
        "batch_id": body.get("batch_id"),
        "personalizations": [
            {"to": p["to"], "custom_args": p.get("custom_args", {})}
            for p in body["personalizations"]
        ],
    }


def _substituter(substitutions: dict[str, str]) -> Any:
    def substitute(text: str) -> str:
        for tag, value in substitutions.items():
            text = text.replace(tag, value)
        return text

    return substitute
