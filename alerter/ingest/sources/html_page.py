"""News listing pages with no feed, read with CSS selectors given in the source's declaration."""

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerter.ingest.clean import (
    InvalidURL,
    UnparseableDate,
    canonical_url,
    clean_text,
    declared_charset,
    decode_body,
    parse_listing_date,
)
from alerter.ingest.sources.base import Document, Entry, LayoutChanged, ParseResult, SourceSpec

if TYPE_CHECKING:  # the parser is imported where it parses: a 304 poll never loads it
    from bs4 import Tag


class HtmlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_selector: str = Field(min_length=1, description="One element per article")
    title_selector: str = Field(min_length=1)
    link_selector: str = Field(min_length=1, description="An element with an href")
    date_selector: str | None = None
    summary_selector: str | None = None

    @field_validator(
        "item_selector", "title_selector", "link_selector", "date_selector", "summary_selector"
    )
    @classmethod
    def _valid_css(cls, selector: str | None) -> str | None:
        """A typo in a selector is reported when the source is declared, not at every poll."""
        if selector is not None:
            import soupsieve

            try:
                soupsieve.compile(selector)
            except soupsieve.SelectorSyntaxError as error:
                reason = str(error).splitlines()[0]  # the rest draws a caret under the pattern
                raise ValueError(f"not a valid CSS selector: {selector!r} ({reason})") from None
        return selector


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
        from bs4 import BeautifulSoup, Tag

        soup = BeautifulSoup(text, "html.parser")
        base_element = soup.find("base", href=True)
        base = document.url
        if isinstance(base_element, Tag):
            base = canonical_url(str(base_element["href"]), base=document.url)
        articles = soup.select(options.item_selector)
        if not articles:
            raise LayoutChanged(
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
            raise LayoutChanged(
                f"{spec.name}: {len(articles)} elements matched `{options.item_selector}` but none "
                f"had a title (`{options.title_selector}`) and a link (`{options.link_selector}`); "
                "the site layout may have changed"
            )
        return result.finish(undated=undated)


def _entry(article: "Tag", options: HtmlOptions, base: str) -> tuple[Entry | None, bool]:
    """The entry in one listing element, and whether its date was present but unreadable."""
    title_element = article.select_one(options.title_selector)
    link_element = article.select_one(options.link_selector)
    if link_element is None and article.name == "a":
        link_element = article
    title = _text(title_element) if title_element else ""
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
            raw_date = _text(date_element)
        try:
            published = parse_listing_date(raw_date)
        except UnparseableDate:
            date_unreadable = True
    summary = ""
    if options.summary_selector and (
        summary_element := article.select_one(options.summary_selector)
    ):
        summary = _text(summary_element)
    entry = Entry(identity=url, url=url, title=title, summary=summary, published=published)
    return entry, date_unreadable


def _text(element: "Tag") -> str:
    """An element's text as a reader sees it: inline markup ("4<sup>th</sup>") joins its words."""
    return clean_text(element.decode_contents())
