"""The emails subscriptions sends itself: confirmation links and fresh manage links.

A confirmation email is one content with each recipient's greeting and links filled in, so
that many of them (an import's new members) can go through the delivery ledger together."""

from typing import Protocol
from urllib.parse import quote

from alerter.config import Settings, secret_key
from alerter.delivery import Email, Mailing, Personalization, Transport, single
from alerter.delivery.message import html_tag, text_tag
from alerter.render import render
from subscriptions.models import Member
from subscriptions.tokens import Purpose, TokenSubject, make_calendar_token, make_token

# The ledger's kind for confirmation emails (an import's new members get them through it).
CONFIRMATION = "confirmation"
_CONFIRMATION_FIELDS = ("greeting", "confirm_url", "manage_url")


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


def confirmation_mailing() -> Mailing:
    """The confirmation email, with tags for each recipient's greeting and links."""
    text = render("email/confirm.txt", **{f: text_tag(f) for f in _CONFIRMATION_FIELDS})
    html = render("email/confirm.html", **{f: html_tag(f) for f in _CONFIRMATION_FIELDS})
    return Mailing("Confirm your policy alerts", text, html, CONFIRMATION, ())


def confirmation_recipient(
    settings: Settings,
    member: Addressee,
    key: str | None = None,
    message_token: str | None = None,
) -> Personalization:
    """A member's values for the confirmation email; `key` is its ledger row's id and
    `message_token` that row's."""
    assert member.email is not None
    return Personalization(
        to=member.email,
        values={
            "greeting": f"Hello {member.name}," if member.name else "Hello,",
            "confirm_url": member_link(settings, member, Purpose.CONFIRM),
            "manage_url": member_link(settings, member, Purpose.MANAGE),
        },
        key=key,
        message_token=message_token,
    )


def send_confirmation(settings: Settings, transport: Transport, member: Member) -> None:
    """One confirmation email now (a sign-up, a member added by staff, a link asked for)."""
    recipient = confirmation_recipient(settings, member)
    transport.send(confirmation_mailing().with_recipients((recipient,)))


def send_manage_link(settings: Settings, transport: Transport, member: Member, reason: str) -> None:
    """A fresh manage link: asked for after an old one expired, or on signing up again."""
    _send(
        transport,
        member,
        "Manage your policy alerts",
        "manage_link",
        "manage-link",
        reason=reason,
        manage_url=member_link(settings, member, Purpose.MANAGE),
        unsubscribe_url=member_link(settings, member, Purpose.UNSUBSCRIBE),
    )


def _send(
    transport: Transport,
    member: Member,
    subject: str,
    template: str,
    kind: str,
    **context: str,
) -> None:
    """Render templates/email/<template>.txt and .html for the member and send them."""
    assert member.email is not None
    context["name"] = member.name
    email = Email(
        to=member.email,
        subject=subject,
        text=render(f"email/{template}.txt", **context),
        html=render(f"email/{template}.html", **context),
        kind=kind,
    )
    transport.send(single(email))
