"""Emails as alerter composes them.

A `Mailing` is one content sent to many recipients: its subject and bodies carry substitution
tags (the recipient's greeting and links) that each recipient's `Personalization` fills in. SendGrid
does the filling itself, which is what lets members with the same content share one request;
the other transports call `expand` for each recipient."""

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape


@dataclass(frozen=True)
class Email:
    """One finished email to one recipient."""

    to: str
    subject: str
    text: str
    html: str
    kind: str  # confirmation, digest-weekly, bulletin ...: a category for reports and SendGrid
    headers: dict[str, str] = field(default_factory=dict)


def text_tag(name: str) -> str:
    """The tag standing for a recipient's value in the plain-text part (and the subject)."""
    return f"[%{name}%]"


def html_tag(name: str) -> str:
    """The tag standing for a recipient's value in the HTML part, where it arrives escaped."""
    return f"[%{name}:html%]"


@dataclass(frozen=True)
class Personalization:
    """One recipient of a mailing and what is theirs alone."""

    to: str
    values: dict[str, str]  # tag name -> this recipient's text, e.g. greeting, manage_url
    headers: dict[str, str] = field(default_factory=dict)  # List-Unsubscribe with their link
    key: str | None = None  # the delivery ledger row's id, when the email has one

    def substitutions(self) -> dict[str, str]:
        """Every tag of this recipient with its replacement, in both parts' forms."""
        pairs = {text_tag(name): value for name, value in self.values.items()}
        pairs |= {html_tag(name): escape(value) for name, value in self.values.items()}
        return pairs


@dataclass(frozen=True)
class Mailing:
    """One content for one or more recipients."""

    subject: str
    text: str
    html: str
    kind: str
    recipients: tuple[Personalization, ...]

    def expand(self, recipient: Personalization) -> Email:
        """The finished email for one of the recipients, tags filled in."""
        pairs = recipient.substitutions()

        def fill(template: str) -> str:
            for tag, value in pairs.items():
                template = template.replace(tag, value)
            return template

        return Email(
            to=recipient.to,
            subject=fill(self.subject),
            text=fill(self.text),
            html=fill(self.html),
            kind=self.kind,
            headers=recipient.headers,
        )

    def with_recipients(self, recipients: tuple[Personalization, ...]) -> "Mailing":
        return Mailing(self.subject, self.text, self.html, self.kind, recipients)


def single(email: Email, key: str | None = None) -> Mailing:
    """A finished email as a mailing to its one recipient."""
    recipient = Personalization(email.to, {}, email.headers, key)
    return Mailing(email.subject, email.text, email.html, email.kind, (recipient,))


def to_mime(email: Email, mail_from: str, key: str | None = None) -> EmailMessage:
    """A multipart/alternative message: the plain-text part first, the HTML part preferred.
    With a ledger `key`, the Message-ID is fixed, so a copy sent again after a crash is one
    message to the receiving side, not two."""
    domain = mail_from.rpartition("@")[2] or "alerter.invalid"
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<alerter.{key}@{domain}>" if key else make_msgid(domain=domain)
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message
