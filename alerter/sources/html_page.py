"""News listing pages with no feed, read with CSS selectors given in the source's declaration."""

from typing import ClassVar

from bs4 import BeautifulSoup, Tag
from pydantic import BaseModel, ConfigDict, Field

from alerter.clean import (
    InvalidURL,
    UnparseableDate,
    canonical_url,
    clean_text,
    declared_charset,
    decode_body,
    parse_listing_date,
)
from alerter.sources.base import Document, Entry, ParseResult, SourceError, SourceSpec


class HtmlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_selector: str = Field(min_length=1, description="One element per article")
    title_selector: str = Field(min_length=1)
    link_selector: str = Field(min_length=1, description="An element with an href")
    date_selector: str | None = None
    summary_selector: str | None = None


class HtmlKind:
    options_model: ClassVar[type[BaseModel]] = HtmlOptions

    def request_params(self, spec: SourceSpec) -> list[tuple[str, str]]:
        return []

    def parse(self, document: Document, spec: SourceSpec) -> ParseResult:
        options = HtmlOptions.model_validate(spec.options)
        result = ParseResult()
        text, charset_warning = decode_body(
            document.body, declared_charset(document.body, document.content_type)
        )
        if charset_warning:
            result.warnings.append(charset_warning)
        soup = BeautifulSoup(text, "html.parser")
        base_element = soup.find("base", href=True)
        base = document.url
        if isinstance(base_element, Tag):
            base = canonical_url(str(base_element["href"]), base=document.url)
        articles = soup.select(options.item_selector)
        if not articles:
            raise SourceError(
                f"{spec.name}: no element matched `{options.item_selector}`; "
                "the site layout may have changed"
            )
        undated = 0
        for article in articles:
            entry, date_unreadable = _entry(article, options, base)
            if entry is None:
                result.skipped += 1
                continue
            undated += date_unreadable
            result.entries.append(entry)
        if not result.entries:
            raise SourceError(
                f"{spec.name}: {len(articles)} elements matched `{options.item_selector}` but none "
                f"had a title (`{options.title_selector}`) and a link (`{options.link_selector}`); "
                "the site layout may have changed"
            )
        if result.skipped:
            result.warnings.append(f"entries skipped for want of a title or link: {result.skipped}")
        if undated:
            result.warnings.append(f"entries whose date could not be read: {undated}")
        return result


def _entry(article: Tag, options: HtmlOptions, base: str) -> tuple[Entry | None, bool]:
    """The entry in one listing element, and whether its date was present but unreadable."""
    title_element = article.select_one(options.title_selector)
    link_element = article.select_one(options.link_selector)
    if link_element is None and article.name == "a":
        link_element = article
    title = clean_text(title_element.get_text(" ")) if title_element else ""
    href = link_element.get("href") if link_element else None
    if not title or not isinstance(href, str):
        return None, False
    try:
        url = canonical_url(href, base=base)
    except InvalidURL:
        return None, False
    published = None
    date_unreadable = False
    if options.date_selector and (date_element := article.select_one(options.date_selector)):
        raw_date = date_element.get("datetime")
        if not isinstance(raw_date, str):
            raw_date = date_element.get_text(" ")
        try:
            published = parse_listing_date(raw_date)
        except UnparseableDate:
            date_unreadable = True
    summary = ""
    if options.summary_selector and (
        summary_element := article.select_one(options.summary_selector)
    ):
        summary = clean_text(summary_element.get_text(" "))
    entry = Entry(identity=url, url=url, title=title, summary=summary, published=published)
    return entry, date_unreadable
