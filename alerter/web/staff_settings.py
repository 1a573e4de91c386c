"""Staff's Settings page: the association's name, logo, colour, sender and the footer every
email carries (alerter.branding)."""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerter import audit, branding
from alerter.web.deps import ClockDep, CsrfChecked, SessionDep, SettingsDep, staff_page
from alerter.web.staff_auth import CurrentStaff

router = APIRouter(prefix="/staff/settings")
Text = Annotated[str, Form()]


def _settings_page(
    request: Request,
    staff: Any,
    values: branding.Branding,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    return staff_page(
        request,
        "settings.html",
        staff,
        422 if errors else 200,
        values=asdict(values),
        errors=errors or {},
        saved=saved,
    )


@router.get("")
def settings_page(
    request: Request, session: SessionDep, settings: SettingsDep, staff: CurrentStaff
) -> HTMLResponse:
    saved = request.query_params.get("saved") == "1"
    return _settings_page(request, staff, branding.load(session, settings), saved=saved)


@router.post("", dependencies=[CsrfChecked])
def save_settings(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    clock: ClockDep,
    name: Text = "",
    logo_url: Text = "",
    colour: Text = "",
    sender_name: Text = "",
    sender_address: Text = "",
    reply_to: Text = "",
    postal_address: Text = "",
    contact: Text = "",
) -> Response:
    entered = branding.Branding(
        name.strip(),
        logo_url.strip(),
        colour.strip(),
        sender_name.strip(),
        sender_address.strip(),
        reply_to.strip(),
        postal_address.strip(),
        contact.strip(),
    )
    errors = branding.problems(entered)
    if errors:
        return _settings_page(request, staff, entered, errors)
    before = asdict(branding.load(session, settings))
    # Recorded in the same transaction as the change: both are kept, or neither.
    audit.record(session, staff, "settings.update", None, before, asdict(entered), at=clock())
    branding.save(session, settings, entered, clock())
    return RedirectResponse("/staff/settings?saved=1", status_code=303)
