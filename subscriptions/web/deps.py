"""What every route needs: settings, a database session, templates, and CSRF checks."""

import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from alerter.config import Settings
from alerter.db import session_scope
from alerter.render import environment


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


Clock = Callable[[], datetime]


def get_clock(request: Request) -> Clock:
    """The app's clock: the real one, or a test's."""
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
# Committed when the route returns, before the response goes out: a member must never read
# "You are unsubscribed" about a change that was not saved.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Every form carries the session's token; a forged cross-site post has none."""
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), csrf_token):
        raise HTTPException(
            status_code=400,
            detail="This form has expired or did not come from this site. Go back, reload the "
            "page and try again.",
        )


CsrfChecked = Depends(check_csrf)


class PageInstead(Exception):
    """Raised by a route or a dependency that cannot go on (an unusable link, a missing
    record): the app answers with the page it carries."""

    def __init__(self, response: HTMLResponse) -> None:
        self.response = response


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = (
        environment()
        .get_template(template)
        .render(request=request, csrf_token=csrf_token(request), **context)
    )
    return HTMLResponse(html, status_code=status_code)
