"""Digest and bulletin emails from their content: an HTML part (inline styles, no images, small
enough that Gmail does not clip it) and a plain-text part with the same content. Pure.

The content is composed once per distinct email, with tags where each recipient's greeting and
links go; `personalization` gives a recipient's values for those tags."""

from dataclasses import dataclass

from markdown_it import MarkdownIt

from alerter.delivery.message import Email, Mailing, Personalization, html_tag, text_tag
from alerter.digest import Digest, DigestItem
from alerter.render import render

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


def personalization(recipient: Recipient) -> Personalization:
    """The recipient's values for the tags, and List-Unsubscribe for one-click unsubscribing."""
    first_name = recipient.name.split()[0] if recipient.name.strip() else ""
    return Personalization(
        to=recipient.email,
        values={
            "greeting": f"Hello {first_name}," if first_name else "Hello,",
            "manage_url": recipient.manage_url,
            "unsubscribe_url": recipient.unsubscribe_url,
            "more_url": recipient.more_url,
        },
        headers={
            "List-Unsubscribe": f"<{recipient.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        key=recipient.key,
    )


def digest_mailing(digest: Digest, *, heading: str, kind: str) -> Mailing:
    """The digest's content, with tags for the recipients' values and no recipients yet."""
    first = digest.sections[0].entries[0].item.title if digest.sections else ""
    preheader = f"{digest.count} new: {first}" if first else "Nothing new on your topics"
    context = {"digest": digest, "heading": heading, "preheader": preheader[:140]}
    text = render("email/digest.txt", **context, **{f: text_tag(f) for f in RECIPIENT_FIELDS})
    html = render("email/digest.html", **context, **{f: html_tag(f) for f in RECIPIENT_FIELDS})
    if len(html.encode()) > HTML_LIMIT:
        raise ValueError(f"digest HTML is {len(html.encode()):,} bytes; lower the item cap")
    if digest.empty:
        subject = f"{heading}: nothing new"
    else:
        subject = f"{heading}: {digest.count} new {'item' if digest.count == 1 else 'items'}"
    return Mailing(subject, text, html, kind, ())


def digest_email(digest: Digest, recipient: Recipient, *, heading: str, kind: str) -> Email:
    """The finished email for one member, as they will receive it."""
    return digest_mailing(digest, heading=heading, kind=kind).expand(personalization(recipient))


@dataclass(frozen=True)
class BulletinContent:
    """A bulletin as its email shows it."""

    subject: str
    introduction: str  # Markdown, written by staff
    items: tuple[DigestItem, ...]  # in the order staff chose them
    audience: str  # who it went to, in words: "members following Tariffs and trade remedies"
    archive_url: str  # the bulletin's page in the members' archive ("view in browser")


_MARKDOWN = MarkdownIt("commonmark", {"html": False})  # raw HTML in the source is escaped


def markdown_html(text: str) -> str:
    """Staff's Markdown as safe HTML: no raw HTML passes, no javascript: links."""
    return str(_MARKDOWN.render(text))


def bulletin_mailing(content: BulletinContent) -> Mailing:
    """The bulletin's email, with tags for the recipients' values and no recipients yet. The
    plain-text part carries the introduction as written: Markdown reads as plain text."""
    first_line = next((line for line in content.introduction.splitlines() if line.strip()), "")
    context = {
        "bulletin": content,
        "introduction_html": markdown_html(content.introduction),
        "preheader": (first_line.lstrip("#*> ").strip() or content.subject)[:140],
    }
    text = render("email/bulletin.txt", **context, **{f: text_tag(f) for f in RECIPIENT_FIELDS})
    html = render("email/bulletin.html", **context, **{f: html_tag(f) for f in RECIPIENT_FIELDS})
    if len(html.encode()) > HTML_LIMIT:
        raise ValueError(f"bulletin HTML is {len(html.encode()):,} bytes; include fewer items")
    return Mailing(content.subject, text, html, "bulletin", ())
