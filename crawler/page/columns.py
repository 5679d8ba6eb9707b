"""The column of stories under a page's heading: what a listing lists.

A section front, a tag, author, archive or search page is a heading (its
``<h1>``: "Politics", a person's name, "Archive") over a run of items, each led
by a headline link (after at most a date or a label) and followed by a teaser,
a date or nothing. An article's heading is over its body, prose that links
little.

The column is found in the page's tree, not in what extraction found, so that it
holds where extraction does not see it: trafilatura drops link-heavy rows, and on
table layouts returns the whole column as one line that matches no element.
What extraction found instead is measured beside it (``unled_words``) and weighed
against it in crawler.page.classify.
"""
from __future__ import annotations

from dataclasses import dataclass

# Counted as the classifier counts: words in any script, links of headline length.
from crawler.page.classify import MIN_ANCHOR_WORDS, count_words, text_key

# Regions of page chrome: their runs of links are the site's navigation and rails, not the
# page's own column. (A logo <h1> in the site header is over the menu, not over stories.)
_CHROME = frozenset(("nav", "aside", "header", "footer"))
_NOT_TEXT = frozenset(("script", "style", "noscript", "template", "select"))
MAX_LEVELS = 3  # the column shares the heading's parent, or a wrapper or two around both
MIN_ITEMS = 8  # a related-stories box beside an article lists up to about 8; a listing's page, 10 or more
ITEM_MAX_WORDS = 100  # a headline and a teaser of a few sentences; longer is a section of prose
LEAD_MAX_WORDS = 12  # what may precede an item's headline link: a date, a section label, a kicker
# Headlines are sentences (short ones in languages of long words); tags and menu items are
# names of 1-3 words.
MIN_MEAN_HEADLINE_WORDS = 4


@dataclass(frozen=True)
class HeadingColumn:
    """A run of headline items near the page's heading, and the region (an ancestor of
    the heading, up to MAX_LEVELS up) that holds both."""

    items: int
    item_words: int  # words of the items: headlines, teasers, dates
    region_words: int  # all words of the region: the items, the heading, a blurb, anything else
    # Words of the extracted lines that no headline link of the page leads: what extraction
    # found that is not an item of some column (this one, a rail of teasers, a "more from" box).
    unled_words: int = 0

    @property
    def other_words(self) -> int:
        """The region's words outside the items: the heading and whatever prose is there."""
        return max(0, self.region_words - self.item_words)


def heading_column(tree, blocks: list[str]) -> HeadingColumn | None:
    """The longest run of headline items in the lowest region around the page's first
    ``<h1>`` that has one; None when there is no heading or no such run near it.
    ``blocks``: the lines extraction found in the page."""
    heading = next(tree.iter("h1"), None)
    region = heading
    runs: dict = {}  # element -> its run, (items, words): the regions nest, each is read once
    for _ in range(MAX_LEVELS):
        region = region.getparent() if region is not None else None
        if region is None or region.tag in ("body", "html"):
            return None
        if region.tag in _CHROME:
            continue
        items, item_words, headlines = _longest_run(region, runs)
        if items:
            return HeadingColumn(items, item_words, count_words(region.text_content()),
                                 _unled_words(tree, blocks, headlines))
    return None


def _unled_words(tree, blocks: list[str], headlines: frozenset[str]) -> int:
    """Words of the lines no headline link of the page leads (after at most LEAD_MAX_WORDS
    words), as in an item: a body's paragraphs, a bio, a cookie notice. Lines that are
    headlines, or a headline and its teaser, are some column's, wherever it is on the page;
    so is a line that holds several of the column's own headlines (the column's region
    dumped as one line with the chrome around it)."""
    by_first_word: dict[str, set[tuple[str, ...]]] = {}
    for link in tree.iter("a"):
        words = tuple(text_key(link.text_content()).split())
        if len(words) >= MIN_ANCHOR_WORDS:
            by_first_word.setdefault(words[0], set()).add(words)
    unled = 0
    for block in blocks:
        words = text_key(block).split()
        if any(tuple(words[at:at + len(link)]) == link
               for at, word in enumerate(words[:LEAD_MAX_WORDS + 1]) for link in by_first_word.get(word, ())):
            continue
        if count_words(block) > ITEM_MAX_WORDS:
            key = f" {' '.join(words)} "
            if sum(f" {headline} " in key for headline in headlines) >= MIN_ITEMS // 2:
                continue
        unled += count_words(block)
    return unled


_NO_RUN: tuple[int, int, frozenset[str]] = (0, 0, frozenset())


def _longest_run(region, runs: dict) -> tuple[int, int, frozenset[str]]:
    """(items, their words, their headlines' text keys) of the element below ``region`` whose
    children are most often headline items, if at least MIN_ITEMS and half its children
    are; else (0, 0, {})."""
    best = _NO_RUN
    stack = [region]
    while stack:
        el = stack.pop()
        if not isinstance(el.tag, str) or el.tag in _CHROME or el.tag in _NOT_TEXT:
            continue
        stack.extend(el)
        if el not in runs:
            runs[el] = _run(el)
        if runs[el][0] > best[0]:
            best = runs[el]
    return best


def _run(el) -> tuple[int, int, frozenset[str]]:
    """(items, their words, their headlines) when ``el``'s children are a column of stories."""
    if len(el) < MIN_ITEMS:  # most elements: ruled out before their children are listed (len counts comments too)
        return _NO_RUN
    children = [child for child in el if isinstance(child.tag, str) and child.tag not in _NOT_TEXT]
    # Most elements have few children, or few with a link at all: a cheap look first.
    if len(children) < MIN_ITEMS or sum(next(child.iter("a"), None) is not None for child in children) < MIN_ITEMS:
        return _NO_RUN
    items = [item for item in map(_item, children) if item]
    if len(items) < MIN_ITEMS or 2 * len(items) < len(children):
        return _NO_RUN
    headline_words = sum(words for _, _, words, _ in items)
    if headline_words < MIN_MEAN_HEADLINE_WORDS * len(items) or len({href for href, _, _, _ in items}) < MIN_ITEMS:
        return _NO_RUN  # a menu, a tag cloud, or one link repeated: not a column of stories
    return len(items), sum(total for _, _, _, total in items), frozenset(key for _, key, _, _ in items)


def _item(el) -> tuple[str, str, int, int] | None:
    """(href, headline's text key, headline words, words) of an element that is a headline item: short, and led
    by a link of a headline's length. In an article's paragraph a link sits inside a
    sentence; a card, a search result or an archive row starts with its headline."""
    if el.tag in _CHROME:
        return None
    for link in el.iter("a"):
        link_text = link.text_content()
        link_words = count_words(link_text)
        if link_words < MIN_ANCHOR_WORDS:
            continue
        text = el.text_content()
        words = count_words(text)
        if words > ITEM_MAX_WORDS:
            return None
        key, link_key = text_key(text), text_key(link_text)
        at = key.find(link_key)
        if at < 0 or count_words(key[:at]) > LEAD_MAX_WORDS:
            return None
        return (link.get("href") or "").strip(), link_key, link_words, words
    return None
