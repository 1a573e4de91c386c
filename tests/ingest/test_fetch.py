"""The fetcher against misbehaving servers: slow, huge, compressed, redirecting, refusing, busy."""

import asyncio
import gzip
import itertools
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from alerter.ingest.fetch import BodyTooLarge, Fetched, Fetcher, FetchError, NotModified, Validators
from tests.support.fake_web import FakeWeb, Reply, Request

CONTACT_URL = "https://alerter.example/contact"
NO_VALIDATORS = Validators()
DEADLINE = 1.0
# Slack for thread scheduling and teardown on a loaded 2-core machine: generous, since the
# fetcher's own "within 1 s" error (not the test's guard at five deadlines) is what shows
# that the deadline held.
DEADLINE_SLACK = 3.0


def fetch(
    url: str,
    validators: Validators = NO_VALIDATORS,
    *,
    deadline_seconds: float = DEADLINE,
    max_bytes: int = 1_000_000,
    per_host: int = 4,
) -> Fetched | NotModified:
    """One fetch with a fresh Fetcher, as a poll cycle would make it. A fetcher that ignores
    its deadline fails the test with TimeoutError instead of hanging it."""

    async def run() -> Fetched | NotModified:
        async with Fetcher(
            deadline_seconds=deadline_seconds,
            max_bytes=max_bytes,
            per_host=per_host,
            contact_url=CONTACT_URL,
        ) as fetcher:
            return await asyncio.wait_for(
                fetcher.fetch(url, validators), timeout=deadline_seconds * 5
            )

    return asyncio.run(run())


def fetched(url: str, *, max_bytes: int = 1_000_000) -> Fetched:
    """A fetch that must bring back a body."""
    outcome = fetch(url, max_bytes=max_bytes)
    assert isinstance(outcome, Fetched)
    return outcome


@contextmanager
def raw_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A bare TCP server on 127.0.0.1 that hands each connection to `answer`, for replies no
    well-behaved HTTP server would send; yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stopped = threading.Event()

    def handle(connection: socket.socket) -> None:
        with connection, suppress(OSError):  # the fetcher hung up, as it should
            answer(connection)

    def serve() -> None:
        while not stopped.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopped.set()
        thread.join()
        listener.close()


def read_request(connection: socket.socket) -> None:
    received = b""
    while b"\r\n\r\n" not in received:
        piece = connection.recv(4096)
        if not piece:
            return
        received += piece


