"""The FastAPI application: `alerter serve` runs it."""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from alerter.config import Settings, secret_key
from alerter.db import create_db_engine, migrate
from alerter.topics.taxonomy import load_taxonomy
from alerter.web import (
    archive_pages,
    calendar_feeds,
    health,
    member_pages,
    staff_auth,
    staff_bulletins,
    staff_deadlines,
    staff_pages,
    staff_settings,
    staff_topics,
    webhooks,
)
from alerter.web.deps import Clock, PageInstead, page, trusted_networks
from alerter.web.hardening import BodyLimit, SecurityHeaders
from alerter.web.staff_auth import LoginRequired

# The largest request body each address accepts: forms are small; a CSV import and a batch of
# SendGrid events are not. Anything larger is refused before it is read.
MAX_FORM_BYTES = 256_000
MAX_BODY_BYTES = {
    "/staff/members/import": staff_pages.MAX_UPLOAD + 100_000,  # the file and its form
    "/webhooks/sendgrid": 5_000_000,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings, engine: sa.Engine | None = None, *, clock: Clock = utc_now
) -> FastAPI:
    """The app on this database (migrated first when none is given); `clock` tells it the time."""
    trusted_networks(settings.trusted_proxies)  # a mistyped setting stops it here, not later
    if engine is None:
        engine = create_db_engine(settings.database_url)
        migrate(engine)
    app = FastAPI(title="alerter", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock
    app.state.taxonomy = load_taxonomy(settings.topics)
    app.state.metrics = health.metrics_registry(engine)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie="alerter_session",
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
        max_age=8 * 3600,
    )
    app.add_middleware(BodyLimit, default=MAX_FORM_BYTES, by_path=MAX_BODY_BYTES)
    app.add_middleware(SecurityHeaders)  # outermost: on every response, refusals included
    app.include_router(member_pages.router)
    app.include_router(staff_auth.router)
    app.include_router(staff_pages.router)
    app.include_router(staff_topics.router)
    app.include_router(staff_bulletins.router)
    app.include_router(staff_deadlines.router)
    app.include_router(staff_settings.router)
    app.include_router(archive_pages.router)
    app.include_router(calendar_feeds.router)
    app.include_router(webhooks.router)
    app.include_router(health.router)

    @app.exception_handler(PageInstead)
    async def page_instead(request: Request, error: PageInstead) -> HTMLResponse:
        return error.response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, error: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/staff/login?next={quote(error.next_path)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid_form(request: Request, error: RequestValidationError) -> HTMLResponse:
        # A form the page itself would not send (a field too long, a value of the wrong kind):
        # a page saying what to correct, not FastAPI's JSON.
        return page(
            request,
            "pages/message.html",
            422,
            heading="That did not work",
            paragraphs=[*map(form_problem, error.errors()), "Go back, correct it and try again."],
        )

    @app.exception_handler(HTTPException)
    async def error_page(request: Request, error: HTTPException) -> HTMLResponse:
        return page(
            request,
            "pages/message.html",
            error.status_code,
            heading="Something went wrong" if error.status_code >= 500 else "That did not work",
            paragraphs=[str(error.detail)],
        )

    return app


def form_problem(error: Any) -> str:
    """One of FastAPI's validation errors in words: "The name is longer than 200 characters."."""
    field = str(error["loc"][-1]).replace("_", " ")
    limit = (error.get("ctx") or {}).get("max_length")
    if limit is not None:
        return f"The {field} is longer than {limit} characters."
    return f"The {field} was not understood: {str(error['msg']).lower()}."
