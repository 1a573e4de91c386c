from alerter.delivery.compose.bulletins import markdown_text


def test_a_bulletins_markdown_becomes_plain_text_without_its_syntax() -> None:
    markdown = (
        "## Steel safeguards\n\n"
        "The **quotas** change on 1 July; see [the notice](https://www.gov.uk/notice).\n\n"
        "- wire rod\n- *rebar*\n\n"
        "1. check your import licences\n2. talk to us\n\n"
        "<script>alert(1)</script>"
    )

    assert markdown_text(markdown) == (
        "Steel safeguards\n\n"
        "The quotas change on 1 July; see the notice (https://www.gov.uk/notice).\n\n"
        "- wire rod\n- rebar\n\n"
        "1. check your import licences\n2. talk to us\n\n"
        "<script>alert(1)</script>"  # plain text: shown as typed, never run
    )
