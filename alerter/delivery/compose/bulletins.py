"""Bulletin emails from what staff wrote: their Markdown introduction as safe HTML and as plain
text, then the items they chose, in the same two parts as a digest. Pure."""

from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from alerter.config import Settings
from alerter.delivery.compose.digests import ShownItem
from alerter.delivery.compose.recipients import HTML_LIMIT, tags
from alerter.delivery.message import Email, Mailing, Personalization
from alerter.render import render

# The ledger's kind for bulletins.
BULLETIN = "bulletin"


@dataclass(frozen=True)
class BulletinContent:
    """A bulletin as its email shows it."""

    subject: str
    introduction: str  # Markdown, written by staff
    items: tuple[ShownItem, ...]  # in the order staff chose them
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
    tagged = tags()
    text = render("email/bulletin.txt", **context, **tagged["text"])
    html = render("email/bulletin.html", **context, **tagged["html"])
    if len(html.encode()) > HTML_LIMIT:
        raise ValueError(f"bulletin HTML is {len(html.encode()):,} bytes; include fewer items")
    return Mailing(content.subject, text, html, BULLETIN, ())


def sample_email(settings: Settings, content: BulletinContent, to: str) -> Email:
    """The bulletin as members will receive it, addressed to someone who is not a member (a
    preview, a test to staff): its personal links lead to the sign-up page."""
    signup = f"{settings.base_url.rstrip('/')}/signup"
    recipient = Personalization(
        to,
        {"greeting": "Hello,", "manage_url": signup, "unsubscribe_url": signup, "more_url": signup},
    )
    return bulletin_mailing(content).expand(recipient)
