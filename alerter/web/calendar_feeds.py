"""Calendar feeds of open consultations, calls for evidence and committee inquiries: a
member's, on their topics, opened by their calendar link (never expiring, revocable from the
manage page); and a public one per topic."""

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from alerter.config import secret_key
from alerter.deadlines.calendar import calendar_feed, open_deadlines
from alerter.web.deps import ClockDep, SessionDep, SettingsDep
from subscriptions.members import topics_of
from subscriptions.models import Member, MemberStatus
from subscriptions.tokens import TokenInvalid, matches, read_calendar_token

router = APIRouter()
ICS = "text/calendar; charset=utf-8"


def _not_found(what: str) -> PlainTextResponse:
    # Calendar apps show no pages: a short text says why the feed stopped.
    return PlainTextResponse(what, status_code=404)


@router.get("/calendar/{token}.ics")
def member_calendar(
    token: str, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    try:
        subject, version = read_calendar_token(secret_key(settings), token)
    except TokenInvalid:
        return _not_found("This calendar link is not valid.")
    member = session.get(Member, subject.member_id)
    if (
        member is None
        or member.email is None
        or not matches(subject, member.email_hash)
        or version != member.calendar_version
    ):
        return _not_found("This calendar link has been replaced or is no longer valid.")
    if member.status != MemberStatus.ACTIVE:  # unsubscribing stops everything
        return _not_found("This calendar stopped when its member unsubscribed.")
    assert member.id is not None
    deadlines = open_deadlines(session, topics_of(session, member.id), clock())
    body = calendar_feed("Consultations on your topics", deadlines, base_url=settings.base_url)
    return Response(body, media_type=ICS)


@router.get("/topics/{topic_id}/calendar.ics")
def topic_calendar(
    request: Request, topic_id: str, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    topic = next((t for t in request.app.state.taxonomy.topics if t.id == topic_id), None)
    if topic is None:
        return _not_found("There is no such topic.")
    deadlines = open_deadlines(session, [topic.id], clock())
    body = calendar_feed(f"Consultations: {topic.label}", deadlines, base_url=settings.base_url)
    return Response(body, media_type=ICS)
