from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.delivery.compose.digests import SUBJECT_LIMIT, digest_email, digest_subject
from alerter.delivery.compose.recipients import HTML_LIMIT, Recipient
from alerter.delivery.message import to_mime
from alerter.digests.selection import DigestItem, build_digest
from alerter.topics.taxonomy import load_taxonomy
from tests.support.raw_mail import raw_headers, unfolded

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
JO = Recipient(
    "jo@foundry.example",
    "Jo Smith",
    "https://alerts.example/manage/m",
    "https://alerts.example/unsubscribe/u",
    "https://alerts.example/news/n",
)


def items(count: int, summary: str = "The quota reopens on 1 April.") -> list[DigestItem]:
    return [
        DigestItem(
            n,
            f"Steel safeguard update {n}",
            summary,
            f"https://gov.example/{n}",
            MONDAY - timedelta(hours=n),
            MONDAY - timedelta(hours=n),
            ("DBT", "UK Steel"),
            {"tariffs": 3},
        )
        for n in range(count)
    ]


def test_both_parts_carry_every_item_the_links_and_why_it_was_sent() -> None:
    email = digest_email(
        build_digest(items(3), ["tariffs"], TAXONOMY, now=MONDAY),
        JO,
        heading="Your weekly policy alerts",
        kind="digest-weekly",
    )

    for part in (email.text, email.html):
        assert all(f"Steel safeguard update {n}" in part for n in range(3))
        assert "DBT, UK Steel" in part
        assert "https://alerts.example/manage/m" in part
        assert "https://alerts.example/unsubscribe/u" in part
        assert "you follow: Tariffs and trade remedies" in part
    assert email.subject == "Steel safeguard update 0 — and 2 more in your weekly digest"


def test_the_email_offers_one_click_unsubscribing() -> None:
    email = digest_email(
        build_digest(items(1), ["tariffs"], TAXONOMY, now=MONDAY),
        JO,
        heading="Alerts",
        kind="digest-weekly",
    )

    headers = raw_headers(to_mime(email, "alerts@alerter.example").as_bytes())

    assert headers[b"List-Unsubscribe"] == b"<https://alerts.example/unsubscribe/u>"
    assert headers[b"List-Unsubscribe-Post"] == b"List-Unsubscribe=One-Click"


def test_an_unsubscribe_address_is_offered_beside_the_link_when_there_is_one() -> None:
    email = digest_email(
        build_digest(items(1), ["tariffs"], TAXONOMY, now=MONDAY),
        replace(JO, unsubscribe_mailto="unsubscribe@alfed.example"),
        heading="Alerts",
        kind="digest-weekly",
    )

    headers = raw_headers(to_mime(email, "alerts@alerter.example").as_bytes())

    assert unfolded(headers[b"List-Unsubscribe"]) == (
        b"<https://alerts.example/unsubscribe/u>,"
        b" <mailto:unsubscribe@alfed.example?subject=unsubscribe>"
    )


def test_feed_text_is_escaped_in_the_html_part() -> None:
    hostile = items(1, summary='<script>alert(1)</script> & "quotes"')

    email = digest_email(
        build_digest(hostile, ["tariffs"], TAXONOMY, now=MONDAY),
        JO,
        heading="Alerts",
        kind="digest-weekly",
    )

    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html


def test_a_full_digest_stays_under_gmails_clipping_size() -> None:
    long_summary = "The Trade Remedies Authority has published its findings. " * 8
    digest = build_digest(items(40, long_summary), ["tariffs"], TAXONOMY, now=MONDAY)

    email = digest_email(digest, JO, heading="Alerts", kind="digest-weekly")

    assert len(email.html.encode()) < HTML_LIMIT
    assert "And 10 more items" in email.html and "And 10 more items" in email.text


def test_an_oversized_digest_is_refused_rather_than_clipped() -> None:
    huge = build_digest(items(30, "x" * 5000), ["tariffs"], TAXONOMY, now=MONDAY)

    with pytest.raises(ValueError, match="lower the item cap"):
        digest_email(huge, JO, heading="Alerts", kind="digest-weekly")


def test_a_closing_date_is_shown_in_both_parts() -> None:
    consultation = replace(items(1)[0], closes=MONDAY + timedelta(days=9))

    email = digest_email(
        build_digest([consultation], ["tariffs"], TAXONOMY, now=MONDAY),
        JO,
        heading="Alerts",
        kind="digest-weekly",
    )

    assert "Closes Wed 11 Mar — 9 days left" in email.text
    assert "Closes Wed 11 Mar — 9 days left" in email.html


def test_the_subject_leads_with_the_top_headline_and_the_email_with_a_preheader() -> None:
    email = digest_email(
        build_digest(items(8), ["tariffs"], TAXONOMY, now=MONDAY),
        JO,
        heading="Your weekly policy alerts",
        kind="digest-weekly",
    )

    assert email.subject == "Steel safeguard update 0 — and 7 more in your weekly digest"
    assert "8 new: Steel safeguard update 0" in email.html  # the hidden preheader
    # "View in your browser" is the member's own signed news page, as "and N more" is.
    assert (
        '<a href="https://alerts.example/news/n" style="color:#1d70b8;">View in your browser'
        in (email.html)
    )
    assert "View in your browser: https://alerts.example/news/n" in email.text


def test_a_long_top_headline_is_shortened_at_a_word() -> None:
    subject = digest_subject("Steel " * 40, 3, "digest-daily")

    assert len(subject) <= SUBJECT_LIMIT
    assert subject.endswith("Steel… — and 2 more in your daily digest")
