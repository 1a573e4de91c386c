"""Builders for small feeds written inline by tests, where a fixture file would hide the point."""

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Story:
    title: str
    link: str
    published: datetime | None = None
    summary: str = ""
    guid: str | None = None


def rss(stories: list[Story], *, channel_title: str = "Test news") -> bytes:
    items = []
    for story in stories:
        parts = [f"<title>{escape(story.title)}</title>", f"<link>{escape(story.link)}</link>"]
        if story.guid:
            parts.append(f'<guid isPermaLink="false">{escape(story.guid)}</guid>')
        if story.published:
            parts.append(f"<pubDate>{format_datetime(story.published)}</pubDate>")
        if story.summary:
            parts.append(f"<description>{escape(story.summary)}</description>")
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(channel_title)}</title><link>https://news.example/</link>"
        "<description>Test feed</description>" + "".join(items) + "</channel></rss>"
    ).encode()
