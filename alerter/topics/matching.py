"""Finding taxonomy phrases in text: words, not substrings, with plurals, UK/US spelling and the
sector's abbreviations handled the same way on both sides. Pure functions and data."""

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# Words and numbers; apostrophes inside a word stay ("members'" is "members").
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_PATTERN_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*\*?")
_PREFIX_KEY = 3
_CACHE_SIZE = 100_000  # distinct words remembered by a PhraseSet
_AMPERSAND = re.compile(r"\s*&\s*")
_POSSESSIVE = re.compile(r"['\u2019][sS]$")

# US spellings folded to the UK ones members read.
_US_WORDS = {
    "aluminum": "aluminium",
    "program": "programme",
    "programs": "programmes",
    "center": "centre",
    "centers": "centres",
    "fiber": "fibre",
    "labor": "labour",
    "defense": "defence",
    "license": "licence",
    "licenses": "licences",
    "modeling": "modelling",
    "traveling": "travelling",
    "sulfur": "sulphur",
}
_US_IZE = re.compile(r"(?<=.{3})([iy])z(e|es|ed|ing|ation|ations|er|ers)$")  # -ize, -yze
_IRREGULAR_PLURALS = {"gases": "gas", "buses": "bus", "biases": "bias", "indices": "index"}
# Words that end in "s" without being plurals (or whose plural reading would mislead).
_NOT_PLURAL = frozenset(
    [
        "news",
        "series",
        "species",
        "means",
        "gas",
        "bus",
        "plus",
        "thus",
        "always",
        "various",
        "analysis",
        "basis",
        "crisis",
        "status",
        "process",
        "access",
        "across",
        "business",
        "less",
        "unless",
        "press",
        "class",
        "glass",
        "customs",
        "goods",
        "steelworks",
        "works",
        "ironworks",
        "arms",
        "chemicals",
        "overseas",
        "afterwards",
        "towards",
        "whereas",
        "yes",
        "this",
        "his",
        "its",
        "us",
        "has",
        "was",
        "is",
        "as",
        "does",
    ]
)


@lru_cache(maxsize=65536)
def normalise_word(word: str) -> str:
    """The comparable form of one word: lower case, UK spelling, singular."""
    word = word.lower().replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.rstrip("'")
    word = _US_WORDS.get(word) or _US_IZE.sub(r"\1s\2", word)
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if word in _NOT_PLURAL or len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    # "buzzes" loses "es", but "sizes" and "prizes" only their "s".
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")):
        return word
    return word[:-1]


class Token(NamedTuple):
    """A word of a text (a tuple: texts have many, and they are made often)."""

    word: str  # as written
    norm: str  # normalised


