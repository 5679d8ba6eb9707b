"""What an article is about, as a small weighted set of salient terms.

Different outlets' reports of one event share few 5-word shingles and many
everyday words with other stories on the same topic. What they do share are
the event's rare terms: names (Bogdanov, Lavrentiev), places, numbers, and
unusual words, often in the headline. Terms are weighted by rarity in the
language (wordfreq's Zipf frequency: 7 for "the", below 3 for rare words),
doubled in the title, and capped in repetition; the top ``k`` are kept.
Words found only in paragraphs off the article's subject weigh half
(:func:`_isolated_words`).
"""
from __future__ import annotations

import gzip
import re
import unicodedata
import zlib
from collections import Counter
from functools import lru_cache

import numpy as np

from dedupe.signature import tokens, word_runs

# A capital then lower-case letters: names and places (Latin and Cyrillic scripts).
# A simple class is ~3x faster to scan than a \b-anchored Unicode-aware pattern.
_WORD = re.compile(r"\w+")
# A web address, a domain, a handle or a hashtag. An address starts a word: tried inside one, it
# would fail the same way (the possessive \w++ takes the rest of the word), once per letter.
_ADDRESS = re.compile(r"(?<!\w)\w++(?:://\S++|(?:\.\w++)++)|[@#]\w++")
_CAPITALISED = re.compile(r"[A-ZÀ-ÞА-ЯЁ][a-zß-ÿа-яё]{2,}")
_STOP_ZIPF = 5.5  # words more frequent than this ("said", "year", "people") say nothing about an event
_UNKNOWN_ZIPF = 1.0  # a word wordfreq does not know is rare (names, transliterations)
_UNKNOWN_RARITY = _STOP_ZIPF - _UNKNOWN_ZIPF
_NAME_BOOST = 1.25  # capitalised mid-sentence: names and places carry the event
_NUMBER_RARITY = 2.0  # 49-year lease, 1,600 dead: event details, unless they are years
_MAX_TF = 3
_ORDINAL = re.compile(r"[1-9]\d*(?:st|nd|rd|th)")
# " | ", " - ", " – ", " — " between a headline and the site's or section's name.
_TITLE_PARTS = re.compile(r"\s+[|\-–—·•]\s+|\s*\|\s*")


def headline(title: str | None) -> str:
    """The headline part of a page title: its longest part between " | ", " - ", " – "...

    Page titles carry the outlet's or the section's name ("... | Reuters",
    "Opinion | ...", "LinkNaija | ..."): a rare name, doubled as a title term,
    shared by every article of the outlet whatever its event. The headline is
    the longest part. (trafilatura's title cleaning removes some site names, not
    all: it needs the site name to know which part it is.)"""
    if not title:
        return ""
    parts = [p for p in _TITLE_PARTS.split(title) if p.strip()]
    return max(parts, key=lambda p: len(p.split())) if len(parts) > 1 else title


# Words rarer than this Zipf value are not kept in the table: they all count as rare
# (names, transliterations). It keeps the table at ~50k words (about 10 MB instead of 130 MB).
_TABLE_MIN_ZIPF = 2.5


class RarityTable:
    """word -> rarity, held as two sorted arrays: the words' hashes and their rarities.

    As a dict, a language's 200k+ words cost about 100 bytes each (the str objects and the
    table), and an extraction worker that met a dozen languages held ~130 MB of them (the
    throughput set of bench/crawl_throughput.py has as many). Arrays cost 16 bytes a word,
    and the rarities are the same float64 values. The hashes are Python's str hash, salted
    per process: a table is built in the process that uses it (workers inherit the fork
    server's, built after the salt was drawn) and is never pickled. Two words of one
    language sharing a 64-bit hash is a ~1e-8 event at this size."""

    __slots__ = ("_hashes", "_rarities")

    def __init__(self, table: dict[str, float]) -> None:
        hashes = np.fromiter(map(hash, table), dtype=np.int64, count=len(table))
        rarities = np.fromiter(table.values(), dtype=np.float64, count=len(table))
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._rarities = rarities[order]

    def __len__(self) -> int:
        return len(self._hashes)

    def __reduce__(self):
        raise TypeError("a RarityTable is keyed by this process's str hashes: build it where it is used")

    def lookup(self, words: list[str], default: float) -> list[float]:
        """The rarity of each of ``words`` (``default`` for a word not in the table), in one
        vectorised search: per distinct word of an article, not per call."""
        if not len(self._hashes):
            return [default] * len(words)
        keys = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        at = np.minimum(np.searchsorted(self._hashes, keys), len(self._hashes) - 1)
        return np.where(self._hashes[at] == keys, self._rarities[at], default).tolist()

    def __getitem__(self, word: str) -> float:
        (rarity,) = self.lookup([word], np.nan)
        if rarity != rarity:  # NaN: not in the table
            raise KeyError(word)
        return rarity


