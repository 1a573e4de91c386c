"""The emails subscriptions sends itself: confirmation links and fresh manage links."""

from typing import Protocol
from urllib.parse import quote

from alerter.config import Settings, secret_key
from alerter.delivery import Email, OutboxTransport
from alerter.render import render
from subscriptions.models import Member
from subscriptions.tokens import Purpose, TokenSubject, make_token


class Identified(Protocol):
    @property
    def id(self) -> int | None: ...

    @property
    def email_hash(self) -> str: ...


def member_link(settings: Settings, member: Identified, purpose: Purpose) -> str:
    """An absolute link for this member (or subscriber), signed for one purpose."""
    assert member.id is not None
    token = make_token(secret_key(settings), purpose, TokenSubject(member.id, member.email_hash))
    return f"{settings.base_url.rstrip('/')}/{purpose.value}/{quote(token)}"


def send_confirmation(settings: Settings, transport: OutboxTransport, member: Member) -> None:
    assert member.email is not None
    context = {
        "name": member.name,
        "confirm_url": member_link(settings, member, Purpose.CONFIRM),
        "manage_url": member_link(settings, member, Purpose.MANAGE),
    }
    transport.send(
        Email(
            to=member.email,
            subject="Confirm your policy alerts",
            text=render("email/confirm.txt", **context),
            html=render("email/confirm.html", **context),
            kind="confirmation",
        )
    )


def send_manage_link(
    settings: Settings, transport: OutboxTransport, member: Member, reason: str
) -> None:
    """A fresh manage link: asked for after an old one expired, or on signing up again."""
    assert member.email is not None
    context = {
        "name": member.name,
        "reason": reason,
        "manage_url": member_link(settings, member, Purpose.MANAGE),
        "unsubscribe_url": member_link(settings, member, Purpose.UNSUBSCRIBE),
    }
    transport.send(
        Email(
            to=member.email,
            subject="Manage your policy alerts",
            text=render("email/manage_link.txt", **context),
            html=render("email/manage_link.html", **context),
            kind="manage-link",
        )
    )
