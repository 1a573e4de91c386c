"""Members' pages: sign up, confirm, manage topics and frequency, unsubscribe. No passwords:
each page after sign-up is opened by a signed link from an email."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from alerter.config import Settings, secret_key
from alerter.delivery import transport_for
from alerter.digests.candidates import candidates
from alerter.digests.selection import build_digest
from alerter.notices import send_confirmation, send_manage_link
from alerter.web.deps import (
    ClientDep,
    ClockDep,
    CsrfChecked,
    PageInstead,
    SessionDep,
    SettingsDep,
    page,
)
from subscriptions.links import calendar_link, member_link, news_link
from subscriptions.members import (
    InvalidChoice,
    InvalidEmail,
    check_choices,
    confirm,
    normalise_email,
    renew_calendar_link,
    sign_up,
    topics_of,
    unsubscribe,
    update_preferences,
)
from subscriptions.models import Frequency, Member, MemberStatus
from subscriptions.throttle import (
    RESEND,
    RESEND_PER_CLIENT,
    SIGNUP,
    SIGNUP_PER_CLIENT,
    TooManyAttempts,
    throttle,
)
from subscriptions.tokens import Purpose, TokenExpired, TokenInvalid, matches, read_token

router = APIRouter()

FREQUENCIES = [
    (Frequency.WEEKLY.value, "Weekly digest (Monday morning)"),
    (Frequency.DAILY.value, "Daily digest (each morning)"),
    (Frequency.IMMEDIATE.value, "As soon as something lands"),
]
TopicsForm = Annotated[list[str], Form()]


def _choices(request: Request, topics: list[str], frequency: str) -> dict[str, Any]:
    return {
        "topics": request.app.state.taxonomy.topics,
        "chosen_topics": set(topics),
        "frequency": frequency,
        "frequencies": FREQUENCIES,
    }


def _member_from(
    request: Request, session: Session, settings: Settings, purpose: Purpose, token: str
) -> Member:
    """The member a link is for, or a page explaining why the link cannot be used."""
    try:
        subject = read_token(secret_key(settings), purpose, token)
    except TokenExpired:
        raise PageInstead(
            page(request, "pages/link_expired.html", 410, token=token, purpose=purpose.value)
        ) from None
    except TokenInvalid:
        raise PageInstead(_invalid_link(request)) from None
    member = session.get(Member, subject.member_id)
    if member is None or member.email is None or not matches(subject, member.email_hash):
        raise PageInstead(_invalid_link(request))
    return member


def _invalid_link(request: Request) -> HTMLResponse:
    return page(
        request,
        "pages/message.html",
        400,
        heading="This link does not work",
        paragraphs=[
            "It may have been cut short when it was copied, or it is not one of ours.",
            "Open the link from the email again, or sign up to get a new one.",
        ],
        link={"href": "/signup", "text": "Sign up for alerts"},
    )


def _too_many(request: Request, what: str, error: TooManyAttempts) -> HTMLResponse:
    return page(
        request,
        "pages/message.html",
        429,
        heading="Please wait a while",
        paragraphs=[
            f"There have been too many {what} for this address or from this connection.",
            f"Try again in {error.wait}.",
        ],
    )


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/signup", status_code=303)


@router.get("/signup")
def signup_form(request: Request) -> HTMLResponse:
    return page(
        request,
        "pages/signup.html",
        errors=[],
        email="",
        name="",
        organisation="",
        **_choices(request, [], Frequency.WEEKLY),
    )


@router.post("/signup", dependencies=[CsrfChecked])
def signup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
    clock: ClockDep,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    organisation: Annotated[str, Form(max_length=200)] = "",
    topics: TopicsForm = [],  # noqa: B006 (FastAPI copies defaults)
    frequency: Annotated[str, Form()] = Frequency.WEEKLY,
) -> HTMLResponse:
    errors = []
    address = ""
    try:
        address = normalise_email(email)
    except InvalidEmail:
        errors.append("Enter an email address in the correct format, like name@example.com")
    try:
        chosen, how_often = check_choices(topics, frequency, request.app.state.taxonomy.ids)
    except InvalidChoice as error:
        errors.append(str(error).capitalize())
    if not errors and not chosen:
        errors.append("Choose at least one topic")
    if errors:
        return page(
            request,
            "pages/signup.html",
            422,
            errors=errors,
            email=email,
            name=name,
            organisation=organisation,
            **_choices(request, topics, frequency),
        )
    now = clock()
    try:
        # Each sign-up emails the address: without a limit the form could flood someone's inbox.
        throttle(session, [(SIGNUP, "email", address), (SIGNUP_PER_CLIENT, "client", client)], now)
    except TooManyAttempts as error:
        return _too_many(request, "sign-ups", error)
    result = sign_up(
        session,
        address,
        name=name.strip(),
        organisation=organisation.strip(),
        topics=chosen,
        frequency=how_often,
        now=now,
    )
    session.commit()  # saved before the email goes: no lock is held while a mail service answers
    transport = transport_for(settings)
    if result.send == "confirm":
        send_confirmation(settings, transport, result.member)
    elif result.send == "manage":
        send_manage_link(
            settings, transport, result.member, "You asked to sign up, and you already are."
        )
    # The same answer whatever happened: it must not reveal whether the address was known.
    return page(
        request,
        "pages/message.html",
        heading="Check your email",
        paragraphs=[
            f"We have sent a message to {address}. Open the link in it to confirm your alerts.",
            "If it has not arrived in a few minutes, check your spam folder.",
        ],
    )


@router.get("/confirm/{token}")
def confirm_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    member = _member_from(request, session, settings, Purpose.CONFIRM, token)
    if member.status == MemberStatus.ACTIVE:
        return _subscribed(request, settings, member)
    # A button, not an action on GET: mail scanners open links without asking anyone.
    return page(request, "pages/confirm.html", email=member.email)


@router.post("/confirm/{token}", dependencies=[CsrfChecked])
def confirm_post(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    member = _member_from(request, session, settings, Purpose.CONFIRM, token)
    confirm(session, member, datetime.now(UTC))
    return _subscribed(request, settings, member)


def _subscribed(request: Request, settings: Settings, member: Member) -> HTMLResponse:
    if member.status != MemberStatus.ACTIVE:
        return _invalid_link(request)
    return page(
        request,
        "pages/message.html",
        heading="You are subscribed",
        paragraphs=["Your alerts will arrive at " + str(member.email) + "."],
        link={"href": member_link(settings, member, Purpose.MANAGE), "text": "Choose topics"},
    )


@router.get("/manage/{token}")
def manage_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, calendar: str = ""
) -> HTMLResponse:
    member = _member_from(request, session, settings, Purpose.MANAGE, token)
    renewed = calendar == "renewed"
    return _manage(request, session, settings, member, saved=False, calendar_renewed=renewed)


@router.post("/manage/{token}", dependencies=[CsrfChecked])
def manage_post(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    topics: TopicsForm = [],  # noqa: B006
    frequency: Annotated[str, Form()] = Frequency.WEEKLY,
    deadline_reminders: Annotated[bool, Form()] = False,  # an unticked box sends nothing
) -> HTMLResponse:
    member = _member_from(request, session, settings, Purpose.MANAGE, token)
    try:
        chosen, how_often = check_choices(topics, frequency, request.app.state.taxonomy.ids)
    except InvalidChoice as error:
        return page(
            request,
            "pages/message.html",
            422,
            heading="That did not work",
            paragraphs=[str(error).capitalize()],
        )
    if not chosen:
        # Kept as they were: a member with no topics would get nothing while believing
        # they are subscribed.
        return _manage(
            request,
            session,
            settings,
            member,
            saved=False,
            error="Choose at least one topic, or unsubscribe from all alerts.",
            choices=(chosen, how_often),
        )
    update_preferences(
        session, member, chosen, how_often, datetime.now(UTC), deadline_reminders=deadline_reminders
    )
    session.flush()
    return _manage(request, session, settings, member, saved=True)


def _manage(
    request: Request,
    session: Session,
    settings: Settings,
    member: Member,
    *,
    saved: bool,
    error: str = "",
    choices: tuple[list[str], str] | None = None,
    calendar_renewed: bool = False,
) -> HTMLResponse:
    """The manage page with the member's choices (or, after an error, what they posted)."""
    assert member.id is not None
    topics, frequency = choices or (topics_of(session, member.id), member.frequency)
    return page(
        request,
        "pages/manage.html",
        422 if error else 200,
        email=member.email,
        saved=saved,
        error=error,
        news_url=news_link(member_link(settings, member, Purpose.MANAGE)),
        unsubscribe_url=member_link(settings, member, Purpose.UNSUBSCRIBE),
        deadline_reminders=member.deadline_reminders,
        calendar_url=calendar_link(settings, member),
        renew_calendar_url=member_link(settings, member, Purpose.MANAGE) + "/calendar",
        calendar_renewed=calendar_renewed,
        **_choices(request, topics, frequency),
    )


