"""Emails as alerter composes them.

A `Mailing` is one content sent to many recipients: its subject and bodies carry substitution
tags (the recipient's greeting and links) that each recipient's `Personalization` fills in. SendGrid
does the filling itself, which is what lets members with the same content share one request;
the other transports call `expand` for each recipient."""

import re
from dataclasses import dataclass, field
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import formatdate, make_msgid, parseaddr
from html import escape
from typing import Any


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
    message_token: str | None = None  # that row's token, its Message-ID on every retry

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


def single(email: Email) -> Mailing:
    """A finished email as a mailing to its one recipient."""
    recipient = Personalization(email.to, {}, email.headers)
    return Mailing(email.subject, email.text, email.html, email.kind, (recipient,))


# RFC 5322's limit on a line, CRLF aside.
MAX_LINE = 998
_BRACKETED = re.compile(r"<[^>]*>")


class ListHeader(UnstructuredHeader, BaseHeader):
    """A header that lists <URI>s (RFC 2369's List-Unsubscribe): written as it is, since a
    mail client reads only the raw form (an encoded word hides the unsubscribe button), and
    folded only after a comma between two of them."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        if not value.isascii():
            raise ValueError(f"a list header takes ASCII URIs only: {value!r}")
        super().parse(value, kwds)

    def fold(self, *, policy: Policy) -> str:
        width = policy.max_line_length or MAX_LINE
        uris = _BRACKETED.findall(str(self)) or [str(self)]
        lines = [f"{self.name}: {uris[0]}"]
        for uri in uris[1:]:
            if len(lines[-1]) + len(", ") + len(uri) <= width:
                lines[-1] += f", {uri}"
            else:
                lines[-1] += ","
                lines.append(f" {uri}")
        return "".join(line + policy.linesep for line in lines)


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", ListHeader)
# CRLF line ends, as on the wire and in .eml files; bodies in quoted-printable or base64, so
# the message is ASCII and no relay has to know 8BITMIME.
POLICY = SMTP.clone(header_factory=_HEADERS, cte_type="7bit")


def message_id(mail_from: str, token: str | None) -> str:
    """The Message-ID: a delivery's token, the same whenever that delivery is sent (a copy
    sent again after a crash is one message to the receiving side), or a fresh one."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "alerter.invalid"
    return f"<{token}@{domain}>" if token else make_msgid(domain=domain)


def to_mime(
    email: Email, mail_from: str, message_token: str | None = None, reply_to: str = ""
) -> EmailMessage:
    """A multipart/alternative message: the plain-text part first, the HTML part preferred.
    `as_bytes()` gives it as it goes on the wire; a non-ASCII sender name is encoded there."""
    message = EmailMessage(policy=POLICY)
    message["From"] = mail_from
    if reply_to:
        message["Reply-To"] = reply_to
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(mail_from, message_token)
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message