def gzip_of_zeros(size: int) -> bytes:
    """A gzip stream of `size` zero bytes, built without holding them all in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, compressor.flush()])


# Time bounds


def test_a_server_dripping_the_body_forever_fails_at_the_deadline(web: FakeWeb) -> None:
    url = web.route("/drip", Reply(chunks=itertools.repeat(b"x"), chunk_delay=0.2))
    started = time.monotonic()

    with pytest.raises(FetchError, match=r"within 1 s"):
        fetch(url)

    assert time.monotonic() - started < DEADLINE + DEADLINE_SLACK


def test_a_server_dripping_its_headers_fails_at_the_deadline() -> None:
    def drip_headers(connection: socket.socket) -> None:
        read_request(connection)
        for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: "):
            connection.sendall(bytes([byte]))
            time.sleep(0.2)

    with raw_server(drip_headers) as url:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"within 1 s"):
            fetch(url + "/")
        assert time.monotonic() - started < DEADLINE + DEADLINE_SLACK


def test_a_server_that_never_answers_fails_at_the_deadline() -> None:
    # Listening but never accepting: the kernel completes the connection, nobody replies.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        started = time.monotonic()

        with pytest.raises(FetchError, match=r"within 1 s"):
            fetch(url)

        assert time.monotonic() - started < DEADLINE + DEADLINE_SLACK


# Size bounds


def test_a_body_declared_larger_than_the_cap_is_refused(web: FakeWeb) -> None:
    url = web.route("/big", Reply(body=b"x" * 100_001))

    with pytest.raises(BodyTooLarge, match=r"larger than 100,000 bytes"):
        fetch(url, max_bytes=100_000)


def test_a_declared_length_over_the_cap_is_refused_before_reading_the_body() -> None:
    def promise_a_lot(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n")
        time.sleep(DEADLINE * 3)  # the body never comes; only the header can justify refusing

    # Refused on the header alone: reading the body would have run into the deadline, a
    # FetchError of another kind.
    with raw_server(promise_a_lot) as url, pytest.raises(BodyTooLarge, match="larger than"):
        fetch(url + "/", max_bytes=100_000)


def test_a_streamed_body_without_length_is_refused_once_past_the_cap(web: FakeWeb) -> None:
    url = web.route("/stream", Reply(chunks=itertools.repeat(b"x" * 10_000), chunk_delay=0.001))

    with pytest.raises(BodyTooLarge):
        fetch(url, max_bytes=100_000)


def test_a_body_exactly_at_the_cap_is_accepted(web: FakeWeb) -> None:
    url = web.route("/edge", Reply(chunks=[b"x" * 50_000, b"y" * 50_000]))

    assert fetched(url, max_bytes=100_000).document.body == b"x" * 50_000 + b"y" * 50_000


def test_a_gzip_body_expanding_exactly_to_the_cap_is_accepted(web: FakeWeb) -> None:
    url = web.serve_bytes("/edge.gz", b"z" * 100_000, "text/plain", gzipped=True)

    assert fetched(url, max_bytes=100_000).document.body == b"z" * 100_000


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip_of_zeros(50 * 1024 * 1024)
    web = FakeWeb().start()
    url = web.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        started = time.monotonic()
        with pytest.raises(BodyTooLarge, match=r"after decompression"):
            fetch(url, max_bytes=1_000_000)
        took = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        web.stop()

    assert len(bomb) < 100_000
    assert peak < 10 * 1024 * 1024
    assert took < 30  # inflating all 50 MB under tracemalloc takes minutes; refusing, a moment


# Decoding


def test_a_gzip_body_is_decoded(web: FakeWeb) -> None:
    url = web.serve_bytes("/feed.xml", b"<rss>news</rss>", "application/rss+xml", gzipped=True)

    document = fetched(url).document

    assert document.body == b"<rss>news</rss>"
    assert document.content_type == "application/rss+xml"


def test_a_gzip_body_arriving_in_many_pieces_is_decoded(web: FakeWeb) -> None:
    text = b"".join(b"line %d of the news\n" % n for n in range(20_000))
    packed = gzip.compress(text)
    pieces = [packed[at : at + 777] for at in range(0, len(packed), 777)]
    url = web.route("/long.gz", Reply(chunks=pieces, headers={"Content-Encoding": "gzip"}))

    assert fetched(url).document.body == text


def test_a_deflate_body_is_decoded(web: FakeWeb) -> None:
    url = web.route(
        "/deflate",
        Reply(body=zlib.compress(b"deflated news"), headers={"Content-Encoding": "deflate"}),
    )

    assert fetched(url).document.body == b"deflated news"


def test_a_raw_deflate_body_is_decoded(web: FakeWeb) -> None:
    # Some servers send "deflate" without the zlib wrapper the standard asks for.
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(b"raw deflated news") + compressor.flush()
    url = web.route("/raw-deflate", Reply(body=raw, headers={"Content-Encoding": "deflate"}))

    assert fetched(url).document.body == b"raw deflated news"


def test_a_corrupt_gzip_body_is_a_fetch_error(web: FakeWeb) -> None:
    url = web.route(
        "/corrupt.gz", Reply(body=b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"})
    )

    with pytest.raises(FetchError, match=r"could not be decompressed"):
        fetch(url)


def test_a_truncated_gzip_body_is_a_fetch_error(web: FakeWeb) -> None:
    packed = gzip.compress(b"a story that gets cut off " * 100)
    url = web.route(
        "/cut.gz", Reply(chunks=[packed[: len(packed) // 2]], headers={"Content-Encoding": "gzip"})
    )

    with pytest.raises(FetchError, match=r"ended early"):
        fetch(url)


def test_an_encoding_alerter_did_not_ask_for_is_a_fetch_error(web: FakeWeb) -> None:
    url = web.route("/br", Reply(body=b"\x00\x01", headers={"Content-Encoding": "br"}))

    with pytest.raises(FetchError, match=r"did not ask for: br"):
        fetch(url)


# Redirects


def test_a_redirect_loop_is_a_fetch_error(web: FakeWeb) -> None:
    url = web.route("/a", Reply(302, headers={"Location": "/b"}))
    web.route("/b", Reply(302, headers={"Location": "/a"}))

    with pytest.raises(FetchError, match=r"redirect loop"):
        fetch(url)


def test_a_temporary_redirect_is_followed_without_moving_the_source(web: FakeWeb) -> None:
    url = web.route("/old", Reply(302, headers={"Location": "/new"}))
    web.route("/new", Reply(body=b"here now"))

    result = fetched(url)

    assert result.document.body == b"here now"
    assert result.document.url == web.url("/new")
    assert result.moved_to is None


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_says_where_the_source_moved(web: FakeWeb, status: int) -> None:
    url = web.route("/old", Reply(status, headers={"Location": "/new"}))
    web.route("/new", Reply(body=b"here for good"))

    result = fetched(url)

    assert result.document.body == b"here for good"
    assert result.moved_to == web.url("/new")


def test_a_permanent_move_then_a_temporary_hop_reports_the_permanent_address(
    web: FakeWeb,
) -> None:
    url = web.route("/old", Reply(301, headers={"Location": "/news"}))
    web.route("/news", Reply(302, headers={"Location": "/news?session=123"}))
    web.routes["/news?session=123"] = lambda _request: Reply(body=b"today's news")

    result = fetched(url)

    assert result.document.body == b"today's news"
    assert result.moved_to == web.url("/news")


def test_a_temporary_hop_then_a_permanent_move_does_not_move_the_source(web: FakeWeb) -> None:
    url = web.route("/news", Reply(302, headers={"Location": "/maintenance"}))
    web.route("/maintenance", Reply(301, headers={"Location": "/holding-page"}))
    web.route("/holding-page", Reply(body=b"back soon"))

    assert fetched(url).moved_to is None


def test_a_redirect_without_a_location_is_a_fetch_error(web: FakeWeb) -> None:
    url = web.route("/nowhere", Reply(302, body=b"moved, somewhere"))

    with pytest.raises(FetchError, match=r"HTTP 302") as failure:
        fetch(url)

    assert failure.value.status == 302


# What alerter sends


def test_requests_name_alerter_with_its_contact_url_and_accept_gzip(web: FakeWeb) -> None:
    url = web.route("/feed", Reply(body=b"ok"))

    fetch(url)

    headers = web.requests_to("/feed")[0].headers
    assert headers["user-agent"].startswith("alerter/")
    assert CONTACT_URL in headers["user-agent"]
    assert "gzip" in headers["accept-encoding"]


# Conditional GET

ETAG = '"v1"'
LAST_MODIFIED = "Tue, 04 Mar 2025 10:00:00 GMT"


def test_stored_validators_are_sent_as_conditional_headers(web: FakeWeb) -> None:
    url = web.route("/feed", Reply(body=b"ok"))

    fetch(url, Validators(etag=ETAG, last_modified=LAST_MODIFIED))

    headers = web.requests_to("/feed")[0].headers
    assert headers["if-none-match"] == ETAG
    assert headers["if-modified-since"] == LAST_MODIFIED


def test_without_validators_the_get_is_unconditional(web: FakeWeb) -> None:
    url = web.route("/feed", Reply(body=b"ok"))

    fetch(url)

    headers = web.requests_to("/feed")[0].headers
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers


def test_an_unchanged_page_is_not_modified(web: FakeWeb) -> None:
    url = web.serve_bytes("/feed", b"<rss/>", "application/rss+xml", etag=ETAG)

    assert fetch(url, Validators(etag=ETAG)) == NotModified()


def test_a_changed_page_returns_its_new_validators(web: FakeWeb) -> None:
    url = web.serve_bytes(
        "/feed", b"<rss/>", "application/rss+xml", etag='"v2"', last_modified=LAST_MODIFIED
    )

    result = fetch(url, Validators(etag=ETAG))

    assert isinstance(result, Fetched)
    assert result.validators == Validators(etag='"v2"', last_modified=LAST_MODIFIED)
    assert result.status == 200


# HTTP errors


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (404, "check the source URL"),
        (410, "gone for good"),
        (500, "server error"),
    ],
)
def test_an_error_status_is_a_fetch_error_with_advice(
    web: FakeWeb, status: int, advice: str
) -> None:
    url = web.route("/page", Reply(status, b"error page"))

    with pytest.raises(FetchError, match=rf"HTTP {status}\b") as failure:
        fetch(url)

    assert failure.value.status == status
    assert advice in str(failure.value)
    assert failure.value.retry_after is None


def test_retry_after_in_seconds_is_kept(web: FakeWeb) -> None:
    url = web.route("/busy", Reply(429, headers={"Retry-After": "120"}))

    with pytest.raises(FetchError, match=r"slow down") as failure:
        fetch(url)

    assert failure.value.status == 429
    assert failure.value.retry_after == timedelta(seconds=120)


def test_retry_after_as_an_http_date_becomes_a_delay(web: FakeWeb) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    url = web.route("/down", Reply(503, headers={"Retry-After": when}))

    with pytest.raises(FetchError) as failure:
        fetch(url)

    assert failure.value.status == 503
    assert failure.value.retry_after is not None
    assert timedelta(seconds=110) < failure.value.retry_after <= timedelta(seconds=120)


def test_retry_after_as_a_date_without_a_zone_is_read_as_utc(web: FakeWeb) -> None:
    # "-0000" makes the standard library return a naive datetime.
    when = (datetime.now(UTC) + timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S -0000")
    url = web.route("/down", Reply(503, headers={"Retry-After": when}))

    with pytest.raises(FetchError) as failure:
        fetch(url)

    assert failure.value.retry_after is not None
    assert timedelta(seconds=110) < failure.value.retry_after <= timedelta(seconds=120)


# Connection failures


def test_a_closed_port_says_connection_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]

    with pytest.raises(FetchError, match=r"connection refused"):
        fetch(f"http://127.0.0.1:{port}/feed")


def test_a_host_refusing_on_every_address_says_connection_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    resolve = socket.getaddrinfo

    def two_addresses(host: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if host in ("news.test", b"news.test"):  # like a site with both IPv4 and IPv6
            return resolve("127.0.0.1", *args, **kwargs) + resolve("127.0.0.2", *args, **kwargs)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)

    with pytest.raises(FetchError, match=r"news\.test: connection refused$"):
        fetch(f"http://news.test:{port}/feed")


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/feed",
        "http://news.example\x00/feed",
        "http://127.0.0.1:99999/feed",
        "not-a-url",
    ],
)
def test_an_unusable_url_is_a_fetch_error(url: str) -> None:
    with pytest.raises(FetchError, match=r"check the source URL"):
        fetch(url)


def test_a_reply_that_is_not_http_is_a_fetch_error() -> None:
    def babble(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    with raw_server(babble) as url, pytest.raises(FetchError, match=r"127\.0\.0\.1"):
        fetch(url + "/")


def test_a_connection_dropped_mid_body_is_a_fetch_error() -> None:
    def hang_up(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this much")

    with raw_server(hang_up) as url, pytest.raises(FetchError, match=r"127\.0\.0\.1"):
        fetch(url + "/")


# Politeness to each host


def test_fetches_to_one_host_are_bounded_without_holding_up_other_hosts() -> None:
    busy, other = FakeWeb().start(), FakeWeb(host="127.0.0.2").start()
    in_flight = 0
    most_in_flight = 0
    count_lock = threading.Lock()

    def slow(_request: Request) -> Reply:
        nonlocal in_flight, most_in_flight
        with count_lock:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
        time.sleep(1.0)
        with count_lock:
            in_flight -= 1
        return Reply(body=b"slow news")

    busy_url = busy.route("/slow", slow)
    other_url = other.route("/quick", Reply(body=b"quick news"))

    async def timed(fetcher: Fetcher, url: str) -> float:
        await fetcher.fetch(url, Validators())
        return time.monotonic() - started

    async def run() -> tuple[list[float], float]:
        async with Fetcher(
            deadline_seconds=30, max_bytes=1000, per_host=2, contact_url=CONTACT_URL
        ) as fetcher:
            busy_fetches = [timed(fetcher, busy_url) for _ in range(6)]
            *busy_times, other_time = await asyncio.gather(*busy_fetches, timed(fetcher, other_url))
        return busy_times, other_time

    try:
        started = time.monotonic()
        busy_times, other_time = asyncio.run(run())
    finally:
        busy.stop()
        other.stop()

    assert most_in_flight == 2
    assert max(busy_times) >= 2.9  # three rounds of two, a second each
    # The other host's fetch is done before even the first round of the busy one: it never
    # queued behind it (a comparison, not a time limit, so load cannot fail it).
    assert other_time < min(busy_times)
