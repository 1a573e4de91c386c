"""Source kinds. Adding one is a module implementing `SourceKind` and a line in `KINDS`."""

from alerter.sources.base import SourceKind
from alerter.sources.feed import FeedKind
from alerter.sources.govuk import GovukKind
from alerter.sources.html_page import HtmlKind

KINDS: dict[str, SourceKind] = {
    "feed": FeedKind(),
    "html": HtmlKind(),
    "govuk": GovukKind(),
}
