"""The article's headline, from what the page declares, by agreement between its sources.

A page states its headline several times: the JSON-LD ``headline``, ``og:title``,
``twitter:title``, Dublin Core's ``DC.title``, the ``<h1>`` and the ``<title>``. Each can
be off: the ``<title>`` is often an SEO rewrite with the site's name and section around
it, ``og:title`` may be a social rewrite, a template's first ``<h1>`` may be the site's
logo. Taken together they agree: the headline is the text that most sources state, whole or
with a short affix (site, section) around it. Ties go to the declared sources
first (JSON-LD, then og, twitter, DC, title, h1).

Affixes are stripped when they name the site (og:site_name, the publisher, the
host name, also in full after it, "Vortex Cannon Entertainment" on vortexcannon.org, or by
the initials hosts use, "The New York Times" on nytimes.com) or when they are the same on many of a site's titles (learned per site
by the store: see :func:`title_affixes`), whatever the language. Nothing else after a
separator is taken for an affix: an author ("Headline | Jana Berger"), a series ("Chapter
12 - Series name") or a section the page declares as part of its title stays, unless the
site's learning has seen it recur. So a shorter form (the <h1>) gains no support from a
longer declared form with more after it that is not demonstrably the site's: a publisher
that puts more in og:title than in the <h1> declares that as the title. A short lead-in
before it (a kicker, a section label: "Politik: Headline") does support it.
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from dedupe.signature import word_runs

# Separators between a headline and its affixes: " | ", " - ", " – ", " — ", " : ", " » ",
# " · ", " • ", " :: ", " / ", a trailing "[Site]", and the full-width bar that Japanese and
# Chinese titles set without spaces ("見出し｜新聞名").
_SEPARATORS = re.compile(r"\s+[|\-–—:»·•/]\s+|\s+::\s+|\s*::\s*$|\s+(?=\[[^\]]+\]$)|\s*｜\s*")
_WORD = re.compile(r"\w+")
# Ties between equally supported candidates: declared sources first; then the <title> before
# an unconfirmed <h1>, which in older templates is often the site's logo.
SOURCE_ORDER = ("jsonld", "og", "twitter", "dc", "title", "h1")
# Without any site name (no URL, nothing declared): a trailing segment this short after a
# headline this long is taken for the site's brand (see strip_affixes).
NO_SITE_AFFIX_MAX_WORDS = 3
SITE_NAME_MAX_WORDS = 6
NO_SITE_HEADLINE_MIN_WORDS = 4
# Second-level labels under a country code that name no one: co.uk, com.au, or.jp, gov.in.
_GENERIC_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "or", "ne", "go", "gob", "gv"})


def key(text: str | None) -> str:
    """Comparison key: lower-case word tokens (quotes, dashes and punctuation vary by source)."""
    text = text or ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(word_runs(text.lower()))


def _site_key(value: str) -> str:
    return re.sub(r"\W+", "", value.lower().removeprefix("the ").removeprefix("www."))


def site_keys(site_names: list[str | None], url: str | None = None) -> set[str]:
    """Forms of the site's name an affix may take: declared names and the host's labels."""
    # A "site name" of many words is a headline put in the wrong field: not an affix.
    keys = {_site_key(n) for n in site_names if n and len(n.split()) <= SITE_NAME_MAX_WORDS}
    if url:
        host = (urlsplit(url).hostname or "").removeprefix("www.")
        labels = host.split(".")
        if len(labels) >= 3 and labels[-2] in _GENERIC_SECOND_LEVEL:
            labels = labels[:-1]  # "telegraph" of www.telegraph.co.uk, "yahoo" of headlines.yahoo.co.jp
        if len(labels) >= 2:
            keys.add(_site_key(labels[-2]))  # "theguardian" of www.theguardian.com
            keys.add(_site_key(".".join(labels[-2:])))  # "lwnnet" of lwn.net
    keys.discard("")
    return {k for k in keys if len(k) >= 2}


def names_site(segment: str, keys: set[str]) -> bool:
    """Whether ``segment`` is the site's name or a variant of it ("The Guardian" for
    "guardian", "Le Monde.fr" for "Le Monde"): one contains the other, at half its length or more."""
    seg = _site_key(segment.strip("[]() "))
    if not seg:
        return False
    for k in keys:
        short, long_ = sorted((seg, k), key=len)
        if short in long_ and 2 * len(short) >= len(long_) and len(short) >= 2:
            return True
    return not _abbreviations(segment).isdisjoint(keys)


def _abbreviations(segment: str) -> set[str]:
    """A publication's name as host names shorten it: "The New York Times" as "nytimes" or
    "nyt", "Los Angeles Times" as "latimes", "Wall Street Journal" as "wsj": the initials
    of its first words, then its last words whole."""
    words = word_runs(segment.lower())
    if words and words[0] == "the":
        words = words[1:]
    if not 2 <= len(words) <= SITE_NAME_MAX_WORDS:
        return set()
    forms = {"".join(w[0] for w in words[:i]) + "".join(words[i:]) for i in range(1, len(words) + 1)}
    return {f for f in forms if len(f) >= MIN_ABBREVIATION_CHARS}


MIN_ABBREVIATION_CHARS = 3
# A trailing segment of this many words at most that starts with the site's name is the
# site's name in full: "Vortex Cannon Entertainment" on vortexcannon.org.
SITE_NAME_IN_FULL_MAX_WORDS = 4
SITE_NAME_IN_FULL_MIN_KEY = 5


def _names_site_in_full(segment: str, keys: set[str]) -> bool:
    seg = _site_key(segment.strip("[]() "))
    return len(segment.split()) <= SITE_NAME_IN_FULL_MAX_WORDS and any(
        len(k) >= SITE_NAME_IN_FULL_MIN_KEY and seg.startswith(k) for k in keys)


def strip_affixes(title: str, keys: set[str], learned: frozenset[str] | set[str] = frozenset()) -> str:
    """The title without leading and trailing segments that name the site or are learned affixes."""
    title = " ".join(title.split())
    parts = [p for p in _SEPARATORS.split(title) if p.strip()]
    if len(parts) < 2:
        return title
    start, end = 0, len(parts)
    while end - start > 1 and (names_site(parts[end - 1], keys) or key(parts[end - 1]) in learned
                               or _names_site_in_full(parts[end - 1], keys)):
        end -= 1
    while end - start > 1 and (names_site(parts[start], keys) or key(parts[start]) in learned):
        start += 1
    if (start, end) == (0, len(parts)):
        if not keys and len(parts[-1].split()) <= NO_SITE_AFFIX_MAX_WORDS and \
                len(" ".join(parts[:-1]).split()) >= NO_SITE_HEADLINE_MIN_WORDS:
            # No declared site name: a short trailing segment after a long headline
            # is the site's brand in the vast majority of news <title>s.
            end -= 1
        else:
            return title
    return _span(title, parts[start], parts[end - 1])


def _span(title: str, first: str, last: str) -> str:
    """The original text from the start of ``first`` to the end of ``last``."""
    begin = title.find(first)
    finish = title.rfind(last) + len(last)
    return title[begin:finish].strip(" |-–—:»·•/")


def _after_kicker(source: str, candidate: str) -> bool:
    """Whether ``source`` (a key) is ``candidate`` (a key) after a shorter lead-in: a kicker or
    section label ("Politik: Headline", "Analysis | Headline") that the page shows apart
    from its headline. What follows a headline (an author, a series, a section) is no such
    lead-in: a source with more after the candidate supports it only when that is the site's
    name (then its stripped form is the candidate)."""
    return source.endswith(" " + candidate) and len(source) - len(candidate) < len(candidate)


def choose_title(sources: list[tuple[str, str | None]], keys: set[str],
                 learned: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The headline from ``(kind, text)`` sources (kinds in :data:`SOURCE_ORDER`; several h1 allowed)."""
    found = [(kind, " ".join(text.split())) for kind, text in sources if text and text.strip()]
    if not found:
        return None
    candidates = []
    for kind, text in found:
        stripped = strip_affixes(text, keys, learned)
        for form in dict.fromkeys((stripped, text)):
            k = key(form)
            if k and _site_key(form) not in keys:
                candidates.append((kind, form, k))
    if not candidates:
        return strip_affixes(found[0][1], keys, learned)
    source_keys = [(kind, key(text), key(strip_affixes(text, keys, learned))) for kind, text in found]

    def support(candidate_key: str) -> int:
        kinds = {kind for kind, raw, stripped in source_keys
                 if candidate_key in (raw, stripped) or _after_kicker(raw, candidate_key)
                 or _after_kicker(stripped, candidate_key)}
        return len(kinds)

    def rank(entry):
        index, (kind, form, k) = entry
        return (-support(k), SOURCE_ORDER.index(kind) if kind in SOURCE_ORDER else len(SOURCE_ORDER), index)

    best = min(enumerate(candidates), key=rank)[1]
    return best[1]


