"""The client API kinds fetch through: requests spaced per host, failures as SourceErrors,
conditional requests with the source's validators."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from alerter.ingest.api_client import HostPacer, PollingClient
from alerter.ingest.fetch import Fetcher, Validators
from alerter.ingest.sources.base import RequestFailed, SourceError, Window
from tests.support.fake_web import FakeWeb, Reply

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeTime:
    """A monotonic clock that only the pacer's sleeps move."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_to_one_host_are_spaced_by_the_interval() -> None:
    time = FakeTime()
    pacer = HostPacer(sleep=time.sleep, monotonic=time.monotonic)

    async def three_requests() -> None:
        for _ in range(3):
            await pacer.wait("www.legislation.gov.uk", 0.5)

    asyncio.run(three_requests())

    assert time.slept == [0.5, 0.5]


def test_hosts_are_paced_independently_and_time_already_passed_counts() -> None:
    time = FakeTime()
    pacer = HostPacer(sleep=time.sleep, monotonic=time.monotonic)

    async def requests() -> None:
        await pacer.wait("a.example", 1.0)
        await pacer.wait("b.example", 1.0)
        time.now += 0.75
        await pacer.wait("a.example", 1.0)

    asyncio.run(requests())

    assert time.slept == [pytest.approx(0.25)]


def test_the_first_window_reaches_back_the_backlog_and_later_ones_overlap_the_last_poll() -> None:
    first = Window(now=NOW, last_success=None)
    later = Window(now=NOW, last_success=NOW - timedelta(hours=2))

    assert first.since(overlap=timedelta(days=1), backlog=timedelta(days=30)) == NOW - timedelta(
        days=30
    )
    assert later.since(overlap=timedelta(days=1), backlog=timedelta(days=30)) == NOW - timedelta(
        days=1, hours=2
    )


def client_for(fetcher: Fetcher, session: Session, validators: Validators) -> PollingClient:
    return PollingClient(fetcher, HostPacer(), session, validators=validators, interval=0)


def fetcher() -> Fetcher:
    return Fetcher(
        deadline_seconds=3, max_bytes=100_000, per_host=2, contact_url="https://alerter.example"
    )


def test_a_failed_request_names_the_request_and_carries_retry_after(
    web: FakeWeb, session: Session
) -> None:
    web.route("/api/items", Reply(429, b"slow down", {"Retry-After": "120"}))

    async def run() -> None:
        async with fetcher() as f:
            await client_for(f, session, Validators()).get_json(
                web.url("/api/items"), [("take", "50")]
            )

    with pytest.raises(RequestFailed) as failure:
        asyncio.run(run())

    assert str(failure.value).startswith("/api/items?take=50: HTTP 429")
    assert failure.value.retry_after == timedelta(seconds=120)


def test_an_answer_that_is_not_json_is_a_source_error(web: FakeWeb, session: Session) -> None:
    web.serve_bytes("/api/items", b"<html></html>", "text/html")

    async def run() -> None:
        async with fetcher() as f:
            await client_for(f, session, Validators()).get_json(web.url("/api/items"))

    with pytest.raises(SourceError, match="the answer is not JSON"):
        asyncio.run(run())


def test_a_conditional_request_sends_the_sources_validators_and_reports_a_304(
    web: FakeWeb, session: Session
) -> None:
    web.serve_bytes("/feed", b"<feed/>", "application/atom+xml", etag='"v7"')

    async def run() -> tuple[bool, bool, Validators]:
        async with fetcher() as f:
            client = client_for(f, session, Validators(etag='"v7"'))
            answer = await client.get(web.url("/feed"), conditional=True)
            return answer is None, client.not_modified, client.validators

    assert asyncio.run(run()) == (True, True, Validators(etag='"v7"'))
    assert web.requests_to("/feed")[0].headers["if-none-match"] == '"v7"'


def test_a_plain_request_sends_no_validators(web: FakeWeb, session: Session) -> None:
    web.serve_bytes("/api/items", b"{}", "application/json", etag='"v7"')

    async def run() -> Validators:
        async with fetcher() as f:
            client = client_for(f, session, Validators(etag='"v7"'))
            await client.get_json(web.url("/api/items"))
            return client.validators

    assert asyncio.run(run()) == Validators()
    assert "if-none-match" not in web.requests_to("/api/items")[0].headers