def tokenise(text: str) -> list[Token]:
    text = _AMPERSAND.sub(" and ", text)
    return [_token(word) for word in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def _token(word: str) -> Token:
    # One Token per distinct word: texts share most of their words, and the PhraseSet's cache
    # then finds the same object again.
    return Token(word, normalise_word(word))


def _without_possessive(word: str) -> str:
    """An abbreviation as written, less any possessive: "TRA's" is "TRA"."""
    return _POSSESSIVE.sub("", word)


@dataclass(frozen=True)
class PatternWord:
    norm: str
    prefix: bool  # written with a trailing *: matches any word starting with `norm`
    abbreviation: str | None  # written with capitals inside: case matters ("TRA", "MoU")

    def matches(self, token: Token) -> bool:
        if self.abbreviation is not None:
            # As written, or in capitals; either with a plural s: "MoU", "MOUs", not "mou".
            word = _without_possessive(token.word)
            if word != self.abbreviation and word.endswith("s"):
                word = word[:-1]
            if word.lower() != self.abbreviation.lower():
                return False
            return word == self.abbreviation or sum(c.isupper() for c in word) >= 2
        if self.prefix:
            return token.norm.startswith(self.norm)
        return token.norm == self.norm


@dataclass(frozen=True)
class Phrase:
    """A phrase from the taxonomy, ready to match."""

    text: str
    words: tuple[PatternWord, ...]


def compile_phrase(text: str) -> Phrase:
    words = []
    for piece in _PATTERN_WORD.findall(_AMPERSAND.sub(" and ", text)):
        prefix = piece.endswith("*")
        word = piece.rstrip("*")
        if prefix and len(word) < _PREFIX_KEY:
            raise ValueError(f"phrase {text!r}: a word ending in * needs {_PREFIX_KEY} letters")
        capitals = sum(c.isupper() for c in word)
        abbreviation = (
            word if (capitals >= 2 or (capitals == 1 and not word[0].isupper())) else None
        )
        norm = word.lower() if prefix else normalise_word(word)
        words.append(PatternWord(norm, prefix, abbreviation))
    if not words:
        raise ValueError(f"phrase {text!r} has no words")
    return Phrase(text, tuple(words))


class PhraseSet:
    """Phrases indexed by their first word, so a text is scanned once whatever their number."""

    def __init__(self, phrases: list[Phrase]) -> None:
        self.phrases = phrases
        self._exact: defaultdict[str, list[Phrase]] = defaultdict(list)
        # One plain word: a dictionary hit is already the whole match.
        self._single: defaultdict[str, list[Phrase]] = defaultdict(list)
        self._abbreviations: defaultdict[str, list[Phrase]] = defaultdict(list)
        # Prefixed first words ("decarboni*") are indexed by their first three letters.
        self._prefixed: defaultdict[str, list[Phrase]] = defaultdict(list)
        self._cache: dict[Token, tuple[tuple[Phrase, ...], tuple[Phrase, ...]]] = {}
        for phrase in phrases:
            first = phrase.words[0]
            if first.prefix:
                self._prefixed[first.norm[:_PREFIX_KEY]].append(phrase)
            elif first.abbreviation is not None:
                self._abbreviations[first.abbreviation.lower()].append(phrase)
            elif len(phrase.words) == 1:
                self._single[first.norm].append(phrase)
            else:
                self._exact[first.norm].append(phrase)

    def find(self, tokens: list[Token]) -> list[tuple[Phrase, int, int]]:
        """Every (phrase, start, end) match in the tokens; end is exclusive."""
        found: list[tuple[Phrase, int, int]] = []
        cache, count = self._cache, len(tokens)
        for i, token in enumerate(tokens):
            single, candidates = cache.get(token) or self._candidates(token)
            for phrase in single:
                found.append((phrase, i, i + 1))
            for phrase in candidates:
                words = phrase.words
                end = i + len(words)
                if end > count:
                    continue
                # The index already matched a first word written plainly or with a *; one in
                # capitals must still match as an abbreviation.
                for k in range(0 if words[0].abbreviation else 1, len(words)):
                    if not words[k].matches(tokens[i + k]):
                        break
                else:
                    found.append((phrase, i, end))
        return found

    def _candidates(self, token: Token) -> tuple[tuple[Phrase, ...], tuple[Phrase, ...]]:
        """Phrases matched by this word alone, and phrases that may start at it. Cached: a text's
        words repeat across items, and most lead nowhere."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        candidates = list(self._exact.get(token.norm, ()))
        # Only a word with a capital in it can be an abbreviation: "MoU", "MOUs", "kWh".
        if not token.word.islower():
            lower = _without_possessive(token.word).lower()
            candidates += self._abbreviations.get(lower, [])
            if lower.endswith("s"):
                candidates += self._abbreviations.get(lower[:-1], [])
        candidates += [
            p
            for p in self._prefixed.get(token.norm[:_PREFIX_KEY], ())
            if token.norm.startswith(p.words[0].norm)
        ]
        result = (tuple(self._single.get(token.norm, ())), tuple(candidates))
        if len(self._cache) < _CACHE_SIZE:
            self._cache[token] = result
        return result
