"""Emails as bytes on the wire, read raw (a decoding parser would hide what mail clients see):
CRLF lines of at most 998 characters, ASCII headers with proper encoded words, List-Unsubscribe
written as it is and folded only at its commas, and a Message-ID from the delivery's token."""

import re

import pytest

from alerter.delivery.message import Email, to_mime
from tests.support.raw_mail import decoded, header_section, raw_headers, unfolded

UNSUBSCRIBE = "https://alerts.alfed.example/unsubscribe/" + "eyJtZW1iZXIiOjEyM30." * 8
TOKEN = "5f0c6b1e9a2d4c7f8e3b1a0d9c8b7a6f"


def email(**overrides: object) -> Email:
    fields: dict[str, object] = {
        "to": "ann@castings.example",
        "subject": "Your weekly policy alerts: 3 new items",
        "text": "Hello Ann,\n\nNew duties on aluminium extrusions.\n",
        "html": "<p>Hello Ann,</p><p>New duties on aluminium extrusions.</p>",
        "kind": "digest-weekly",
        "headers": {
            "List-Unsubscribe": f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@alfed.example>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    return Email(**(fields | overrides))  # type: ignore[arg-type]


def wire(message: Email, mail_from: str = "ALFED alerts <alerts@alfed.example>") -> bytes:
    return to_mime(message, mail_from, TOKEN).as_bytes()


def test_list_unsubscribe_is_written_raw_and_folded_only_after_its_comma() -> None:
    headers = raw_headers(wire(email()))

    assert headers[b"List-Unsubscribe"] == (
        f"<{UNSUBSCRIBE}>,\r\n <mailto:unsubscribe@alfed.example>".encode()
    )
    assert headers[b"List-Unsubscribe-Post"] == b"List-Unsubscribe=One-Click"


def test_a_short_list_unsubscribe_stays_on_one_line() -> None:
    short = {"List-Unsubscribe": "<https://a.example/u/1>, <mailto:u@a.example>"}

    headers = raw_headers(wire(email(headers=short)))

    assert headers[b"List-Unsubscribe"] == b"<https://a.example/u/1>, <mailto:u@a.example>"


def test_a_list_header_with_non_ascii_is_refused_rather_than_encoded() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        wire(email(headers={"List-Unsubscribe": "<https://caf\u00e9.example/u>"}))


def test_a_non_ascii_subject_and_sender_name_are_proper_encoded_words() -> None:
    subject = "Consultation \u2014 \u201cCaf\u00e9 r\u00e8gles\u201d: " + "tr\u00e8s long " * 12

    headers = raw_headers(wire(email(subject=subject), "F\u00e9d\u00e9ration <a@alfed.example>"))

    assert re.match(rb"=\?utf-8\?", headers[b"From"]) and b"<a@alfed.example>" in headers[b"From"]
    assert decoded(headers[b"From"]).startswith("F\u00e9d\u00e9ration")
    assert decoded(headers[b"Subject"]).strip() == subject.strip()
    assert b"\r\n " in headers[b"Subject"]  # folded, as a long header should be
    assert headers[b"To"] == b"ann@castings.example"


def test_every_line_ends_in_crlf_and_none_is_longer_than_998() -> None:
    long_line = "word " * 600  # one 3,000-character paragraph in each part

    message = wire(email(text=long_line, html=f"<p>{long_line}</p>"))

    raw_headers(message)  # checks every line of the message, body included
    assert message.isascii()  # bodies in quoted-printable or base64: no 8BITMIME needed
    assert message.endswith(b"\r\n")


def test_the_message_id_is_the_deliverys_token_at_the_senders_domain() -> None:
    headers = raw_headers(wire(email()))

    assert headers[b"Message-ID"] == f"<{TOKEN}@alfed.example>".encode()


def test_without_a_token_each_message_gets_a_fresh_message_id() -> None:
    first, second = (
        raw_headers(to_mime(email(), "alerts@alfed.example").as_bytes())[b"Message-ID"]
        for _ in range(2)
    )

    assert first != second and first.endswith(b"@alfed.example>")


def test_the_headers_are_those_a_digest_needs_and_no_others() -> None:
    head = header_section(wire(email()))

    names = [line.split(b":")[0] for line in unfolded(head).split(b"\r\n") if line]
    assert names == [
        b"From",
        b"To",
        b"Subject",
        b"Date",
        b"Message-ID",
        b"List-Unsubscribe",
        b"List-Unsubscribe-Post",
        b"MIME-Version",
        b"Content-Type",
    ]
