"""Staff's Deadlines page: the consultations, calls for evidence and committee inquiries still
open, and which of them the association is responding to, with its own deadline for members'
views."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerter.deadlines.association_responses import ResponseError, mark_responding, stop_responding
from alerter.deadlines.calendar import open_deadlines
from alerter.deadlines.closing import UK, closing_date, deadline_label, short_date
from alerter.topics.labelling import topics_of
from alerter.web.deps import ClockDep, CsrfChecked, SessionDep, staff_page
from alerter.web.staff_auth import CurrentStaff

router = APIRouter(prefix="/staff/deadlines")


def _deadlines_page(
    request: Request, session: SessionDep, staff: Any, clock: ClockDep, error: str = ""
) -> HTMLResponse:
    now = clock()
    today = now.astimezone(UK).date()
    deadlines = open_deadlines(session, None, now)
    labels = {topic.id: topic.label for topic in request.app.state.taxonomy.topics}
    topics = topics_of(session, [d.item_id for d in deadlines])
    rows = [
        {
            "deadline": d,
            "label": deadline_label(d.closes, now),
            "closing_date": closing_date(d.closes).isoformat(),
            "responding_by": short_date(d.responding_by, today) if d.responding_by else "",
            "topics": [labels.get(t.topic_id, t.topic_id) for t in topics.get(d.item_id, [])],
        }
        for d in deadlines
    ]
    return staff_page(
        request,
        "deadlines.html",
        staff,
        422 if error else 200,
        rows=rows,
        today=today.isoformat(),
        error=error,
    )


@router.get("")
def deadlines_page(
    request: Request, session: SessionDep, staff: CurrentStaff, clock: ClockDep
) -> HTMLResponse:
    return _deadlines_page(request, session, staff, clock)


@router.post("/{item_id}/responding", dependencies=[CsrfChecked])
def responding(
    request: Request,
    item_id: int,
    session: SessionDep,
    staff: CurrentStaff,
    clock: ClockDep,
    respond_by: Annotated[str, Form()] = "",
) -> Response:
    try:
        day = date.fromisoformat(respond_by)
    except ValueError:
        return _deadlines_page(request, session, staff, clock, "Enter a date, like 2027-01-08")
    try:
        mark_responding(session, item_id, day, by=staff.email, now=clock())
    except ResponseError as error:
        message = str(error)
        return _deadlines_page(request, session, staff, clock, message[:1].upper() + message[1:])
    return RedirectResponse(f"/staff/deadlines#item-{item_id}", status_code=303)


@router.post("/{item_id}/not-responding", dependencies=[CsrfChecked])
def not_responding(item_id: int, session: SessionDep, staff: CurrentStaff) -> RedirectResponse:
    stop_responding(session, item_id)
    return RedirectResponse(f"/staff/deadlines#item-{item_id}", status_code=303)
