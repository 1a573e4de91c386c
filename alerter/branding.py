"""The association's name, look and sender (the Settings page's one row), as every email and
page shows them. Defaults come from the environment (ALERTER_MAIL_FROM) until staff save.

Each process keeps the last row it read: the web app reads it again on every request and the
worker before every job, so a change shows at once in new pages and emails while a digest
run renders thousands of emails from one read."""

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from email.headerregistry import Address
from email.utils import formataddr, parseaddr

from sqlmodel import Session

from alerter.config import Settings, get_settings
from alerter.models import AssociationSettings

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
# WCAG 2's AA ratio for normal text: white link and button text on the colour stays readable.
MIN_CONTRAST = 4.5


@dataclass(frozen=True)
class Branding:
    name: str
    logo_url: str
    colour: str
    sender_name: str
    sender_address: str
    reply_to: str
    postal_address: str
    contact: str

    @property
    def mail_from(self) -> str:
        """The From header's value: the sender's name (encoded when sent) and address."""
        return formataddr((self.sender_name, self.sender_address))


def defaults(settings: Settings) -> Branding:
    """What shows before staff save any settings: the sender from ALERTER_MAIL_FROM."""
    name, address = parseaddr(settings.mail_from)
    return Branding(
        name=name or "Policy alerts",
        logo_url="",
        colour="#0b0c0c",
        sender_name=name,  # none in ALERTER_MAIL_FROM: From is the bare address, as before
        sender_address=address or settings.mail_from,
        reply_to="",
        postal_address="",
        contact="",
    )


def load(session: Session, settings: Settings) -> Branding:
    """The saved settings, or the defaults; kept as this process's current branding."""
    global _current
    row = session.get(AssociationSettings, 1)
    if row is None:
        _current = defaults(settings)
    else:
        fields = row.model_dump(exclude={"id", "updated_at"})
        _current = Branding(**fields)
    return _current


def current(settings: Settings | None = None) -> Branding:
    """The branding this process last read; before any read, the defaults of `settings` (of
    the environment when not given)."""
    return _current or defaults(settings or get_settings())


def contrast_with_white(colour: str) -> float:
    """WCAG 2's contrast ratio of white on `colour` (#rrggbb)."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def problems(branding: Branding) -> dict[str, str]:
    """What is wrong with settings as entered, by field name, in words staff can act on."""
    errors: dict[str, str] = {}
    if not branding.name.strip():
        errors["name"] = "Enter the association's name"
    if branding.logo_url and not branding.logo_url.startswith("https://"):
        errors["logo_url"] = (
            "Enter the logo's address starting https:// (email clients load only those)"
        )
    if not _HEX.match(branding.colour):
        errors["colour"] = "Enter the colour as # and six hexadecimal digits, like #1d70b8"
    elif contrast_with_white(branding.colour) < MIN_CONTRAST:
        ratio = contrast_with_white(branding.colour)
        errors["colour"] = (
            f"Choose a darker colour: white text on it has contrast {ratio:.1f}:1, "
            f"and links and buttons need {MIN_CONTRAST}:1"
        )
    if not branding.sender_name.strip():
        errors["sender_name"] = "Enter the name emails come from"
    for field, label in (
        ("sender_address", "the address emails come from"),
        ("reply_to", "the reply-to address"),
    ):
        value = getattr(branding, field)
        if (value or field == "sender_address") and not _valid_address(value):
            errors[field] = f"Enter {label} as an email address, like news@example.org.uk"
    if not branding.postal_address.strip():
        errors["postal_address"] = (
            "Enter the association's postal address: marketing email must carry one"
        )
    return errors


def _valid_address(value: str) -> bool:
    if not _ADDRESS.match(value):
        return False
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError):
        return False
    return True


def save(session: Session, settings: Settings, branding: Branding, now: datetime) -> Branding:
    """Store valid settings (see `problems`) as the one row; returns what was there before."""
    global _current
    before = load(session, settings)
    row = session.get(AssociationSettings, 1) or AssociationSettings(**asdict(branding))
    for field, value in asdict(branding).items():
        setattr(row, field, value)
    row.updated_at = now
    session.add(row)
    session.commit()
    _current = replace(branding)
    return before


_current: Branding | None = None
