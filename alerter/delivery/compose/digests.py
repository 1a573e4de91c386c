"""Digest emails from a chosen digest (alerter.digests.selection): an HTML part (inline styles,
no images, small enough that Gmail does not clip it) and a plain-text part with the same
content, composed once per distinct digest with tags where each recipient's greeting and links
go. Pure."""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from alerter.delivery.compose.recipients import HTML_LIMIT, Recipient, personalization, tags
from alerter.delivery.message import Email, Mailing
from alerter.render import render
from subscriptions.models import Frequency

HEADINGS = {
    Frequency.WEEKLY: "Your weekly policy alerts",
    Frequency.DAILY: "Your daily policy alerts",
    Frequency.IMMEDIATE: "New policy alerts",
}


# What the digest templates show of a digest; alerter.digests.selection's Digest is one.
class ShownItem(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def published(self) -> datetime: ...
    @property
    def publishers(self) -> tuple[str, ...]: ...


class ShownEntry(Protocol):
    @property
    def item(self) -> ShownItem: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def deadline(self) -> str: ...
    @property
    def responding(self) -> str: ...


class ShownSection(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def entries(self) -> Sequence[ShownEntry]: ...


class ShownDigest(Protocol):
    @property
    def sections(self) -> Sequence[ShownSection]: ...
    @property
    def more(self) -> int: ...
    @property
    def followed(self) -> tuple[str, ...]: ...
    @property
    def count(self) -> int: ...
    @property
    def empty(self) -> bool: ...


def digest_mailing(digest: ShownDigest, *, heading: str, kind: str) -> Mailing:
    """The digest's content, with tags for the recipients' values and no recipients yet."""
    first = digest.sections[0].entries[0].item.title if digest.sections else ""
    preheader = f"{digest.count} new: {first}" if first else "Nothing new on your topics"
    context = {"digest": digest, "heading": heading, "preheader": preheader[:140]}
    tagged = tags()
    text = render("email/digest.txt", **context, **tagged["text"])
    html = render("email/digest.html", **context, **tagged["html"])
    if len(html.encode()) > HTML_LIMIT:
        raise ValueError(f"digest HTML is {len(html.encode()):,} bytes; lower the item cap")
    subject = (
        f"{heading}: nothing new" if digest.empty else digest_subject(first, digest.count, kind)
    )
    return Mailing(subject, text, html, kind, ())


# Inboxes show 60 to 90 characters of a subject; the headline gives way, the count stays.
SUBJECT_LIMIT = 90
_WHERE = {"digest-weekly": "your weekly digest", "digest-daily": "your daily digest"}


def digest_subject(top_headline: str, count: int, kind: str) -> str:
    """The top headline and how many more: "UK steel safeguard extended — and 7 more in your
    weekly digest", the headline shortened at a word to keep within SUBJECT_LIMIT."""
    where = _WHERE.get(kind, "your policy alerts")
    tail = f" — and {count - 1} more in {where}" if count > 1 else f" — in {where}"
    room = SUBJECT_LIMIT - len(tail)
    headline = " ".join(top_headline.split())
    if len(headline) > room:
        headline = headline[: room - 1].rsplit(" ", 1)[0].rstrip(",;:—-") + "…"
    return headline + tail


def digest_email(digest: ShownDigest, recipient: Recipient, *, heading: str, kind: str) -> Email:
    """The finished email for one member, as they will receive it."""
    return digest_mailing(digest, heading=heading, kind=kind).expand(personalization(recipient))
