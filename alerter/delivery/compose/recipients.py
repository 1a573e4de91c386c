"""Each recipient's part of an email composed once for many: their greeting and links, filled
into the tags the content left for them, and List-Unsubscribe. Pure."""

from dataclasses import dataclass

from alerter.config import Settings
from alerter.delivery.message import Personalization, html_tag, text_tag
from subscriptions.links import Addressee, member_link, news_link
from subscriptions.tokens import Purpose

# Gmail clips messages whose HTML is larger than about 102 KB; the limit leaves room for the
# recipient's links, which are longer than the tags they replace.
HTML_LIMIT = 100_000
RECIPIENT_FIELDS = ("greeting", "manage_url", "unsubscribe_url", "more_url")


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    manage_url: str
    unsubscribe_url: str
    more_url: str  # where the items left out by the cap can be seen
    key: str | None = None  # the delivery ledger row's id
    message_token: str | None = None  # that row's Message-ID token
    unsubscribe_mailto: str | None = None  # where unsubscribing by email goes, if anywhere


def tags(fields: tuple[str, ...] = RECIPIENT_FIELDS) -> dict[str, dict[str, str]]:
    """The tags standing for each recipient's values, for the text and for the HTML part."""
    return {
        "text": {f: text_tag(f) for f in fields},
        "html": {f: html_tag(f) for f in fields},
    }


def member_recipient(
    settings: Settings,
    member: Addressee,
    *,
    key: str | None = None,
    message_token: str | None = None,
) -> Recipient:
    """A member as the recipient of an email about news (a digest, a bulletin, a reminder);
    `key` is its ledger row's id and `message_token` that row's."""
    assert member.email is not None
    manage = member_link(settings, member, Purpose.MANAGE)
    return Recipient(
        member.email,
        member.name,
        manage,
        member_link(settings, member, Purpose.UNSUBSCRIBE),
        news_link(manage),
        key=key,
        message_token=message_token,
        unsubscribe_mailto=settings.unsubscribe_mailto,
    )


def personalization(recipient: Recipient) -> Personalization:
    """The recipient's values for the tags, and List-Unsubscribe for one-click unsubscribing
    (RFC 8058), with an address to write to beside it when there is one."""
    first_name = recipient.name.split()[0] if recipient.name.strip() else ""
    unsubscribe = f"<{recipient.unsubscribe_url}>"
    if recipient.unsubscribe_mailto:
        unsubscribe += f", <mailto:{recipient.unsubscribe_mailto}?subject=unsubscribe>"
    return Personalization(
        to=recipient.email,
        values={
            "greeting": f"Hello {first_name}," if first_name else "Hello,",
            "manage_url": recipient.manage_url,
            "unsubscribe_url": recipient.unsubscribe_url,
            "more_url": recipient.more_url,
        },
        headers={
            "List-Unsubscribe": unsubscribe,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        key=recipient.key,
        message_token=recipient.message_token,
    )


def member_personalization(
    settings: Settings, member: Addressee, *, key: str, message_token: str
) -> Personalization:
    """A member's values for an email about news, sent for the ledger row `key`."""
    return personalization(member_recipient(settings, member, key=key, message_token=message_token))