@lru_cache(maxsize=16)
def _rarity_table(language: str) -> RarityTable:
    """word -> rarity (0 for words too common to matter), for words wordfreq knows well.

    Loaded once per process: a table lookup is ~50x faster than calling wordfreq per
    word. Unknown languages fall back to English."""
    try:
        buckets = _frequency_buckets(language, _TABLE_MIN_ZIPF)
    except (LookupError, ValueError):
        # English's own table: one built per unknown language would cost its build again
        # (~50 ms) and its memory, in each worker.
        return _rarity_table("en")
    table = {}
    elided: dict[str, float] = {}  # piece of a word with an apostrophe -> its rarity
    negated: set[str] = set()  # "isn" of "isn't"
    for index, words in enumerate(buckets):
        zipf = 9 - index / 100
        rarity = max(_STOP_ZIPF - zipf, 0.0)
        for word in words:
            table[word] = rarity
            if "'" in word or "’" in word:
                for part in _WORD.findall(word):
                    elided[part] = min(rarity, elided.get(part, rarity))
                if word[-3:] in ("n't", "n’t"):
                    negated.add(word[:-2])
    # wordfreq keeps "shouldn't", "aujourd'hui" whole; our tokens split them, and a piece
    # ("shouldn", "hasn", "aujourd") that wordfreq does not know alone would count as a rare
    # name: the heaviest term of "... Why You Shouldn't Worry". An unknown piece takes the
    # rarity of the most common word it is part of ("brien" that of "o'brien"); the stem of a
    # negation ("isn", "doesn": rare alone, not in "isn't") always does.
    for part, rarity in elided.items():
        if part not in table or (part.endswith("n") and part in negated):
            table[part] = min(rarity, table.get(part, rarity))
    return RarityTable(table)


def _frequency_buckets(language: str, min_zipf: float) -> list[list[str]]:
    """wordfreq's "best" list for ``language`` (its nearest match, as wordfreq chooses it), as
    buckets of words: bucket i holds the words of frequency 10**(-i/100), i.e. Zipf 9 - i/100;
    only the buckets down to ``min_zipf``.

    Read from the file as far as those buckets go: the rare words after them are most of a
    list (550k of German's 635k), and reading the whole list (wordfreq.get_frequency_list)
    cost 4-6x as much, 40-170 ms a language, paid by every extraction worker for every
    language it meets. The file is wordfreq's documented cBpack (see wordfreq.read_cBpack):
    gzipped msgpack, a list of a header and then the buckets. Should it not read as that,
    wordfreq reads the whole list. Raises LookupError for a language wordfreq does not have."""
    import wordfreq

    available = wordfreq.available_languages(wordlist="best")
    try:
        import langcodes
        import msgpack

        best, _ = langcodes.closest_match(language, list(available), max_distance=60)  # as wordfreq does
        if best == "und":
            raise LookupError(language)  # wordfreq's reader below raises it with its message
        buckets: list[list[str]] = []
        with gzip.open(available[best], "rb") as data:
            unpacker = msgpack.Unpacker(data, raw=False)
            count = unpacker.read_array_header()
            if unpacker.unpack() != {"format": "cB", "version": 1}:
                raise ValueError("not a cBpack header")
            for index in range(count - 1):
                if 9 - index / 100 < min_zipf:
                    break
                buckets.append(unpacker.unpack())
        return buckets
    except Exception:  # noqa: BLE001 - any surprise in the file: wordfreq's own reader decides
        pass
    buckets = wordfreq.get_frequency_list(language, wordlist="best")
    wordfreq.get_frequency_list.cache_clear()  # the full list (300k+ words) is not kept
    return [words for index, words in enumerate(buckets) if 9 - index / 100 >= min_zipf]


