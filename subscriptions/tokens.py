"""Signed links for members: each bound to one purpose and one member, most of them expiring
(calendar links never do, but a member can revoke theirs).

A manage token cannot unsubscribe anyone, a confirmation token cannot open the manage page, and
no member token is accepted anywhere staff log in. The member's address hash is signed in too,
so a link stops working for an erased member even if their row is reused."""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"


# How long each kind of link works. Unsubscribe links never expire: an old email must still be
# able to stop the mail, as RFC 8058 one-click unsubscribing expects.
LIFETIMES: dict[Purpose, timedelta | None] = {
    Purpose.CONFIRM: timedelta(days=7),
    Purpose.MANAGE: timedelta(days=30),
    Purpose.UNSUBSCRIBE: None,
}


class TokenExpired(Exception):
    """A genuine link, too old: the page offers to send a fresh one."""

    def __init__(self, member_id: int | None) -> None:
        super().__init__("this link has expired")
        self.member_id = member_id


class TokenInvalid(Exception):
    """Not a link alerter made for this purpose (tampered, truncated, or for something else)."""


@dataclass(frozen=True)
class TokenSubject:
    member_id: int
    email_hash: str


@lru_cache(maxsize=16)
def _signer(secret: str, purpose: Purpose) -> TimestampSigner:
    # A signer over a short "id.hash" text rather than a JSON serializer: a digest run signs
    # two links per member, and this is ten times quicker.
    return TimestampSigner(secret, salt=f"alerter-member-{purpose}")


def make_token(secret: str, purpose: Purpose, subject: TokenSubject) -> str:
    value = f"{subject.member_id}.{subject.email_hash[:16]}"
    return _signer(secret, purpose).sign(value).decode("ascii")


def read_token(secret: str, purpose: Purpose, token: str) -> TokenSubject:
    """The member a token names; TokenExpired or TokenInvalid otherwise."""
    lifetime = LIFETIMES[purpose]
    try:
        value = _signer(secret, purpose).unsign(
            token, max_age=int(lifetime.total_seconds()) if lifetime else None
        )
    except SignatureExpired as error:
        # The signature was checked before the age was, so the member it names is genuine.
        expired = _subject(error.payload) if isinstance(error.payload, bytes) else None
        raise TokenExpired(expired.member_id if expired else None) from None
    except BadSignature:
        raise TokenInvalid(
            "this link is not valid; it may have been cut short or altered"
        ) from None
    subject = _subject(value)
    if subject is None:
        raise TokenInvalid("this link is not valid")
    return subject


def _subject(value: bytes) -> TokenSubject | None:
    member_id, _, hash_prefix = value.decode("ascii", errors="replace").partition(".")
    if not member_id.isdigit() or not hash_prefix:
        return None
    return TokenSubject(int(member_id), hash_prefix)


def matches(subject: TokenSubject, member_email_hash: str) -> bool:
    return member_email_hash.startswith(subject.email_hash)


# Calendar links are read by calendar apps for as long as the member subscribes, so they never
# expire; the member's calendar version is signed in, and raising it revokes every earlier link.
@lru_cache(maxsize=4)
def _calendar_signer(secret: str) -> Signer:
    return Signer(secret, salt="alerter-member-calendar")


def make_calendar_token(secret: str, subject: TokenSubject, version: int) -> str:
    value = f"{subject.member_id}.{subject.email_hash[:16]}.{version}"
    return _calendar_signer(secret).sign(value).decode("ascii")


def read_calendar_token(secret: str, token: str) -> tuple[TokenSubject, int]:
    """The member a calendar token names and the version it was made for; TokenInvalid
    otherwise."""
    try:
        value = _calendar_signer(secret).unsign(token).decode("ascii", errors="replace")
    except BadSignature:
        raise TokenInvalid("this calendar link is not valid") from None
    rest, _, version = value.rpartition(".")
    subject = _subject(rest.encode("ascii", errors="replace"))
    if subject is None or not version.isdigit():
        raise TokenInvalid("this calendar link is not valid")
    return subject, int(version)
