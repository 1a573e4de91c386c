"""Digest and bulletin emails from their content: an HTML part (inline styles, no images, small
enough that Gmail does not clip it) and a plain-text part with the same content. Pure.

The content is composed once per distinct email, with tags where each recipient's greeting and
links go; `personalization` gives a recipient's values for those tags."""

from dataclasses import dataclass
from typing import Any

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
    message_token: str | None = None  # that row's Message-ID token
    unsubscribe_mailto: str | None = None  # where unsubscribing by email goes, if anywhere


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


def markdown_text(text: str) -> str:
    """Staff's Markdown as plain text: emphasis dropped, a link's address after its words,
    list items marked, paragraphs apart, and nothing else of the syntax left."""
    blocks: list[tuple[str, int | None]] = []  # (text, the top-level list it is an item of)
    lists: list[list[int]] = []  # per open list: [next number], or [] for bullets
    prefix, top_lists = "", 0
    for token in _MARKDOWN.parse(text):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            top_lists += not lists
            lists.append([int(token.attrs.get("start", 1) or 1)] if token.tag == "ol" else [])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            numbering = lists[-1]
            prefix = f"{numbering[0]}. " if numbering else "- "
            if numbering:
                numbering[0] += 1
        elif token.type == "blockquote_open":
            prefix = "> "
        elif token.type in ("code_block", "fence"):
            blocks.append((token.content.rstrip("\n"), None))
        elif token.type == "inline":
            indent = "  " * max(len(lists) - 1, 0)
            item_of = top_lists if lists else None
            blocks.append((indent + prefix + _inline_text(token.children or []), item_of))
            prefix = ""
    out = ""
    for n, (block, item_of) in enumerate(blocks):
        if n:  # the items of a list stay together; everything else is a paragraph apart
            out += "\n" if item_of is not None and item_of == blocks[n - 1][1] else "\n\n"
        out += block
    return out


def _inline_text(children: list[Any]) -> str:
    out: list[str] = []
    link: str | None = None
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "link_open":
            link = str(child.attrs.get("href", ""))
        elif child.type == "link_close" and link:
            out.append(f" ({link})")
            link = None
        elif child.type == "image":
            out.append(child.content)
    return "".join(out)


def bulletin_mailing(content: BulletinContent) -> Mailing:
    """The bulletin's email, with tags for the recipients' values and no recipients yet."""
    introduction_text = markdown_text(content.introduction)
    context = {
        "bulletin": content,
        "introduction_html": markdown_html(content.introduction),
        "introduction_text": introduction_text,
        "preheader": (introduction_text.split("\n", 1)[0] or content.subject)[:140],
    }
    text = render("email/bulletin.txt", **context, **{f: text_tag(f) for f in RECIPIENT_FIELDS})
    html = render("email/bulletin.html", **context, **{f: html_tag(f) for f in RECIPIENT_FIELDS})
    if len(html.encode()) > HTML_LIMIT:
        raise ValueError(f"bulletin HTML is {len(html.encode()):,} bytes; include fewer items")
    return Mailing(content.subject, text, html, "bulletin", ())
