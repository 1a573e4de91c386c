"""The staff console: items and their topics (with corrections), source health, members, CSV
import and export, topics with subscriber counts. Every route requires a signed-in staff member."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from alerter.config import Settings
from alerter.db import session_scope
from alerter.deadlines.closing import deadline_label
from alerter.delivery import transport_for
from alerter.ingest.sources.catalog import list_sources, source_health
from alerter.ingest.store import count_items, list_items
from alerter.ledger.report import decide_in_doubt, failures, in_doubt, recent_runs
from alerter.notices import plan_confirmations, send_confirmation, send_confirmations
from alerter.topics.classifier import describe
from alerter.topics.labelling import (
    UnknownItem,
    UnknownTopic,
    correct_item,
    topic_counts,
    topics_of,
)
from alerter.web.deps import (
    ClockDep,
    CsrfChecked,
    SessionDep,
    SettingsDep,
    staff_message,
    staff_page,
)
from alerter.web.member_pages import FREQUENCIES
from alerter.web.staff_auth import CurrentStaff
from subscriptions.importing import ImportFileError, decode, export_file, import_members
from subscriptions.members import (
    InvalidChoice,
    InvalidEmail,
    add_member,
    check_choices,
    count_members,
    emails_of,
    erase,
    normalise_email,
    search_members,
    subscriber_counts,
    topics_by_member,
    update_preferences,
)
from subscriptions.members import topics_of as member_topics
from subscriptions.models import ConsentEvent, Frequency, Member, MemberStatus

router = APIRouter(prefix="/staff")
MAX_UPLOAD = 5_000_000


@router.get("", include_in_schema=False)
def staff_home(staff: CurrentStaff) -> RedirectResponse:
    return RedirectResponse("/staff/items", status_code=303)


ITEMS_PER_PAGE = 50
MEMBERS_PER_PAGE = 100


def _items_query(q: str, topic: str, page: int) -> str:
    """The items page's query string for these filters, so a correction returns to them."""
    kept = {"q": q, "topic": topic, "page": str(page) if page > 1 else ""}
    return urlencode({name: value for name, value in kept.items() if value})


