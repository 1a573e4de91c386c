import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from subscriptions.members import (
    InvalidChoice,
    InvalidEmail,
    SignupResult,
    check_choices,
    confirm,
    erase,
    find_member,
    is_erased,
    normalise_email,
    search_members,
    sign_up,
    suppress,
    topics_of,
    unsubscribe,
    update_preferences,
)
from subscriptions.models import ConsentEvent, Frequency, Member, MemberStatus
from subscriptions.tokens import (
    Purpose,
    TokenExpired,
    TokenInvalid,
    TokenSubject,
    make_token,
    matches,
    read_token,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPICS = ["tariffs", "recycling", "events"]


def join(session: Session, email: str = "Jo.Smith@Foundry.example") -> SignupResult:
    result = sign_up(
        session,
        normalise_email(email),
        name="Jo Smith",
        organisation="Smith Castings",
        topics=["tariffs"],
        frequency=Frequency.WEEKLY,
        now=NOW,
    )
    session.commit()
    return result


def test_addresses_are_checked_and_compared_case_insensitively() -> None:
    assert normalise_email("  Jo.Smith@Foundry.EXAMPLE ") == "jo.smith@foundry.example"
    with pytest.raises(InvalidEmail, match="not a valid email address"):
        normalise_email("jo.smith@")


ADDRESSES = [
    "Jo.Smith@Foundry.EXAMPLE",
    "jo+alerts@foundry.example",
    "o'brien@foundry.example",
    "jo@sub.foundry.example",
    "jo@xn--bcher-kva.example",  # bücher.example, as IDNA writes it
    "jo@foundry",  # no dot: not deliverable across the internet
    "jo@localhost",
    "jo@foundry.123",
    "jo@-foundry.example",
    "jo@foundry..example",
    "jo@foundry.example.",
    "jo..smith@foundry.example",
    ".jo@foundry.example",
    "jo@foundry.invalid",
    "j" * 65 + "@foundry.example",
    "j" * 64 + "@" + "f" * 63 + "." + "o" * 63 + "." + "u" * 63 + ".example",
    "j" * 60 + "@" + "f" * 63 + "." + "o" * 63 + "." + "u" * 50 + ".example",
    "jo@foundry.example@foundry.example",
    "Jo Smith <jo@foundry.example>",
    '"jo smith"@foundry.example',
    "josé@foundry.example",
    "jo@bücher.example",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_is_judged_as_email_validator_judges_it(address: str) -> None:
    try:
        expected: str | None = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None

    for _ in range(2):  # the second time, its domain's verdict is remembered
        if expected is None:
            with pytest.raises(InvalidEmail, match="not a valid email address"):
                normalise_email(address)
        else:
            assert normalise_email(address) == expected.lower()


def test_choices_are_checked_against_the_taxonomy() -> None:
    assert check_choices(["events", "tariffs"], "daily", TOPICS) == (
        ["tariffs", "events"],
        Frequency.DAILY,
    )
    with pytest.raises(InvalidChoice, match="unknown topic steel"):
        check_choices(["steel"], "weekly", TOPICS)
    with pytest.raises(InvalidChoice, match="unknown frequency 'monthly'"):
        check_choices([], "monthly", TOPICS)


def test_a_new_signup_is_pending_until_confirmed_and_logged(session: Session) -> None:
    result = join(session)
    member = result.member

    assert result.send == "confirm"
    assert member.status == MemberStatus.PENDING
    assert confirm(session, member, NOW + timedelta(minutes=5)) is True
    session.commit()
    assert member.status == MemberStatus.ACTIVE
    actions = session.exec(
        select(ConsentEvent.action, ConsentEvent.method).order_by(col(ConsentEvent.id))
    ).all()
    assert actions == [("signup", "self-signup form"), ("confirm", "confirmation link")]


def test_signing_up_again_when_active_sends_the_manage_link_not_a_second_account(
    session: Session,
) -> None:
    member = join(session).member
    confirm(session, member, NOW)

    again = join(session, "JO.SMITH@foundry.example")

    assert again.send == "manage"
    assert again.member.id == member.id


def test_an_unsubscribed_member_who_signs_up_again_must_confirm_again(session: Session) -> None:
    member = join(session).member
    confirm(session, member, NOW)
    unsubscribe(session, member, "one-click", NOW)

    again = join(session)

    assert again.send == "confirm" and member.status == MemberStatus.PENDING


def test_a_suppressed_address_is_never_sent_anything(session: Session) -> None:
    member = join(session).member
    suppress(session, member, "SendGrid bounce", NOW)

    assert join(session).send is None


def test_preferences_change_topics_and_frequency(session: Session) -> None:
    member = join(session).member

    update_preferences(session, member, ["recycling", "events"], Frequency.DAILY, NOW)
    session.commit()

    assert topics_of(session, member.id) == ["recycling", "events"]
    assert member.frequency == Frequency.DAILY


def test_erasure_removes_personal_data_and_keeps_a_tombstone(session: Session) -> None:
    member = join(session).member

    erase(session, member, "staff: ann@alfed.example", NOW)
    session.commit()

    assert (member.email, member.name, member.organisation) == (None, "", "")
    assert topics_of(session, member.id) == []
    assert find_member(session, "jo.smith@foundry.example") is None
    assert is_erased(session, "jo.smith@foundry.example")
    details = session.exec(select(ConsentEvent.detail)).all()
    assert all("tariffs" not in detail for detail in details)


def test_a_token_names_its_member_for_its_purpose_only() -> None:
    subject = TokenSubject(7, "0123456789abcdef" + "f" * 48)
    manage = make_token("secret", Purpose.MANAGE, subject)

    assert read_token("secret", Purpose.MANAGE, manage).member_id == 7
    with pytest.raises(TokenInvalid):
        read_token("secret", Purpose.UNSUBSCRIBE, manage)
    with pytest.raises(TokenInvalid):
        read_token("other secret", Purpose.MANAGE, manage)
    with pytest.raises(TokenInvalid):
        read_token("secret", Purpose.MANAGE, manage[:-3] + "abc")
    assert matches(read_token("secret", Purpose.MANAGE, manage), subject.email_hash)
    assert not matches(read_token("secret", Purpose.MANAGE, manage), "f" * 64)


def test_an_expired_manage_token_says_whose_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    import subscriptions.tokens as tokens

    subject = TokenSubject(7, "a" * 64)
    token = make_token("secret", Purpose.MANAGE, subject)
    monkeypatch.setitem(tokens.LIFETIMES, Purpose.MANAGE, timedelta(seconds=-1))

    with pytest.raises(TokenExpired) as expired:
        read_token("secret", Purpose.MANAGE, token)

    assert expired.value.member_id == 7


def wait_until_someone_waits_for_a_lock(engine: sa.Engine) -> None:
    """On PostgreSQL, until another session is blocked on a lock (bounded). SQLite serialises
    writers at BEGIN IMMEDIATE, so there the second save simply waits its turn."""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ).scalar_one()
            watcher.commit()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the second save never waited for the first")


def test_two_saves_of_one_members_choices_at_once_both_succeed_in_turn(
    engine: sa.Engine,
) -> None:
    with Session(engine) as setup:
        member_id = join(setup).member.id
    first = Session(engine, expire_on_commit=False)
    jo = first.get(Member, member_id)
    assert jo is not None
    update_preferences(first, jo, ["tariffs", "events"], Frequency.DAILY, NOW)
    first.flush()  # the first save holds its changes, not yet committed
    errors: list[BaseException] = []

    def second_save() -> None:
        with Session(engine) as second:
            member = second.get(Member, member_id)
            assert member is not None
            try:
                update_preferences(second, member, ["tariffs"], Frequency.WEEKLY, NOW)
                second.commit()
            except BaseException as error:
                errors.append(error)

    other = threading.Thread(target=second_save)
    other.start()
    wait_until_someone_waits_for_a_lock(engine)
    first.commit()
    first.close()
    other.join(timeout=60)

    assert errors == []
    with Session(engine) as session:
        assert topics_of(session, member_id or 0) == ["tariffs"]


def test_a_percent_or_underscore_in_a_member_search_is_that_character(session: Session) -> None:
    for address, name in [("a_b@x.example", "Ann"), ("axb@x.example", "Bob 100%")]:
        sign_up(
            session,
            address,
            name=name,
            organisation="",
            topics=["tariffs"],
            frequency=Frequency.WEEKLY,
            now=NOW,
        )
    session.commit()

    assert [m.email for m in search_members(session, "a_b")] == ["a_b@x.example"]
    assert [m.name for m in search_members(session, "%")] == ["Bob 100%"]