def title_affixes(title: str | None) -> list[str]:
    """The leading and trailing segments of a <title>: what may be a site's affix.
    The store counts them per site; one seen on many of a site's pages is an affix."""
    if not title:
        return []
    parts = [p for p in _SEPARATORS.split(" ".join(title.split())) if p.strip()]
    if len(parts) < 2:
        return []
    return list(dict.fromkeys(key(p) for p in (parts[0], parts[-1]) if key(p)))


# --- affixes learned per site ---------------------------------------------------
# The leading and trailing segments of a page's titles are counted per site like body
# blocks (crawler.store.learning), as pseudo-blocks "title affix: <segment>". One that recurs on
# many of a site's pages ("Politik", "Kyiv Wire", "Live") is the site's affix, in any
# language, and the store strips it from the stored title.

AFFIX_PREFIX = "title affix: "


def affix_blocks(titles: list[str | None]) -> list[str]:
    """Pseudo-blocks for the leading and trailing segments of each title."""
    found: dict[str, None] = {}
    for title in titles:
        if not title:
            continue
        parts = [p.strip() for p in _SEPARATORS.split(" ".join(title.split())) if p.strip()]
        if len(parts) >= 2:
            for part in (parts[0], parts[-1]):
                found[AFFIX_PREFIX + part] = None
    return list(found)


def strip_learned_affixes(title: str | None, learned: frozenset[str] | set[str], block_hash) -> str | None:
    """``title`` without the leading and trailing segments the site's learning marked as
    affixes (``learned``: block hashes; ``block_hash``: the learning's hash function)."""
    if not title or not learned:
        return title
    parts = [p.strip() for p in _SEPARATORS.split(title) if p.strip()]
    if len(parts) < 2:
        return title
    start, end = 0, len(parts)
    while end - start > 1 and block_hash(AFFIX_PREFIX + parts[end - 1]) in learned:
        end -= 1
    while end - start > 1 and block_hash(AFFIX_PREFIX + parts[start]) in learned:
        start += 1
    return title if (start, end) == (0, len(parts)) else _span(title, parts[start], parts[end - 1])
