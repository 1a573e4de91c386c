"""Staff accounts: argon2 password hashes, and sign-ins slowed down per client across processes."""

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from subscriptions.members import normalise_email
from subscriptions.models import StaffUser
from subscriptions.throttle import attempts, key, record

# A client's first FREE_FAILURES failed sign-ins in FAILURE_WINDOW cost nothing; after that it
# waits BACKOFF_START after its latest failure, twice as long after each further one, up to
# FAILURE_WINDOW. An address is never locked: nobody can keep a colleague out by failing to
# sign in with their address on purpose, and 12-character passwords hashed with argon2 make
# guessing from many clients at once impractical.
FREE_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
BACKOFF_START = timedelta(seconds=30)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


class StaffError(ValueError):
    pass


class LoginRefused(Exception):
    """Wrong address or password (never saying which)."""


class LoginRateLimited(Exception):
    """Too many recent failures; the message says when to try again."""


def create_staff(session: Session, email: str, password: str, now: datetime) -> StaffUser:
    address = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.exec(select(StaffUser).where(StaffUser.email == address)).first():
        raise StaffError(f"a staff account for {address} already exists")
    staff = StaffUser(email=address, password_hash=_hasher.hash(password), created_at=now)
    session.add(staff)
    session.flush()
    return staff


def backoff(failures: int) -> timedelta:
    """How long a client with this many recent failures waits after its latest one."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doubled: timedelta = BACKOFF_START * 2 ** min(failures - FREE_FAILURES, 16)
    return min(doubled, FAILURE_WINDOW)


def authenticate(
    session: Session, email: str, password: str, client: str, now: datetime
) -> StaffUser:
    """The staff member these credentials belong to; LoginRefused, or LoginRateLimited while
    this client is waiting after its failures."""
    client_key = key("login", "client", client)
    failures = attempts(session, [client_key], now - FAILURE_WINDOW)[client_key]
    if failures:
        ready_at = failures[-1] + backoff(len(failures))
        if now < ready_at:
            seconds = int((ready_at - now).total_seconds()) + 1
            wait = f"{seconds} seconds" if seconds < 120 else f"{-(-seconds // 60)} minutes"
            raise LoginRateLimited(f"too many failed sign-ins from here; try again in {wait}")
    address = email.strip().lower()
    staff = session.exec(select(StaffUser).where(StaffUser.email == address)).first()
    if staff is None or not _verify(staff.password_hash, password):
        record(session, [client_key], now)
        raise LoginRefused("wrong email address or password")
    staff.last_login_at = now
    return staff


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
