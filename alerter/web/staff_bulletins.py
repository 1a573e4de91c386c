"""Staff bulletins: compose (with a search of stored items), save drafts, preview exactly as a
member receives it, send a test to oneself, confirm the audience, send, and follow progress.
Sending runs after the response, in this process; the worker finishes it if this process dies."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerter.bulletins import (
    MAX_ITEMS,
    AlreadySent,
    BulletinDraft,
    BulletinError,
    RepeatRefused,
    audience_of,
    check_sendable,
    content_of,
    get_bulletin,
    list_bulletins,
    repeat_of,
    results,
    save_draft,
    send_bulletin,
    send_test,
    start_sending,
)
from alerter.config import Settings
from alerter.db import session_scope
from alerter.delivery import transport_for
from alerter.delivery.compose.bulletins import sample_email
from alerter.ingest.clean import UnparseableDate, parse_listing_date
from alerter.ingest.sources.catalog import list_sources
from alerter.ingest.store import list_items
from alerter.models import Bulletin
from alerter.topics.taxonomy import Taxonomy
from alerter.web.deps import (
    CsrfChecked,
    PageInstead,
    SessionDep,
    SettingsDep,
    staff_message,
    staff_page,
)
from alerter.web.staff_auth import CurrentStaff

router = APIRouter(prefix="/staff/bulletins")
SUGGESTIONS = 25
IdsForm = Annotated[list[int], Form()]
TopicsForm = Annotated[list[str], Form()]


def _not_found(request: Request, staff: Any, bulletin_id: int) -> HTMLResponse:
    return staff_message(
        request, staff, 404, "No such bulletin", f"There is no bulletin {bulletin_id}."
    )


@router.get("")
def bulletinsstaff_page(request: Request, session: SessionDep, staff: CurrentStaff) -> HTMLResponse:
    rows = [
        {"bulletin": b, "results": results(session, b.id) if b.status != "draft" else None}
        for b in list_bulletins(session)
        if b.id is not None
    ]
    return staff_page(request, "bulletins.html", staff, rows=rows)


@router.get("/new")
def new_bulletin(request: Request, session: SessionDep, staff: CurrentStaff) -> HTMLResponse:
    return _compose(request, session, staff, None, BulletinDraft("", ""), {})


@dataclass(frozen=True)
class DraftForm:
    """The compose form as posted: the draft, what to do with it, and the item search."""

    action: str  # "save" or "search"
    draft: BulletinDraft
    search: dict[str, str]


def draft_form(
    action: Annotated[str, Form()] = "save",
    subject: Annotated[str, Form()] = "",
    introduction: Annotated[str, Form()] = "",
    audience: Annotated[str, Form()] = "topics",
    topics: TopicsForm = [],  # noqa: B006
    items: IdsForm = [],  # noqa: B006
    q: Annotated[str, Form()] = "",
    filter_topic: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
) -> DraftForm:
    draft = BulletinDraft(subject, introduction, tuple(items), tuple(topics), audience == "all")
    search = {"q": q, "filter_topic": filter_topic, "source": source, "since": since}
    return DraftForm(action, draft, search)


DraftFormDep = Annotated[DraftForm, Depends(draft_form)]


def bulletin_of(
    request: Request, bulletin_id: int, session: SessionDep, staff: CurrentStaff
) -> Bulletin:
    """The bulletin a route's path names, or its "no such bulletin" page."""
    try:
        return get_bulletin(session, bulletin_id)
    except BulletinError:
        raise PageInstead(_not_found(request, staff, bulletin_id)) from None


BulletinDep = Annotated[Bulletin, Depends(bulletin_of)]


@router.post("/new", dependencies=[CsrfChecked])
def create_bulletin(
    request: Request, session: SessionDep, staff: CurrentStaff, form: DraftFormDep
) -> Response:
    return _save_or_search(request, session, staff, None, form)


@router.get("/{bulletin_id}")
def bulletinstaff_page(
    request: Request,
    bulletin_id: int,
    bulletin: BulletinDep,
    session: SessionDep,
    staff: CurrentStaff,
) -> HTMLResponse:
    if bulletin.status == "draft":
        draft = BulletinDraft(
            bulletin.subject,
            bulletin.introduction,
            tuple(bulletin.item_ids),
            tuple(bulletin.topic_ids),
            bulletin.everyone,
        )
        notice = request.query_params.get("notice", "")
        return _compose(request, session, staff, bulletin, draft, {}, notice=notice)
    return staff_page(
        request,
        "bulletin.html",
        staff,
        bulletin=bulletin,
        results=results(session, bulletin_id),
        audience=audience_of(session, bulletin),
    )


@router.post("/{bulletin_id}", dependencies=[CsrfChecked])
def update_bulletin(
    request: Request,
    bulletin: BulletinDep,
    session: SessionDep,
    staff: CurrentStaff,
    form: DraftFormDep,
) -> Response:
    if bulletin.status != "draft":
        return staff_message(
            request, staff, 409, "This bulletin has been sent", "A sent bulletin cannot change."
        )
    return _save_or_search(request, session, staff, bulletin, form)


@router.get("/{bulletin_id}/preview")
def previewstaff_page(
    request: Request,
    bulletin: BulletinDep,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
) -> HTMLResponse:
    content = content_of(session, settings, request.app.state.taxonomy, bulletin)
    email = sample_email(settings, content, "member@example.org")
    return staff_page(request, "bulletin_preview.html", staff, bulletin=bulletin, email=email)