@router.post("/manage/{token}/calendar", dependencies=[CsrfChecked])
def renew_calendar(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> RedirectResponse:
    """A new calendar link; the old one stops working (it may have been shared)."""
    member = _member_from(request, session, settings, Purpose.MANAGE, token)
    renew_calendar_link(session, member)
    return RedirectResponse(f"/manage/{quote(token)}?calendar=renewed", status_code=303)


NEWS_DAYS = 30
NEWS_CAP = 100


@router.get("/news/{token}")
def news_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """The items of the last 30 days on the member's topics: where a capped digest's "and N
    more" leads. Opened by the member's manage link."""
    member = _member_from(request, session, settings, Purpose.MANAGE, token)
    assert member.id is not None
    now = clock()
    topics = topics_of(session, member.id)
    found = candidates(session, since=now - timedelta(days=NEWS_DAYS), until=now, topics=topics)
    return page(
        request,
        "pages/news.html",
        digest=build_digest(found, topics, request.app.state.taxonomy, now=now, cap=NEWS_CAP),
        days=NEWS_DAYS,
        manage_url=member_link(settings, member, Purpose.MANAGE),
    )


@router.get("/unsubscribe/{token}")
def unsubscribe_page(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    # GET never unsubscribes: mail scanners follow links. The page has one button.
    member = _member_from(request, session, settings, Purpose.UNSUBSCRIBE, token)
    return page(request, "pages/unsubscribe.html", email=member.email)


@router.post("/unsubscribe/{token}")
def unsubscribe_post(
    request: Request, token: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The button, and RFC 8058 one-click unsubscribing: a mail provider POSTs
    `List-Unsubscribe=One-Click` here with no cookie, so the signed link is the only check."""
    member = _member_from(request, session, settings, Purpose.UNSUBSCRIBE, token)
    unsubscribe(session, member, "unsubscribe link", datetime.now(UTC))
    return page(
        request,
        "pages/message.html",
        heading="You are unsubscribed",
        paragraphs=[
            "We will not send you any more alerts.",
            "If you change your mind, you can sign up again.",
        ],
        link={"href": "/signup", "text": "Sign up again"},
    )


@router.post("/links/resend", dependencies=[CsrfChecked])
def resend_link(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
    clock: ClockDep,
    token: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = Purpose.MANAGE,
) -> HTMLResponse:
    """Email a fresh link to the member an expired (or still good) link was for."""
    member_id: int | None = None
    try:
        member_id = read_token(secret_key(settings), Purpose(purpose), token).member_id
    except TokenExpired as expired:
        member_id = expired.member_id
    except (TokenInvalid, ValueError):
        pass
    limits = [(RESEND_PER_CLIENT, "client", client)]
    if member_id:
        limits.append((RESEND, "member", str(member_id)))
    try:
        throttle(session, limits, clock())
    except TooManyAttempts as error:
        return _too_many(request, "requests for a new link", error)
    if member_id is None:
        return _invalid_link(request)
    member = session.get(Member, member_id)
    session.commit()  # the attempt counted before the email goes (no lock held while it does)
    if member is not None and member.email:
        transport = transport_for(settings)
        if member.status == MemberStatus.PENDING:
            send_confirmation(settings, transport, member)
        elif member.status == MemberStatus.ACTIVE:
            send_manage_link(
                settings, transport, member, "You asked for a new link to your alerts."
            )
    return page(
        request,
        "pages/message.html",
        heading="Check your email",
        paragraphs=[
            "If the link was one of ours, a new one is on its way to the address it was sent to."
        ],
    )
