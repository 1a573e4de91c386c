from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

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
    sign_up,
    suppress,
    topics_of,
    unsubscribe,
    update_preferences,
)
from subscriptions.models import ConsentEvent, Frequency, MemberStatus
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
    actions = session.exec(select(ConsentEvent.action, ConsentEvent.method)).all()
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
