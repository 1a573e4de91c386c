"""HTTP fetching for polls: bounded in time and size, conditional, and polite to each host."""

import asyncio
import itertools
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType

import httpx

from alerter import __version__
from alerter.ingest.sources.base import Document

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Validators:
    """What the server said last time, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    document: Document
    validators: Validators
    status: int
    moved_to: str | None = None  # set when the URL redirected permanently


@dataclass(frozen=True)
class NotModified:
    """The server answered 304: nothing changed since the validators were stored."""


class FetchError(Exception):
    """A fetch that produced no usable body; the message says what to check."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: timedelta | None = None
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class BodyTooLarge(FetchError):
    pass


_STATUS_ADVICE = {
    401: "the site wants a login; this URL cannot be polled anonymously",
    403: "the site refuses alerter; it may be blocking automated readers",
    404: "the page was not found; check the source URL",
    410: "the page is gone for good; find where the news moved and update the source",
    429: "the site asks us to slow down; polls are backed off",
}


class Fetcher:
    """Fetches for one poll cycle: one connection pool, a bound on concurrent requests per host."""

    def __init__(
        self,
        *,
        deadline_seconds: float,
        max_bytes: int,
        per_host: int,
        contact_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.deadline_seconds = deadline_seconds
        self.max_bytes = max_bytes
        self._host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )
        self._client = httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            timeout=httpx.Timeout(deadline_seconds, connect=min(10.0, deadline_seconds)),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=50),
            headers={
                "User-Agent": f"alerter/{__version__} (+{contact_url})",
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport,
        )

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, validators: Validators) -> Fetched | NotModified:
        """GET `url` (query string included); FetchError with a staff-readable reason when no
        body can be had."""
        headers = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        host = _host_to_fetch(url)
        async with self._host_slots[host]:
            try:
                async with asyncio.timeout(self.deadline_seconds):
                    return await self._get(url, headers)
            except TimeoutError:
                raise FetchError(
                    f"no complete answer within {self.deadline_seconds:g} s; "
                    "the site is slow or down"
                ) from None
            except httpx.TooManyRedirects:
                raise FetchError(
                    f"more than {MAX_REDIRECTS} redirects (a redirect loop?); check the source URL"
                ) from None
            except httpx.TimeoutException:
                raise FetchError(
                    f"timed out waiting for {host}; the site is slow or down"
                ) from None
            except httpx.ConnectError as error:
                raise FetchError(f"could not connect to {host}: {_reason(error)}") from None
            except httpx.HTTPError as error:
                raise FetchError(f"HTTP failure talking to {host}: {_reason(error)}") from None

    async def _get(self, url: str, headers: dict[str, str]) -> Fetched | NotModified:
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return NotModified()
            if not 200 <= response.status_code < 300:
                raise _status_error(response)
            body = await self._read_body(response)
        return Fetched(
            document=Document(
                url=str(response.url),
                body=body,
                content_type=response.headers.get("content-type"),
            ),
            validators=Validators(
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            ),
            status=response.status_code,
            moved_to=_permanent_location(response),
        )

    async def _read_body(self, response: httpx.Response) -> bytes:
        """The decoded body, refusing more than max_bytes even when a small gzip expands hugely."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        encoding = _content_encoding(response)
        decompressor: zlib._Decompress | None = None
        body = bytearray()
        try:
            async for chunk in response.aiter_raw(_CHUNK):
                if encoding == "identity":
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise self._too_large()
                    continue
                if decompressor is None:
                    decompressor = _decompressor(encoding, first_chunk=chunk)
                # max_length bounds memory: a bomb is stopped one byte past the cap, so output
                # is never left pending inside zlib once the input is used up.
                data = chunk
                while data:
                    body += decompressor.decompress(data, self.max_bytes + 1 - len(body))
                    if len(body) > self.max_bytes:
                        raise self._too_large()
                    data = decompressor.unconsumed_tail
        except zlib.error as error:
            raise FetchError(
                f"the {encoding} answer could not be decompressed ({error}); "
                "the site sent a corrupt body, try again later"
            ) from None
        if decompressor is not None and not decompressor.eof:
            raise FetchError(
                f"the {encoding} answer ended early; the connection may have dropped, "
                "try again later"
            )
        return bytes(body)

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(
            f"the answer is larger than {self.max_bytes:,} bytes (after decompression); "
            "refused to protect the worker"
        )


def _host_to_fetch(url: str) -> str:
    """The URL's host, refusing a URL no HTTP request can be made to."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise FetchError(f"{url!r} is not a valid URL ({error}); check the source URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"{url!r} is not an http(s) URL with a host; check the source URL")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchError(f"{url!r} has no valid port; check the source URL")
    return parsed.host


def _permanent_location(response: httpx.Response) -> str | None:
    """Where the source URL now lives: the end of the redirects, from the first, that were all
    permanent. A temporary hop before or after them does not move the source."""
    moved_to = None
    for step, target in itertools.pairwise([*response.history, response]):
        if step.status_code not in (301, 308):
            break
        moved_to = str(target.url)
    return moved_to


def _content_encoding(response: httpx.Response) -> str:
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return "identity"
    if encoding in ("gzip", "x-gzip"):
        return "gzip"
    if encoding == "deflate":
        return "deflate"
    raise FetchError(f"the site sent an encoding alerter did not ask for: {encoding}")


def _decompressor(encoding: str, *, first_chunk: bytes) -> "zlib._Decompress":
    if encoding == "gzip":
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    # The standard wraps deflate in a zlib header; some servers send the raw stream instead.
    zlib_wrapped = (
        len(first_chunk) >= 2
        and first_chunk[0] & 0x0F == zlib.DEFLATED
        and int.from_bytes(first_chunk[:2], "big") % 31 == 0
    )
    return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)


def _status_error(response: httpx.Response) -> FetchError:
    status = response.status_code
    advice = _STATUS_ADVICE.get(status) or (
        "the site has a server error; polls are backed off"
        if status >= 500
        else "check the source URL"
    )
    return FetchError(
        f"HTTP {status} {response.reason_phrase}: {advice}",
        status=status,
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def _retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """Retry-After as a delay: either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC, but parses to a naive datetime
        when = when.replace(tzinfo=UTC)
    delay = when - (now or datetime.now(UTC))
    return max(delay, timedelta(0))


def _reason(error: BaseException) -> str:
    """The most specific cause: "connection refused" rather than httpx's "All connection attempts
    failed"."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, BaseExceptionGroup):  # one failure per address the host has
            return "; ".join(sorted({_reason(each) for each in cause.exceptions}))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return str(error) or type(error).__name__
