"""Finding taxonomy phrases in text: words rather than substrings, with plurals, UK/US spelling,
abbreviations and `*` prefixes folded the same way on both sides."""

import pytest

from alerter.topics.matching import PhraseSet, compile_phrase, normalise_word, tokenise


def found(phrase: str, text: str) -> list[str]:
    """The words of `text` that `phrase` matches, as written, one string per match."""
    tokens = tokenise(text)
    return [
        " ".join(token.word for token in tokens[start:end])
        for _, start, end in PhraseSet([compile_phrase(phrase)]).find(tokens)
    ]


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("tariffs", "tariff"),
        ("duties", "duty"),
        ("supplies", "supply"),
        ("churches", "church"),
        ("wishes", "wish"),
        ("taxes", "tax"),
        ("buzzes", "buzz"),
        ("processes", "process"),
        ("sizes", "size"),
        ("prizes", "prize"),
        ("gases", "gas"),
        ("ores", "ore"),
    ],
)
def test_a_plural_is_read_as_its_singular(plural: str, singular: str) -> None:
    assert normalise_word(plural) == normalise_word(singular) == singular


@pytest.mark.parametrize(
    "word",
    ["news", "process", "gas", "series", "analysis", "status", "business", "customs", "steelworks"],
)
def test_a_word_ending_in_s_that_is_not_a_plural_is_kept(word: str) -> None:
    assert normalise_word(word) == word


@pytest.mark.parametrize(
    ("us", "uk"),
    [
        ("decarbonization", "decarbonisation"),
        ("decarbonize", "decarbonise"),
        ("industrialized", "industrialised"),
        ("organizes", "organise"),
        ("analyze", "analyse"),
        ("aluminum", "aluminium"),
        ("program", "programme"),
        ("programs", "programme"),
        ("center", "centre"),
        ("Defense", "defence"),
    ],
)
def test_a_us_spelling_is_read_as_the_uk_one(us: str, uk: str) -> None:
    assert normalise_word(us) == uk


@pytest.mark.parametrize("word", ["size", "prize", "seize"])
def test_a_short_word_ending_in_ize_is_not_a_us_spelling(word: str) -> None:
    assert normalise_word(word) == word


@pytest.mark.parametrize("word", ["industry's", "industry\u2019s", "Industry's"])
def test_a_possessive_is_read_as_the_word(word: str) -> None:
    assert normalise_word(word) == "industry"


def test_a_plural_possessive_is_read_as_the_singular() -> None:
    assert normalise_word("members'") == "member"


def test_tokenise_splits_hyphenated_words() -> None:
    tokens = tokenise("anti-dumping duties")

    assert [token.word for token in tokens] == ["anti", "dumping", "duties"]


def test_tokenise_reads_an_ampersand_as_and() -> None:
    tokens = tokenise("R&D, M & A")

    assert [token.norm for token in tokens] == ["r", "and", "d", "m", "and", "a"]


def test_tokenise_keeps_apostrophes_inside_a_word_and_normalises_it() -> None:
    [token] = tokenise("the UK\u2019s")[1:]

    assert (token.word, token.norm) == ("UK\u2019s", "uk")


def test_tokenise_reads_accented_letters_as_part_of_a_word() -> None:
    assert [token.word for token in tokenise("Zürich café, 2026")] == ["Zürich", "café", "2026"]


def test_tokenise_keeps_only_words_in_order() -> None:
    assert [token.word for token in tokenise("Steel -- tariffs: (new)")] == [
        "Steel",
        "tariffs",
        "new",
    ]


def test_a_phrase_matches_whole_words_not_parts_of_words() -> None:
    assert found("ore", "More iron ore arrived before the ores") == ["ore", "ores"]


def test_a_phrase_does_not_match_a_longer_word_that_starts_with_it() -> None:
    assert found("tariff", "Tariffication of quotas") == []


def test_a_star_matches_any_ending() -> None:
    assert found("decarboni*", "Decarbonising steel; decarbonization plans") == [
        "Decarbonising",
        "decarbonization",
    ]


def test_a_star_can_end_a_later_word() -> None:
    assert found("trade remed*", "New trade remedies for steel") == ["trade remedies"]


def test_a_star_needs_three_letters_before_it() -> None:
    with pytest.raises(ValueError, match="'ev\\*': a word ending in \\* needs 3 letters"):
        compile_phrase("ev*")


def test_a_phrase_needs_a_word() -> None:
    with pytest.raises(ValueError, match="has no words"):
        compile_phrase(" -- ")


def test_a_lower_case_phrase_ignores_case() -> None:
    assert found("steel safeguard*", "STEEL SAFEGUARDS extended") == ["STEEL SAFEGUARDS"]


def test_a_multi_word_phrase_matches_across_hyphens_plurals_and_spelling() -> None:
    assert found("secondary aluminium ingot", "secondary-aluminum ingots") == [
        "secondary aluminum ingots"
    ]


def test_a_multi_word_phrase_needs_its_words_together_and_in_order() -> None:
    assert found("anti dumping", "anti-subsidy and dumping; dumping, anti") == []


def test_an_ampersand_in_a_phrase_matches_and_in_the_text() -> None:
    assert found("R&D tax relief", "R and D tax reliefs; R & D tax relief") == [
        "R and D tax reliefs",
        "R and D tax relief",
    ]


@pytest.mark.parametrize(
    ("abbreviation", "word"),
    [
        ("MoU", "MoU"),
        ("MoU", "MOU"),
        ("MoU", "MoUs"),
        ("MoU", "MOUs"),
        ("MoU", "MoU\u2019s"),
        ("TRA", "TRA"),
        ("TRA", "TRAs"),
        ("TRA", "TRA's"),
        ("EV", "EV"),
        ("EV", "EVs"),
        ("kWh", "kWh"),
        ("kWh", "KWH"),
    ],
)
def test_an_abbreviation_matches_as_written_or_in_capitals(abbreviation: str, word: str) -> None:
    assert found(abbreviation, f"the {word} today") == [word]


@pytest.mark.parametrize(
    ("abbreviation", "word"),
    [
        ("MoU", "mou"),
        ("MoU", "Mou"),
        ("MoU", "mous"),
        ("TRA", "Tra"),
        ("TRA", "tra"),
        ("TRA", "Tra's"),
        ("EV", "ev"),
        ("EV", "Ev"),
        ("EV", "evs"),
        ("kWh", "kwh"),
    ],
)
def test_an_abbreviation_does_not_match_an_ordinary_word(abbreviation: str, word: str) -> None:
    assert found(abbreviation, f"the {word} today") == []


def test_an_abbreviation_later_in_a_phrase_keeps_its_case() -> None:
    assert found("UK ETS", "UK ETS prices; uk ets; UK ets") == ["UK ETS"]


def test_a_phrase_set_reports_each_phrase_with_its_word_positions() -> None:
    tariffs, minerals, mou = (compile_phrase(p) for p in ("tariff*", "critical mineral*", "MoU"))
    phrases = PhraseSet([tariffs, minerals, mou])

    matches = phrases.find(tokenise("MoU on critical minerals and tariffs"))

    assert matches == [(mou, 0, 1), (minerals, 2, 4), (tariffs, 5, 6)]
