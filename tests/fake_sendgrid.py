"""A stand-in for SendGrid's v3 API on 127.0.0.1: Mail Send, batch IDs and cancelling scheduled
sends, with the rules alerter relies on (1,000 personalizations, send_at at most 72 hours ahead,
no cancelling later than 10 minutes before send_at). It records what it accepted and can answer
with scripted failures. `delivered()` is what recipients would get: every accepted message
whose batch was not cancelled, substitutions applied."""

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "SG.test-key"
CANCEL_CUTOFF_SECONDS = 600


@dataclass(frozen=True)
class Scripted:
    """An answer to give a Mail Send request instead of accepting it."""

    status: int
    errors: tuple[str, ...] = ("scripted failure",)
    headers: dict[str, str] = field(default_factory=dict)
    accept_anyway: bool = False  # take the message, then answer with the failure (lost answer)


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
    status: str | None = None  # None, or "cancel" / "pause" once asked
    send_at: float | None = None  # the earliest send_at of its messages


class FakeSendGrid:
    def __init__(self, *, keep_bodies: bool = True, answer_delay: float = 0.0) -> None:
        """`answer_delay`: seconds between taking a message and answering, the window in
        which a sender that dies leaves a request it cannot know was taken."""
        self.lock = threading.Lock()
        self.answer_delay = answer_delay
        self.keep_bodies = keep_bodies
        self.script: deque[Scripted] = deque()
        self.batches: dict[str, _Batch] = {}
        self.accepted: list[dict[str, Any]] = []  # Mail Send bodies taken
        self.requests: list[str] = []  # "POST /v3/mail/send", ...
        self.personalizations = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake.lock:
                    fake.requests.append(f"POST {self.path}")
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    self._answer(401, {"errors": [{"message": "authorization required"}]})
                    return
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    self._answer(400, {"errors": [{"message": "invalid JSON"}]})
                    return
                status, answer, headers = fake.handle(self.path, body)
                if self.path == "/v3/mail/send" and fake.answer_delay:
                    time.sleep(fake.answer_delay)
                self._answer(status, answer, headers)

            def do_GET(self) -> None:
                if self.path == "/_stats":  # the fake's own counters, for benchmarks
                    self._answer(200, fake.stats())
                    return
                prefix = "/v3/mail/batch/"
                batch_id = self.path.removeprefix(prefix)
                if self.path.startswith(prefix) and batch_id in fake.batches:
                    self._answer(200, {"batch_id": batch_id})
                else:
                    self._answer(400, {"errors": [{"message": "invalid batch id"}]})

            def _answer(
                self,
                status: int,
                body: dict[str, Any] | None,
                headers: dict[str, str] | None = None,
            ) -> None:
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
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

    def handle(
        self, path: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any] | None, dict[str, str] | None]:
        with self.lock:
            if path == "/v3/mail/batch":
                batch_id = uuid.uuid4().hex
                self.batches[batch_id] = _Batch()
                return 201, {"batch_id": batch_id}, None
            if path == "/v3/user/scheduled_sends":
                return self._schedule(body)
            if path == "/v3/mail/send":
                return self._send(body)
        return 404, {"errors": [{"message": f"no such endpoint {path}"}]}, None

    def _send(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        scripted = self.script.popleft() if self.script else None
        if scripted is not None and not scripted.accept_anyway:
            return scripted.status, _errors(*scripted.errors), scripted.headers
        problem = _invalid(body, self.batches)
        if problem:
            return 400, _errors(problem), {}
        self.personalizations += len(body["personalizations"])
        if "batch_id" in body:
            batch = self.batches[body["batch_id"]]
            send_at = float(body.get("send_at", time.time()))
            batch.send_at = send_at if batch.send_at is None else min(batch.send_at, send_at)
        self.accepted.append(body if self.keep_bodies else _summary(body))
        if scripted is not None:
            return scripted.status, _errors(*scripted.errors), scripted.headers
        return 202, None, {"X-Message-Id": uuid.uuid4().hex}

    def _schedule(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], None]:
        batch = self.batches.get(str(body.get("batch_id")))
        if batch is None:
            return 400, _errors("batch_id: invalid batch id"), None
        if body.get("status") not in ("cancel", "pause"):
            return 400, _errors("status: must be cancel or pause"), None
        if batch.send_at is not None and time.time() > batch.send_at - CANCEL_CUTOFF_SECONDS:
            return 400, _errors("cannot cancel within 10 minutes of send_at"), None
        batch.status = str(body["status"])
        return 201, {"batch_id": body["batch_id"], "status": batch.status}, None

    # What the recipients get -----------------------------------------------------------------

    def delivered(self) -> list[Delivered]:
        """Every message of every accepted request whose batch was not cancelled."""
        with self.lock:
            bodies = list(self.accepted)
            cancelled = {b for b, batch in self.batches.items() if batch.status == "cancel"}
        out = []
        for body in bodies:
            if body.get("batch_id") in cancelled:
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

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": len(self.requests),
                "mail_requests": sum(1 for r in self.requests if r == "POST /v3/mail/send"),
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


def _invalid(body: dict[str, Any], batches: dict[str, _Batch]) -> str | None:
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
    if "send_at" in body and float(body["send_at"]) > time.time() + 72 * 3600:
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