@router.post("/{bulletin_id}/test", dependencies=[CsrfChecked])
def test_send(
    request: Request,
    bulletin_id: int,
    bulletin: BulletinDep,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
) -> Response:
    taxonomy = request.app.state.taxonomy
    try:
        check_sendable(session, settings, taxonomy, bulletin)
    except BulletinError as error:
        return staff_message(request, staff, 422, "The test was not sent", _fix(error))
    content = content_of(session, settings, taxonomy, bulletin)
    send_test(transport_for(settings), settings, content, staff.email)
    return RedirectResponse(f"/staff/bulletins/{bulletin_id}?notice=test-sent", status_code=303)


def _fix(error: BulletinError) -> str:
    reason = str(error)
    return f"{reason[:1].upper()}{reason[1:]}. Change the draft and try again."


@router.get("/{bulletin_id}/send")
def confirmstaff_page(
    request: Request,
    bulletin_id: int,
    bulletin: BulletinDep,
    session: SessionDep,
    staff: CurrentStaff,
) -> Response:
    if bulletin.status != "draft":
        return RedirectResponse(f"/staff/bulletins/{bulletin_id}", status_code=303)
    return staff_page(
        request,
        "bulletin_send.html",
        staff,
        bulletin=bulletin,
        audience=audience_of(session, bulletin),
        repeat_of=repeat_of(session, bulletin, datetime.now(UTC)),
    )


@router.post("/{bulletin_id}/send", dependencies=[CsrfChecked])
def send(
    request: Request,
    bulletin_id: int,
    _exists: BulletinDep,  # a missing bulletin answers with its page
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    background: BackgroundTasks,
    again: Annotated[bool, Form()] = False,
) -> Response:
    try:
        start_sending(
            session,
            settings,
            request.app.state.taxonomy,
            bulletin_id,
            by=staff.email,
            now=datetime.now(UTC),
            again=again,
        )
    except AlreadySent:
        # A second press, a reload, or a colleague first: the bulletin page says what happened.
        return RedirectResponse(f"/staff/bulletins/{bulletin_id}", status_code=303)
    except RepeatRefused as error:
        return staff_message(
            request,
            staff,
            409,
            "The bulletin was not sent",
            f"It looks like a repeat: {error}. To send it once more, tick “Send it again” on "
            "the send page.",
        )
    except BulletinError as error:
        return staff_message(request, staff, 422, "The bulletin was not sent", _fix(error))
    background.add_task(
        _send_in_background,
        request.app.state.engine,
        settings,
        request.app.state.taxonomy,
        bulletin_id,
    )
    return RedirectResponse(f"/staff/bulletins/{bulletin_id}", status_code=303)


def _send_in_background(
    engine: sa.Engine, settings: Settings, taxonomy: Taxonomy, bulletin_id: int
) -> None:
    with session_scope(engine) as session:
        send_bulletin(session, transport_for(settings), settings, taxonomy, bulletin_id)


def _save_or_search(
    request: Request,
    session: SessionDep,
    staff: Any,
    bulletin: Bulletin | None,
    form: DraftForm,
) -> Response:
    """Save the draft and go to its page, or show the form again with the items searched for
    (what was typed is kept either way)."""
    if form.action == "search":
        return _compose(request, session, staff, bulletin, form.draft, form.search)
    try:
        saved = save_draft(
            session,
            request.app.state.taxonomy,
            form.draft,
            by=staff.email,
            now=datetime.now(UTC),
            bulletin_id=bulletin.id if bulletin else None,
        )
    except BulletinError as error:
        return _compose(
            request, session, staff, bulletin, form.draft, form.search, error=str(error)
        )
    return RedirectResponse(f"/staff/bulletins/{saved.id}?notice=saved", status_code=303)


def _compose(
    request: Request,
    session: SessionDep,
    staff: Any,
    bulletin: Bulletin | None,
    draft: BulletinDraft,
    search: dict[str, str],
    *,
    error: str = "",
    notice: str = "",
) -> HTMLResponse:
    """The compose form: the draft, its chosen items, and items to choose from (the newest
    matching the search; the newest of all before any search)."""
    since_text = search.get("since", "")
    try:
        since = parse_listing_date(since_text) if since_text else None
    except UnparseableDate:
        since, error = None, error or f"not a date: {since_text!r} (try 4 February 2026)"
    found = list_items(
        session,
        text=search.get("q") or None,
        topic=search.get("filter_topic") or None,
        source_name=search.get("source") or None,
        since=since,
        limit=SUGGESTIONS,
    )
    chosen_ids = list(draft.item_ids)
    chosen = {s.item.id: s for s in list_items(session, ids=chosen_ids)} if chosen_ids else {}
    suggested = [s for s in found if s.item.id not in chosen]
    status = 422 if error else 200
    return staff_page(
        request,
        "bulletin_edit.html",
        staff,
        status,
        bulletin=bulletin,
        draft=draft,
        chosen=[chosen[i] for i in chosen_ids if i in chosen],
        suggested=suggested,
        search=search,
        taxonomy=request.app.state.taxonomy.topics,
        sources=[s.name for s in list_sources(session)],
        audience=audience_of(session, draft) if (draft.everyone or draft.topic_ids) else None,
        max_items=MAX_ITEMS,
        error=error,
        notice=notice,
    )
