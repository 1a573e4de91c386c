"""The association's settings: validated as staff enter them, and carried by every email."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlmodel import Session

from alerter import branding
from alerter.config import Settings
from alerter.delivery import transport_for
from alerter.delivery.compose.notices import confirmation_mailing, confirmation_recipient

NOW = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
FEDERATION = branding.Branding(
    name="Fédération des Métaux",
    logo_url="https://metaux.example/logo.png",
    colour="#1d4f91",
    sender_name="Fédération des Métaux",
    sender_address="news@metaux.example",
    reply_to="policy@metaux.example",
    postal_address="12 Rue de la Forge, Birmingham B1 1AA",
    contact="0121 496 0000",
)


@dataclass(frozen=True)
class Someone:
    id: int
    email: str
    name: str
    email_hash: str = "0" * 64


def test_valid_settings_have_no_problems() -> None:
    assert branding.problems(FEDERATION) == {}


def test_every_problem_is_reported_at_once() -> None:
    entered = replace(
        FEDERATION,
        name=" ",
        logo_url="http://metaux.example/logo.png",
        colour="blue",
        sender_address="news at metaux",
        reply_to="nobody",
        postal_address="",
    )

    assert set(branding.problems(entered)) == {
        "name",
        "logo_url",
        "colour",
        "sender_address",
        "reply_to",
        "postal_address",
    }


def test_a_colour_too_pale_for_white_text_is_refused() -> None:
    problem = branding.problems(replace(FEDERATION, colour="#ffdd00"))["colour"]

    assert "contrast 1.3:1" in problem
    assert round(branding.contrast_with_white("#0b0c0c"), 1) == 19.6


def test_the_raw_email_comes_from_the_association_with_its_footer(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    branding.save(session, settings, FEDERATION, NOW)
    outbox = settings.model_copy(update={"outbox_dir": tmp_path, "secret_key": "test secret"})
    member = Someone(1, "jo@foundry.example", "Jo")
    mailing = confirmation_mailing().with_recipients((confirmation_recipient(outbox, member),))

    transport_for(outbox).send(mailing)

    raw = next(tmp_path.glob("*.eml")).read_bytes()
    assert b"From: =?utf-8?q?F=C3=A9d=C3=A9ration_des_M=C3=A9taux?= <news@metaux.example>" in raw
    assert b"Reply-To: policy@metaux.example" in raw
    message = message_from_bytes(raw, policy=default)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "policy alerts from Fédération des Métaux" in text
    assert "Fédération des Métaux, 12 Rue de la Forge, Birmingham B1 1AA" in text
    assert "12 Rue de la Forge" in html
    assert "alerter" not in html + text


def test_settings_read_again_replace_the_kept_ones(session: Session, settings: Settings) -> None:
    assert branding.load(session, settings).name == "Policy alerts"
    branding.save(session, settings, FEDERATION, NOW)

    assert branding.load(session, settings) == FEDERATION
