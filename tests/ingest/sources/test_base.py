"""What every source kind shares: the parse result's closing warnings."""

from alerter.ingest.sources.base import ParseResult


def test_a_result_ends_with_what_was_skipped_and_whose_date_was_unreadable() -> None:
    result = ParseResult(skipped=2, warnings=["malformed feed"])

    finished = result.finish(undated=1)

    assert finished is result
    assert result.warnings == [
        "malformed feed",
        "entries skipped for want of a title or link: 2",
        "entries whose date could not be read: 1",
    ]


def test_a_kind_names_what_it_skipped_and_a_clean_result_has_no_warnings() -> None:
    skipping = ParseResult(skipped=3).finish(skipped="contributions skipped for want of a debate")

    assert skipping.warnings == ["contributions skipped for want of a debate: 3"]
    assert ParseResult().finish(undated=0).warnings == []
