"""Pure functions that turn what a source said into clean, comparable values."""

import codecs
import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
_WHITESPACE = re.compile(r"\s+")
_MARKUP_HINT = re.compile(r"[<&]")
_LOOKS_LIKE_MARKUP = re.compile(r"<[a-zA-Z/!]|&[#a-zA-Z0-9]+;")
# Elements whose text is code or styling, never prose.
_DROPPED_ELEMENTS = ("script", "style", "noscript", "template", "iframe", "object")
# Elements shown on a line of their own: the words either side of them must not run together.
_BLOCK_ELEMENTS = (
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
)  # fmt: skip
_BLOCK_TAG = re.compile(rf"</?({'|'.join(_BLOCK_ELEMENTS)})\b", re.I)
_DROPPED_TAG = re.compile(rf"<({'|'.join(_DROPPED_ELEMENTS)})\b", re.I)
# Query parameters that only track the click and never change the page.
_TRACKING_PARAMS = re.compile(r"^(utm_[a-z_]*|fbclid|gclid|mc_cid|mc_eid|_hsenc|_hsmi)$", re.I)


def clean_text(value: str | None) -> str:
    """Plain text from feed-provided text or HTML: markup removed, entities decoded, spaces
    collapsed.

    Nothing a source sends is trusted as HTML; script and style contents are dropped. Text that
    still looks like markup after one pass was escaped twice by the source and gets another.
    """
    text = value or ""
    for _ in range(3):
        if not _MARKUP_HINT.search(text):
            break
        if "<" not in text:  # entities only: no tree to build
            text = html.unescape(text)
            continue
        # Imported here: a poll whose feeds all answer 304 never loads the HTML parser.
        from bs4 import BeautifulSoup

        # Space only at blocks: inline markup ("<a>full response</a>.") joins its neighbours.
        soup = BeautifulSoup(_BLOCK_TAG.sub(r" \g<0>", text), "html.parser")
        if _DROPPED_TAG.search(text):
            for element in soup(_DROPPED_ELEMENTS):
                element.decompose()
        text = soup.get_text()
        if not _LOOKS_LIKE_MARKUP.search(text):
            break
    return _WHITESPACE.sub(" ", text).strip()


# Characters that change how text is shown without being seen: bidi embeddings, overrides and
# isolates (U+202E makes a headline read backwards), zero-width spaces and joiners, the byte
# order mark, and C0/C1 controls (PostgreSQL refuses NUL in text outright).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)
# A cut this close to the limit keeps the last whole word; further back, a word was too long.
_WORD_CUT_SHARE = 0.8
ELLIPSIS = "\u2026"


def strip_invisible(text: str) -> str:
    """The text without bidi controls, zero-width characters and other control characters."""
    return _INVISIBLE.sub("", text)


def cap_text(text: str, limit: int) -> str:
    """At most `limit` characters: a longer text is cut after its last whole word that fits
    (or mid-word when no word boundary is near the limit) and ends with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    space = head.rfind(" ")
    if space >= limit * _WORD_CUT_SHARE:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


class InvalidURL(ValueError):
    """A link that cannot be turned into an absolute http(s) URL."""


def canonical_url(link: str, base: str | None = None) -> str:
    """An absolute http(s) URL without fragment or click-tracking parameters.

    The scheme and host are lower-cased; the path and the order of the other parameters are kept.
    An empty or fragment-only link ("#") is rejected: it points back at the page it is on.
    """
    link = link.strip()
    if not link or link.startswith("#"):
        raise InvalidURL(f"not a link to another page: {link!r}")
    absolute = urljoin(base, link) if base else link
    try:
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:  # a malformed host or port
        raise InvalidURL(f"not an absolute http(s) link: {link!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidURL(f"not an absolute http(s) link: {link!r}")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(k)
    ]
    netloc = parts.hostname.lower() + (f":{port}" if port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def looks_like_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def content_hash(title: str, summary: str) -> str:
    """Fingerprint of what a reader sees; a change means the item was edited at the source."""
    return hashlib.sha256(f"{title}\x1f{summary}".encode()).hexdigest()


# Words that do not tell two headlines apart.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)
# Labels sources put before the headline: GOV.UK's "Press release: ", an association's "News: ".
_TITLE_LABEL = re.compile(
    r"^(press release|news story|news|speech|written statement|oral statement|statement|"
    r"notice|guidance|consultation outcome|open consultation|closed consultation|"
    r"policy paper|correspondence|announcement|update)\s*[:|\u2013\u2014-]\s+",
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


def title_words(title: str) -> list[str]:
    """Normalised words of a headline: lower case, accents and labels removed, plurals folded."""
    text = title
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    text = _TITLE_LABEL.sub("", text.strip())
    words = []
    for word in _WORD.findall(text.replace("'", "").replace("\u2019", "")):
        if word in _STOPWORDS:
            continue
        if (
            len(word) > 3
            and word.endswith("s")
            and not word.endswith("ss")
            and not word[0].isdigit()
        ):
            word = word[:-1]
        words.append(word)
    return words


def title_key(title: str) -> str:
    """The headline's distinct normalised words, sorted: equal for trivially reworded titles."""
    return " ".join(sorted(set(title_words(title))))


