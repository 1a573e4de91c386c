"""The emails about a member's own subscription: the confirmation link (one content with each
recipient's greeting and links filled in, so that many of them, an import's new members, can
go through the delivery ledger together) and a fresh manage link. Pure."""

from alerter.config import Settings
from alerter.delivery.compose.recipients import tags
from alerter.delivery.message import Email, Mailing, Personalization
from alerter.render import render
from subscriptions.links import Addressee, member_link
from subscriptions.tokens import Purpose

# The ledger's kind for confirmation emails (an import's new members get them through it).
CONFIRMATION = "confirmation"
_CONFIRMATION_FIELDS = ("greeting", "confirm_url", "manage_url")


def confirmation_mailing() -> Mailing:
    """The confirmation email, with tags for each recipient's greeting and links."""
    tagged = tags(_CONFIRMATION_FIELDS)
    text = render("email/confirm.txt", **tagged["text"])
    html = render("email/confirm.html", **tagged["html"])
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


def manage_link_email(settings: Settings, member: Addressee, reason: str) -> Email:
    """A fresh manage link: asked for after an old one expired, or on signing up again."""
    assert member.email is not None
    context = {
        "reason": reason,
        "manage_url": member_link(settings, member, Purpose.MANAGE),
        "unsubscribe_url": member_link(settings, member, Purpose.UNSUBSCRIBE),
        "name": member.name,
    }
    return Email(
        to=member.email,
        subject="Manage your policy alerts",
        text=render("email/manage_link.txt", **context),
        html=render("email/manage_link.html", **context),
        kind="manage-link",
    )
