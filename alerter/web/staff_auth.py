"""Staff login: a session cookie after a password check (slowed down per client after
failures), required by every staff page and action. The cookie carries the staff member's
session version: signing out raises it, so no copy of the cookie works afterwards."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerter import audit
from alerter.web.deps import ClientDep, ClockDep, CsrfChecked, SessionDep, page
from subscriptions.models import StaffUser
from subscriptions.staff import LoginRateLimited, LoginRefused, authenticate

router = APIRouter(prefix="/staff")


class LoginRequired(Exception):
    """Raised by the staff dependency; the app answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def signed_in(request: Request, session: SessionDep) -> StaffUser | None:
    """The staff member this browser session belongs to, if it is still current."""
    staff_id = request.session.get("staff_id")
    staff = session.get(StaffUser, staff_id) if isinstance(staff_id, int) else None
    if staff is None or request.session.get("staff_version") != staff.session_version:
        return None
    return staff


def current_staff(request: Request, session: SessionDep) -> StaffUser:
    staff = signed_in(request, session)
    if staff is None:
        raise LoginRequired(request.url.path)
    return staff


CurrentStaff = Annotated[StaffUser, Depends(current_staff)]


def _safe_next(path: str) -> str:
    """Only a path on this site: never an open redirect."""
    return path if path.startswith("/staff") and not path.startswith("//") else "/staff/items"


@router.get("/login")
def login_form(request: Request, next: str = "/staff/items") -> HTMLResponse:
    return page(request, "pages/staff/login.html", error=None, email="", next=_safe_next(next))


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    client: ClientDep,
    clock: ClockDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/staff/items",
) -> Response:
    try:
        staff = authenticate(session, email, password, client, clock())
    except (LoginRefused, LoginRateLimited) as error:
        status = 429 if isinstance(error, LoginRateLimited) else 401
        attempted = ("staff_user", email.strip().lower()[:200])
        audit.record(
            session,
            None,
            "staff.sign_in_failed",
            attempted,
            after={"reason": str(error)},
            ip=client,
            at=clock(),
        )
        return page(
            request,
            "pages/staff/login.html",
            status,
            error=str(error),
            email=email,
            next=_safe_next(next),
        )
    audit.record(session, staff, "staff.sign_in", staff, ip=client, at=clock())
    # A new session on login: a token planted before login is worth nothing after it.
    request.session.clear()
    request.session["staff_id"] = staff.id
    request.session["staff_version"] = staff.session_version
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    """Sign out: this staff member's every session ends, wherever its cookie has gone."""
    staff = signed_in(request, session)
    if staff is not None:
        staff.session_version += 1
    request.session.clear()
    return RedirectResponse("/staff/login", status_code=303)
