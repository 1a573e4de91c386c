"""What every route needs: settings, a database session, templates, and CSRF checks."""

import ipaddress
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from alerter import branding
from alerter.config import Settings
from alerter.db import session_scope
from alerter.render import environment


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        # The association's settings as last saved, for this request's pages and emails.
        branding.load(session, request.app.state.settings)
        yield session


Clock = Callable[[], datetime]


def get_clock(request: Request) -> Clock:
    """The app's clock: the real one, or a test's."""
    clock: Clock = request.app.state.clock
    return clock


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(trusted: str) -> tuple[Network, ...]:
    """ALERTER_TRUSTED_PROXIES as networks; ValueError naming an entry that is not one."""
    networks = []
    for entry in (e.strip() for e in trusted.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"ALERTER_TRUSTED_PROXIES: {entry!r} is not an address or a network"
                ) from None
    return tuple(networks)


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """Who is asking, for rate limits: the connecting address, unless that is one of
    ALERTER_TRUSTED_PROXIES; then the nearest address in X-Forwarded-For that is not a trusted
    proxy (what a client puts there itself is believed by no one)."""
    peer = request.client.host if request.client else "unknown"
    trusted = trusted_networks(get_settings(request).trusted_proxies)
    if not _within(peer, trusted):
        return peer
    forwarded = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(forwarded):
        if not _within(hop, trusted):
            return hop
    return peer


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClientDep = Annotated[str, Depends(client_address)]
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


def staff_page(
    request: Request, template: str, staff: Any, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A staff console page (templates/pages/staff/), saying who is signed in."""
    return page(request, f"pages/staff/{template}", status_code, staff=staff, **context)


def staff_message(
    request: Request,
    staff: Any,
    status_code: int,
    heading: str,
    *paragraphs: str,
    link: dict[str, str] | None = None,
) -> HTMLResponse:
    """The staff console's page saying what happened: why an action did not work, or what it
    did; `link` ({"href", "text"}) leads back."""
    extra = {"link": link} if link is not None else {}
    return staff_page(
        request, "message.html", staff, status_code, heading=heading, paragraphs=paragraphs, **extra
    )