def story_terms(
    title: str | None, text: str, language: str | None, k: int, words: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most salient terms as (uint32 term hashes sorted, float32 weights).

    ``words`` are ``dedupe.signature.tokens(text)`` when the caller has them.
    This runs for every stored article, so the per-word loop does one dict
    lookup per distinct word and nothing else it can avoid.
    """
    hashes, weights, _ = story_terms_and_names(title, text, language, k, words)
    return hashes, weights


def _names(text: str) -> set[str]:
    """Lower-cased words the text writes with a capital (WeWork, NYAG, Claure) and never all in
    lower case (a sentence's first word usually appears in lower case elsewhere), and the words
    of its web addresses, handles and hashtags."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    # Addresses (venturebeat.com, www.jeongdongtheater.com/noksu, @handle, #tag) name things in lower case.
    addressed = {w.lower() for chunk in _ADDRESS.findall(text) for w in _WORD.findall(chunk)}
    raw = set(word_runs(text))
    lower = {w for w in raw if w.islower()} - addressed
    capitalised = {folded for w in raw if not w.islower() and not w.isdigit() and (folded := w.lower()) not in lower}
    return capitalised | {w for w in addressed if not w.isdigit()}


_ISOLATED_SHARE = 0.1  # a paragraph sharing less of its rare-word weight with the rest is off the subject
_ISOLATED_WEIGHT = 0.5
_PARAGRAPH = re.compile(r"\s*\n\s*")


def _isolated_words(text: str, rarities: dict[str, float]) -> set[str]:
    """Salient words (``rarities``: word -> rarity) found only in paragraphs that share less than
    ``_ISOLATED_SHARE`` of their rare-word weight with the rest of the text.

    A report's paragraphs tell one event: its names and rare words recur from one paragraph to
    the next. A paragraph that shares almost none of them is about something else: a teaser
    for another article, a promo, a bio, an inserted lead (the synthetic set's scale-originals
    open with one). Its rare words are topic noise, not the event's evidence."""
    if not text.isascii():  # as dedupe.signature.tokens, once for all the paragraphs
        text = unicodedata.normalize("NFKC", text)
    paragraphs = [p for p in _PARAGRAPH.split(text.lower()) if p]
    if len(paragraphs) < 3:
        return set()  # with fewer, there is no "rest" to be off from
    sets = [rarities.keys() & _WORD.findall(p) for p in paragraphs]
    seen_in = Counter(w for words in sets for w in words)
    repeated = {w for w, n in seen_in.items() if n > 1}
    isolated: set[str] = set()
    kept: set[str] = set()
    for words in sets:
        total = sum(map(rarities.__getitem__, words))
        if not total:
            continue
        shared = sum(map(rarities.__getitem__, words & repeated))
        (isolated if shared < _ISOLATED_SHARE * total else kept).update(words)
    return isolated - kept


def story_terms_and_names(
    title: str | None, text: str, language: str | None, k: int, words: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`story_terms` and, aligned with them, which terms are names in the text.

    A name here is a word the text writes capitalised and never in lower case
    ("Claure", "WeWork", "Noksu"; not "Employees" at a sentence start when the
    text also says "employees"). Two reports that share only names share who
    and where, the topic; reports of one event also share what happened: an
    action, an object, a number (see ``DedupeSettings.story_specific_share``).
    The headline does not decide: titles capitalise every word."""
    table = _rarity_table((language or "en").lower()[:2])
    weights: dict[str, float] = {}
    text_names: set[str] = set()
    text_words: set[str] = set()
    rarities: dict[str, float] = {}  # the text's salient words and their rarity
    head = headline(title)
    # The rest of the page title names the outlet or the section ("| venturebeat.com",
    # "- Jeongdong Theater"). Its words in the text (a copyright footer, a dateline, a
    # "follow us" line) are the outlet's, shared by all its articles whatever the event.
    outlet = set(tokens(title)) - set(tokens(head)) if title and head != title else set()
    for source, source_words, boost in ((text, words, 1.0), (head, None, 2.0)):
        if not source:
            continue
        names = {w.lower() for w in _CAPITALISED.findall(source)}
        counts = Counter(source_words if source_words is not None else tokens(source))
        if boost == 1.0:
            text_names = _names(source)
            text_words = set(counts)
        for (word, count), rarity in zip(counts.items(), table.lookup(list(counts), _UNKNOWN_RARITY)):
            if not rarity or word in outlet:
                continue
            if word.isdigit():
                if len(word) < 2 or (len(word) == 4 and word[:2] in ("19", "20")):
                    continue  # single digits say nothing; years name periods, not events
                rarity = _NUMBER_RARITY
            elif not word.isalpha():
                if not _ORDINAL.fullmatch(word):
                    continue
                # "50th anniversary", "6th fatality": an event detail, weighed as a number. (Other
                # digits with letters are mostly units and times, 60fps, 1080p, 5pm: not kept.)
                rarity = min(rarity, _NUMBER_RARITY)
            elif len(word) < 3:
                continue
            elif word in names:
                rarity *= _NAME_BOOST
            weights[word] = weights.get(word, 0.0) + rarity * boost * min(count, _MAX_TF)
            if boost == 1.0:
                rarities[word] = rarity
        if boost == 1.0 and _ISOLATED_WEIGHT < 1.0:
            for word in _isolated_words(source, rarities):
                weights[word] *= _ISOLATED_WEIGHT
    if not weights:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=bool)
    terms = list(weights)
    values = np.fromiter(weights.values(), dtype=np.float32, count=len(terms))
    order = _top_k(values, terms, k) if len(terms) > k else list(range(len(terms)))
    hashes = np.fromiter(map(zlib.crc32, (terms[i].encode() for i in order)), dtype=np.uint32, count=len(order))
    chosen = values[order]
    # A headline word the text never uses is a label (a series' or rubric's name) or of no known
    # kind: title capitals say nothing. It is not evidence of what happened.
    is_name = np.fromiter((terms[i] in text_names or terms[i] not in text_words for i in order),
                          dtype=bool, count=len(order))
    by_hash = np.argsort(hashes)  # sorted hashes make intersections cheap
    return hashes[by_hash], chosen[by_hash], is_name[by_hash]


HEADLINE_TERMS = 8


def headline_terms(title: str | None, language: str | None) -> np.ndarray | None:
    """The salient terms of a title's headline (uint32 hashes, sorted), or None without a title.

    Reports of one event share at least one salient headline word (the name,
    the place, the thing that happened); reports of one topic often share none
    (a hearing's key moments and the next witness's preview). Measured on the
    labelled real pages (bench/story_quality.py)."""
    part = headline(title)
    if not part.strip():
        return None
    return story_terms(None, part, language, HEADLINE_TERMS)[0]


_NUMBERS = 100_000  # headline numbers below this are recognised by their term hash


@lru_cache(maxsize=1)
def _number_hashes() -> np.ndarray:
    """The term hashes of the numbers 0-99,999, sorted (built once, ~30 ms)."""
    return np.unique(np.fromiter((zlib.crc32(b"%d" % n) for n in range(_NUMBERS)), dtype=np.uint32, count=_NUMBERS))


def numbers_among(terms: np.ndarray) -> np.ndarray:
    """The number terms among ``terms`` (term hashes, e.g. a stored :func:`headline_terms`).

    Stored headlines keep only hashes, so a number is known by its hash: a word whose
    CRC-32 equals a number's (about 1 word in 40,000) is taken for a number, which can
    only raise the evidence one pair of articles needs (see ``Deduper._same_story``)."""
    if not len(terms):
        return terms
    table = _number_hashes()
    at = np.minimum(np.searchsorted(table, terms), len(table) - 1)
    return terms[table[at] == terms]


_FIXED_PHRASE = 0.8  # share of the rarer word's uses in the text that must be the two together


def headline_phrases(title: str | None, terms: np.ndarray, words: list[str]) -> np.ndarray:
    """For each of ``terms`` (a title's :func:`headline_terms`), the number of its phrase.

    Neighbouring headline words that the text (``words``, its tokens) also
    uses together, nearly always, are one name: "Hong Kong", "Attorney General",
    "Jang Noksu", "Doobie Brothers". A name is one piece of evidence, however
    many words it has. Two headlines that share one such phrase share a name
    (the city, the company, the show), which reports on one topic do; reports of
    one event share the name and what happened to it ("Sweden drops ...
    investigation": three phrases)."""
    position = {int(h): i for i, h in enumerate(terms.tolist())}
    head = [(word, position.get(zlib.crc32(word.encode()))) for word in tokens(headline(title))]
    pairs = {(a, b) for (a, i), (b, j) in zip(head, head[1:]) if i is not None and j is not None}
    fixed: set[tuple[str, str]] = set()
    if pairs and words:
        wanted = {w for pair in pairs for w in pair}
        counts = Counter(w for w in words if w in wanted)
        together = Counter(pair for pair in zip(words, words[1:]) if pair in pairs)
        fixed = {pair for pair in pairs
                 if together[pair] and together[pair] >= _FIXED_PHRASE * min(counts[pair[0]], counts[pair[1]])}
    phrases = np.zeros(len(terms), dtype=np.int32)
    phrase, previous = 0, None
    for word, i in head:
        if i is None:
            previous = None
            continue
        if previous is None or (previous, word) not in fixed:
            phrase += 1
        if not phrases[i]:
            phrases[i] = phrase
        previous = word
    return phrases


def _top_k(values: np.ndarray, words: list[str], k: int) -> list[int]:
    """Indices of the k heaviest; ties at the cut broken by the word, so the choice is reproducible."""
    cut = np.partition(values, len(values) - k)[len(values) - k]
    above = np.flatnonzero(values > cut).tolist()
    ties = sorted(np.flatnonzero(values == cut).tolist(), key=lambda i: words[i])
    return above + ties[: k - len(above)]


def weighted_jaccard_scaled(a_terms: np.ndarray, a_weights: np.ndarray, factors: np.ndarray,
                            b_terms: np.ndarray, b_weights: np.ndarray, not_evidence=None) -> float:
    """:func:`weighted_jaccard` with ``a``'s terms scaled by ``factors`` on both sides.

    The factors are a property of the term in the recent stream, not of either
    document: where ``b`` shares a term it gets the same factor. ``b``'s other
    terms keep their weights, which saves looking them up in the stream for
    every candidate (they weigh only in the denominator).

    ``not_evidence`` (term hashes): shared terms that count in the denominator only, as if
    the two documents did not share them (the shared headline name of a weak headline link)."""
    if not len(a_terms) or not len(b_terms):
        return 0.0
    shared, ia, ib = np.intersect1d(a_terms, b_terms, assume_unique=True, return_indices=True)
    if not len(shared):
        return 0.0
    a_scaled = a_weights * factors
    a_shared, b_shared = a_scaled[ia], b_weights[ib] * factors[ia]
    mins = np.minimum(a_shared, b_shared)
    if not_evidence is not None:
        mins = mins[~np.isin(shared, not_evidence)]
    mins = mins.sum()
    maxs = np.maximum(a_shared, b_shared).sum()
    only = a_scaled.sum() - a_shared.sum() + b_weights.sum() - b_weights[ib].sum()
    return float(mins / (maxs + only))


def weighted_jaccard(a_terms: np.ndarray, a_weights: np.ndarray, b_terms: np.ndarray, b_weights: np.ndarray) -> float:
    """Σ min(w) / Σ max(w) over the union of two weighted term sets."""
    if not len(a_terms) or not len(b_terms):
        return 0.0
    shared, ia, ib = np.intersect1d(a_terms, b_terms, assume_unique=True, return_indices=True)
    if not len(shared):
        return 0.0
    mins = np.minimum(a_weights[ia], b_weights[ib]).sum()
    maxs = np.maximum(a_weights[ia], b_weights[ib]).sum()
    only = a_weights.sum() - a_weights[ia].sum() + b_weights.sum() - b_weights[ib].sum()
    return float(mins / (maxs + only))