class UnparseableDate(ValueError):
    """A date in a format alerter does not know."""


_ORDINAL = re.compile(r"(\d{1,2})(st|nd|rd|th)\b", re.I)
_DATE_NOISE = re.compile(r"^(posted|published|updated)\s*(on|:)?\s*", re.I)
# A common UK abbreviation that strptime's "%b" ("Sep") does not accept.
_SEPT = re.compile(r"\bsept\b", re.I)
# Formats seen on UK news listings; day before month wherever it is ambiguous.
_DATE_FORMATS = (
    "%d %B %Y",
    "%d %b %Y",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%B %d %Y",
    "%b %d %Y",
    "%A %d %B %Y",
    "%a %d %b %Y",
    "%Y-%m-%d",
    "%d %B %Y %H:%M",
    "%d %b %Y %H:%M",
    "%d/%m/%Y %H:%M",
)


def parse_listing_date(text: str) -> datetime:
    """A date as written on a news listing, as aware UTC; times without a zone are London time.

    Accepts ISO 8601 (a `datetime` attribute) and the forms UK sites use:
    "4 February 2026", "4th Feb 2026", "04/02/2026", "Feb 4, 2026", "Wednesday 4 February 2026".
    """
    raw = text
    text = _DATE_NOISE.sub("", _WHITESPACE.sub(" ", text).strip())
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        cleaned = _SEPT.sub("Sep", _ORDINAL.sub(r"\1", text)).replace(",", " ")
        cleaned = _WHITESPACE.sub(" ", cleaned).strip()
        for date_format in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(cleaned, date_format)
                break
            except ValueError:
                continue
        else:
            raise UnparseableDate(f"unrecognised date {raw!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed.astimezone(UTC)


# A source's clock may be a little ahead; beyond this a date is not believed.
FUTURE_TOLERANCE = timedelta(hours=36)


def believable_published(published: datetime | None, first_seen: datetime) -> datetime:
    """The published time to store: the source's own unless missing or in the future."""
    if published is None or published > first_seen + FUTURE_TOLERANCE:
        return first_seen
    return published


_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""", re.I)


def declared_charset(body: bytes, content_type: str | None) -> str | None:
    """The charset the server or the document itself claims, if any."""
    if content_type:
        match = _CHARSET_PARAM.search(content_type.encode("latin-1", "replace"))
        if match:
            return match.group(1).decode("ascii").lower()
    head = body[:1024]
    match = _XML_ENCODING.search(head) or _CHARSET_PARAM.search(head)
    return match.group(1).decode("ascii").lower() if match else None


def decode_body(body: bytes, declared: str | None) -> tuple[str, str | None]:
    """Text of a fetched body and, when the declared charset was wrong, a warning saying so.

    Bytes that decode strictly as UTF-8 are UTF-8 whatever the label says (a wrong label is common,
    a false UTF-8 match is not); otherwise the declared charset, then Windows-1252, which decodes
    anything and is what mislabelled Western European text usually is.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    codec = _codec(declared) if declared else None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if declared and codec != "utf-8" and not body.isascii():
            return text, f"declared charset {declared} is wrong: the body is UTF-8"
        return text, None
    if codec and codec != "utf-8":
        try:
            return body.decode(codec), None
        except (LookupError, UnicodeDecodeError):  # LookupError: a codec such as "base64"
            pass
    text = body.decode("windows-1252", errors="replace")
    reason = f"declared charset {declared} is wrong" if declared else "no charset declared"
    return text, f"{reason}: the body is not UTF-8; decoded as Windows-1252"


def _codec(declared: str) -> str | None:
    """Python's codec for a charset label, or None when unknown.

    Latin-1 and ASCII labels mean Windows-1252, as in browsers: pages so labelled use its curly
    quotes and dashes, which Latin-1 would decode as invisible control characters.
    """
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return None
    return "cp1252" if name in ("iso8859-1", "ascii") else name
