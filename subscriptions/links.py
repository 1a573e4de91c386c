"""A member's own links: signed for one purpose (confirm, manage, unsubscribe), their news page,
and their calendar feed. What the emails carrying them say is alerter.delivery.compose's."""

from typing import Protocol
from urllib.parse import quote

from alerter.config import Settings, secret_key
from subscriptions.models import Member
from subscriptions.tokens import Purpose, TokenSubject, make_calendar_token, make_token


class Identified(Protocol):
    @property
    def id(self) -> int | None: ...

    @property
    def email_hash(self) -> str: ...


class Addressee(Identified, Protocol):
    @property
    def email(self) -> str | None: ...

    @property
    def name(self) -> str: ...


def member_link(settings: Settings, member: Identified, purpose: Purpose) -> str:
    """An absolute link for this member (or subscriber), signed for one purpose."""
    assert member.id is not None
    token = make_token(secret_key(settings), purpose, TokenSubject(member.id, member.email_hash))
    return f"{settings.base_url.rstrip('/')}/{purpose.value}/{quote(token)}"


def calendar_link(settings: Settings, member: Member) -> str:
    """The member's calendar feed of open consultations on their topics: it never expires,
    and stops working when the member asks for a new one (see members.renew_calendar_link)."""
    assert member.id is not None
    token = make_calendar_token(
        secret_key(settings), TokenSubject(member.id, member.email_hash), member.calendar_version
    )
    return f"{settings.base_url.rstrip('/')}/calendar/{quote(token)}.ics"


def news_link(manage_link: str) -> str:
    """The member's page of recent items on their topics, opened by their manage link's token:
    where a digest's "and N more" leads."""
    base, _, token = manage_link.rpartition(f"/{Purpose.MANAGE.value}/")
    return f"{base}/news/{token}"
