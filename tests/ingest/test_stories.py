from datetime import UTC, datetime, timedelta

from alerter.ingest.clean import title_words
from alerter.ingest.stories import Headline, StoryIndex, near_identical

MONDAY = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def words(title: str) -> frozenset[str]:
    return frozenset(title_words(title))


def test_a_repost_with_a_label_and_different_punctuation_is_near_identical() -> None:
    assert near_identical(
        words("Press release: UK and US sign critical minerals memorandum of understanding"),
        words("UK and US sign Critical Minerals Memorandum of Understanding."),
    )


def test_one_extra_word_in_a_long_headline_is_still_the_same_story() -> None:
    assert near_identical(
        words("Government confirms steel safeguard measures extended for further period"),
        words("Government formally confirms steel safeguard measures extended for further period"),
    )


def test_notices_that_differ_only_in_their_number_are_different_stories() -> None:
    assert not near_identical(
        words("Trade remedies notice 2024/06: safeguard measure tariff-rate quota on steel goods"),
        words("Trade remedies notice 2024/07: safeguard measure tariff-rate quota on steel goods"),
    )


def test_a_number_present_in_only_one_headline_makes_them_different_stories() -> None:
    assert not near_identical(
        words("Government confirms steel safeguard extension for two more years from July"),
        words("Government confirms steel safeguard extension for two more years from July 2026"),
    )


def test_headlines_that_differ_in_a_key_word_are_different_stories() -> None:
    assert not near_identical(
        words("Consultation on aluminium scrap exports opens"),
        words("Consultation on aluminium scrap exports closes"),
    )


def test_short_generic_headlines_never_match() -> None:
    assert not near_identical(words("Latest news"), words("Latest news"))


def index_with(*headlines: Headline) -> StoryIndex:
    return StoryIndex(lambda start, end: [h for h in headlines if start <= h.published < end])


def test_index_finds_another_sources_repost_within_three_days() -> None:
    original = Headline(7, 1, words("UK and Japan agree new steel trade partnership"), MONDAY)
    index = index_with(original)

    found = index.find(
        words("UK and Japan agree new steel trade partnership"), MONDAY + timedelta(days=2), 2
    )

    assert found == 7


def test_index_ignores_reposts_older_than_three_days() -> None:
    original = Headline(7, 1, words("UK and Japan agree new steel trade partnership"), MONDAY)
    index = index_with(original)

    found = index.find(
        words("UK and Japan agree new steel trade partnership"), MONDAY + timedelta(days=4), 2
    )

    assert found is None


def test_index_does_not_merge_two_items_of_the_same_source() -> None:
    original = Headline(7, 1, words("UK and Japan agree new steel trade partnership"), MONDAY)
    index = index_with(original)

    assert index.find(words("UK and Japan agree new steel trade partnership"), MONDAY, 1) is None


def test_index_sees_headlines_added_during_the_cycle() -> None:
    index = index_with()
    index.add(Headline(9, 3, words("Aluminium recycling fund opens for applications"), MONDAY))

    assert index.find(words("Aluminium Recycling Fund opens for applications"), MONDAY, 4) == 9
