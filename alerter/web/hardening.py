"""What every response and request goes through before any route: headers that keep pages out
of other sites' frames and out of caches, and a limit on the size of a request's body, applied
before anything parses it."""

from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages opened by a member's signed link: their address is on them, the link is in their URL.
MEMBER_LINK_PAGES = ("/confirm/", "/manage/", "/news/", "/unsubscribe/", "/links/", "/calendar/")


class SecurityHeaders:
    """No page may be framed by another site (clickjacking), no response is sniffed as
    another type, no page's address (a member's link) is sent to the sites it links to, and
    staff pages and member-link pages are never stored by a browser or proxy cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        private = path.startswith("/staff") or path.startswith(MEMBER_LINK_PAGES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Frame-Options"] = "DENY"
                headers["Content-Security-Policy"] = "frame-ancestors 'none'"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if private:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse (413) a request whose body is larger than its path allows: at once when its
    Content-Length says so, and otherwise by counting what arrives, before the app reads any
    of it. A request that passes is handed on unchanged."""

    def __init__(self, app: ASGIApp, *, default: int, by_path: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.by_path = by_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope["path"], self.default)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit, scope, receive, send)
            return
        # Counted whatever Content-Length says: a chunked body sent beside a small length is
        # read in full by the server. Read up to the limit, then hand on what was read.
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(limit, scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    size = f"{limit / 1_000_000:g} MB" if limit >= 1_000_000 else f"{limit // 1000:,} KB"
    response = PlainTextResponse(
        f"This request is too large: this address accepts at most {size}.",
        status_code=413,
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