@router.get("/items")
def items_page(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    clock: ClockDep,
    q: str = "",
    topic: str = "",
    page: int = 1,
    saved: int = 0,
    undo_topic: str = "",
    undo_action: str = "",
) -> HTMLResponse:
    total = count_items(session, text=q or None, topic=topic or None)
    last_page = max(1, -(-total // ITEMS_PER_PAGE))
    page = min(max(page, 1), last_page)
    first = (page - 1) * ITEMS_PER_PAGE
    listed = list_items(
        session, text=q or None, topic=topic or None, limit=ITEMS_PER_PAGE, offset=first
    )
    now = clock()
    taxonomy = request.app.state.taxonomy.topics
    labels = {t.id: t.label for t in taxonomy}
    topics = topics_of(session, [stored.item.id for stored in listed if stored.item.id])
    rows = []
    for stored in listed:
        assigned = topics.get(stored.item.id or 0, [])
        has = {row.topic_id for row in assigned}
        rows.append(
            {
                "stored": stored,
                "topics": [
                    {
                        "id": row.topic_id,
                        "label": labels.get(row.topic_id, row.topic_id),
                        "by": row.assigned_by,
                        "evidence": [describe(e) for e in row.evidence],
                    }
                    for row in assigned
                ],
                "addable": [t for t in taxonomy if t.id not in has],
                "deadline": (
                    deadline_label(stored.item.closes_at, now) if stored.item.closes_at else ""
                ),
            }
        )
    return staff_page(
        request,
        "items.html",
        staff,
        rows=rows,
        q=q,
        topic=topic,
        taxonomy=taxonomy,
        total=total,
        per_page=ITEMS_PER_PAGE,
        first=first + 1,
        last=first + len(listed),
        previous_page=_items_query(q, topic, page - 1) if page > 1 else None,
        next_page=_items_query(q, topic, page + 1) if page < last_page else None,
        here=_items_query(q, topic, page),
        saved=saved,
        undo_topic=undo_topic if undo_topic in labels else "",
        undo_label=labels.get(undo_topic, ""),
        undo_action=undo_action if undo_action in ("add", "remove") else "",
    )


@router.post("/items/{item_id}/topics", dependencies=[CsrfChecked])
def correct_item_topic(
    request: Request,
    item_id: int,
    session: SessionDep,
    staff: CurrentStaff,
    topic: Annotated[str, Form()],
    action: Annotated[str, Form()],
    back: Annotated[str, Form()] = "",
) -> Response:
    adding = action == "add"
    try:
        correct_item(
            session,
            request.app.state.taxonomy,
            item_id,
            [(topic, adding)],
            corrected_by=staff.email,
            now=datetime.now(UTC),
        )
    except UnknownItem:
        return staff_message(request, staff, 404, "No such item", f"There is no item {item_id}.")
    except UnknownTopic as error:
        return staff_message(request, staff, 422, "That did not work", str(error))
    # Back to the same search and page; the notice offers the opposite change as the undo,
    # which restores the item's previous topics and is itself recorded as a correction.
    kept = parse_qs(back)
    here = _items_query(
        kept.get("q", [""])[0], kept.get("topic", [""])[0], _page_number(kept.get("page", ["1"])[0])
    )
    undo = urlencode(
        {"saved": item_id, "undo_topic": topic, "undo_action": "remove" if adding else "add"}
    )
    return RedirectResponse(
        f"/staff/items?{here + '&' if here else ''}{undo}#item-{item_id}", status_code=303
    )


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() else 1


@router.get("/sources")
def sources_page(request: Request, session: SessionDep, staff: CurrentStaff) -> HTMLResponse:
    health = [source_health(source) for source in list_sources(session)]
    return staff_page(request, "sources.html", staff, sources=health)


@router.get("/deliveries")
def deliveries_page(request: Request, session: SessionDep, staff: CurrentStaff) -> HTMLResponse:
    """Every digest and bulletin run of the last 30 days, with what became of its emails."""
    since = datetime.now(UTC) - timedelta(days=30)
    return staff_page(request, "deliveries.html", staff, runs=recent_runs(session, since))


@router.get("/deliveries/{kind}/{period}")
def failures_page(
    request: Request, kind: str, period: str, session: SessionDep, staff: CurrentStaff
) -> HTMLResponse:
    """A run's failed deliveries, each with the mail service's reason, and those in doubt."""
    failed = failures(session, kind, period)
    doubtful = in_doubt(session, kind, period)
    emails = emails_of(session, [f.member_id for f in failed] + [d.member_id for d in doubtful])
    return staff_page(
        request,
        "failures.html",
        staff,
        kind=kind,
        period=period,
        failed=failed,
        in_doubt=doubtful,
        emails=emails,
    )


@router.post("/deliveries/{kind}/{period}/in-doubt", dependencies=[CsrfChecked])
def decide_in_doubt_deliveries(
    kind: str,
    period: str,
    decision: Annotated[str, Form()],
    session: SessionDep,
    staff: CurrentStaff,
) -> RedirectResponse:
    """Staff settle the deliveries in doubt that no sender can: counted as sent, or sent again."""
    if decision in ("sent", "again"):
        decide_in_doubt(
            session, kind, period, sent=decision == "sent", by=staff.email, now=datetime.now(UTC)
        )
    return RedirectResponse(f"/staff/deliveries/{kind}/{quote(period)}", status_code=303)


@router.get("/topics")
def topics_page(request: Request, session: SessionDep, staff: CurrentStaff) -> HTMLResponse:
    return staff_page(
        request,
        "topics.html",
        staff,
        topics=request.app.state.taxonomy.topics,
        items=topic_counts(session),
        subscribers=subscriber_counts(session),
    )


@router.get("/members")
def members_page(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    q: str = "",
    topic: str = "",
    frequency: str = "",
    status: str = "",
    page: int = 1,
) -> HTMLResponse:
    taxonomy = request.app.state.taxonomy.topics
    labels = {t.id: t.label for t in taxonomy}
    # An unknown value in the address bar filters nothing rather than matching no one.
    topic = topic if topic in labels else ""
    frequency = frequency if frequency in {f.value for f in Frequency} else ""
    statuses = [s.value for s in MemberStatus if s != MemberStatus.ERASED]
    status = status if status in statuses else ""
    filters = {"topic": topic, "frequency": frequency, "status": status}
    total = count_members(session, q, **filters)
    last_page = max(1, -(-total // MEMBERS_PER_PAGE))
    page = min(max(page, 1), last_page)
    first = (page - 1) * MEMBERS_PER_PAGE
    members = search_members(session, q, MEMBERS_PER_PAGE, offset=first, **filters)
    followed = topics_by_member(session, [m.id for m in members if m.id is not None])

    def query(page: int) -> str:
        kept = {"q": q, **filters, "page": str(page) if page > 1 else ""}
        return urlencode({name: value for name, value in kept.items() if value})

    return staff_page(
        request,
        "members.html",
        staff,
        members=[
            {"member": m, "topics": [labels.get(t, t) for t in followed.get(m.id or 0, [])]}
            for m in members
        ],
        q=q,
        taxonomy=taxonomy,
        frequencies=FREQUENCIES,
        statuses=statuses,
        total=total,
        first=first + 1,
        last=first + len(members),
        previous_page=query(page - 1) if page > 1 else None,
        next_page=query(page + 1) if page < last_page else None,
        per_page=MEMBERS_PER_PAGE,
        topic=topic,
        frequency=frequency,
        status=status,
    )


def _member_form(request: Request, staff: Any, status: int = 200, **values: Any) -> HTMLResponse:
    context = {
        "member": None,
        "errors": [],
        "email": "",
        "name": "",
        "organisation": "",
        "chosen_topics": set(),
        "frequency": Frequency.WEEKLY,
        "events": [],
    } | values
    return staff_page(
        request,
        "member.html",
        staff,
        status,
        topics=request.app.state.taxonomy.topics,
        frequencies=FREQUENCIES,
        **context,
    )


@router.get("/members/new")
def new_member_form(request: Request, staff: CurrentStaff) -> HTMLResponse:
    return _member_form(request, staff)


@router.post("/members/new", dependencies=[CsrfChecked])
def new_member(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    organisation: Annotated[str, Form(max_length=200)] = "",
    topics: Annotated[list[str], Form()] = [],  # noqa: B006
    frequency: Annotated[str, Form()] = Frequency.WEEKLY,
    consent_confirmed: Annotated[bool, Form()] = False,
) -> Response:
    try:
        address = normalise_email(email)
        chosen, how_often = check_choices(topics, frequency, request.app.state.taxonomy.ids)
        member = add_member(
            session,
            address,
            name=name.strip(),
            organisation=organisation.strip(),
            topics=chosen,
            frequency=how_often,
            consent_confirmed=consent_confirmed,
            added_by=staff.email,
            now=datetime.now(UTC),
        )
    except (InvalidEmail, InvalidChoice) as error:
        return _member_form(
            request,
            staff,
            422,
            errors=[str(error)],
            email=email,
            name=name,
            organisation=organisation,
            chosen_topics=set(topics),
            frequency=frequency,
        )
    session.commit()  # saved before the email goes: no lock is held while a mail service answers
    if not consent_confirmed:
        send_confirmation(settings, transport_for(settings), member)
    return RedirectResponse(f"/staff/members/{member.id}", status_code=303)


@router.get("/members/import")
def import_form(request: Request, staff: CurrentStaff) -> HTMLResponse:
    return staff_page(request, "import.html", staff, report=None, error=None)


@router.post("/members/import", dependencies=[CsrfChecked])
def import_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: CurrentStaff,
    background: BackgroundTasks,
    file: Annotated[UploadFile | None, File()] = None,
    consent_confirmed: Annotated[bool, Form()] = False,
    update_existing: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Import the file and show what became of each row. A plain function, run in a worker
    thread: a large file must not hold up every other request while it is read and stored."""
    data = file.file.read(MAX_UPLOAD + 1) if file is not None else b""
    error = None
    report = None
    now = datetime.now(UTC)
    if file is None or not (file.filename or data):
        error = "Choose the CSV file to import, then press Import."
    elif len(data) > MAX_UPLOAD:
        error = "The file is larger than 5 MB; split it and import the parts."
    else:
        try:
            report = import_members(
                session,
                decode(data),
                known_topics=request.app.state.taxonomy.ids,
                consent_confirmed=consent_confirmed,
                update_existing=update_existing,
                imported_by=staff.email,
                now=now,
            )
        except ImportFileError as problem:
            error = str(problem)
    if report is not None and report.to_confirm:
        # Planned with the members, in this request's transaction; sent after the response
        # (and by the worker, should this process stop first).
        period = plan_confirmations(session, report.to_confirm, now)
        background.add_task(_send_confirmations, request.app.state.engine, settings, period)
    status = 200 if error is None else 422
    return staff_page(request, "import.html", staff, status, report=report, error=error)


def _send_confirmations(engine: sa.Engine, settings: Settings, period: str) -> None:
    with session_scope(engine) as session:
        send_confirmations(session, transport_for(settings), settings, period)


def _no_such_member(request: Request, staff: Any) -> HTMLResponse:
    return staff_message(
        request, staff, 404, "No such member", "This member does not exist or has been erased."
    )


@router.get("/members/{member_id}")
def member_page(
    request: Request, member_id: int, session: SessionDep, staff: CurrentStaff
) -> HTMLResponse:
    member = session.get(Member, member_id)
    if member is None or member.status == MemberStatus.ERASED:
        return _no_such_member(request, staff)
    events = session.exec(
        select(ConsentEvent)
        .where(ConsentEvent.member_id == member_id)
        .order_by(col(ConsentEvent.at))
    ).all()
    return _member_form(
        request,
        staff,
        member=member,
        email=member.email,
        name=member.name,
        organisation=member.organisation,
        chosen_topics=set(member_topics(session, member_id)),
        frequency=member.frequency,
        events=events,
    )


@router.post("/members/{member_id}", dependencies=[CsrfChecked])
def edit_member(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: CurrentStaff,
    name: Annotated[str, Form(max_length=200)] = "",
    organisation: Annotated[str, Form(max_length=200)] = "",
    topics: Annotated[list[str], Form()] = [],  # noqa: B006
    frequency: Annotated[str, Form()] = Frequency.WEEKLY,
) -> Response:
    member = session.get(Member, member_id)
    if member is None or member.status == MemberStatus.ERASED:
        return _no_such_member(request, staff)
    try:
        chosen, how_often = check_choices(topics, frequency, request.app.state.taxonomy.ids)
    except InvalidChoice as error:
        return staff_message(request, staff, 422, "That did not work", str(error))
    member.name, member.organisation = name.strip(), organisation.strip()
    update_preferences(session, member, chosen, how_often, datetime.now(UTC))
    return RedirectResponse(f"/staff/members/{member_id}", status_code=303)


@router.post("/members/{member_id}/erase", dependencies=[CsrfChecked])
def erase_member(
    request: Request,
    member_id: int,
    session: SessionDep,
    staff: CurrentStaff,
    confirm_email: Annotated[str, Form()] = "",
) -> Response:
    """Erase a member for good, once staff have typed the member's address to confirm it."""
    member = session.get(Member, member_id)
    if member is None or member.status == MemberStatus.ERASED:
        return _no_such_member(request, staff)
    if confirm_email.strip().lower() != member.email:
        return staff_message(
            request,
            staff,
            422,
            "The member was not erased",
            f"Erasing cannot be undone. To erase {member.email}, type that address in the "
            "box above the Erase button on their page, and press it again.",
            link={"href": f"/staff/members/{member_id}", "text": f"Back to {member.email}"},
        )
    erase(session, member, f"staff ({staff.email})", datetime.now(UTC))
    return staff_message(
        request,
        staff,
        200,
        "Member erased",
        "Their personal data is gone. An anonymous record stays so "
        "that an import cannot subscribe them again.",
    )


@router.get("/members.csv")
def export_csv(session: SessionDep, staff: CurrentStaff) -> Response:
    return Response(
        export_file(session),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="members.csv"'},
    )
