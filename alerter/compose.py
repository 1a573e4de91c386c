"""Digest emails from digest content: an HTML part (inline styles, no images, small enough that
Gmail does not clip it) and a plain-text part with the same content. Pure."""

from dataclasses import dataclass

from alerter.delivery.message import Email
from alerter.digest import Digest
from alerter.render import render

# Gmail clips messages whose HTML is larger than about 102 KB.
HTML_LIMIT = 100_000


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    manage_url: str
    unsubscribe_url: str
    more_url: str  # where the items left out by the cap can be seen


def digest_email(digest: Digest, recipient: Recipient, *, heading: str, kind: str) -> Email:
    """The email for one member; carries List-Unsubscribe for one-click unsubscribing."""
    first = digest.sections[0].entries[0].item.title if digest.sections else ""
    context = {
        "digest": digest,
        "heading": heading,
        "greeting_name": recipient.name.split()[0] if recipient.name.strip() else "",
        "preheader": f"{digest.count} new: {first}"[:140],
        "manage_url": recipient.manage_url,
        "unsubscribe_url": recipient.unsubscribe_url,
        "more_url": recipient.more_url,
    }
    html = render("email/digest.html", **context)
    if len(html.encode()) > HTML_LIMIT:
        raise ValueError(f"digest HTML is {len(html.encode()):,} bytes; lower the item cap")
    subject = f"{heading}: {digest.count} new {'item' if digest.count == 1 else 'items'}"
    return Email(
        to=recipient.email,
        subject=subject,
        text=render("email/digest.txt", **context),
        html=html,
        kind=kind,
        headers={
            "List-Unsubscribe": f"<{recipient.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
