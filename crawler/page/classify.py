"""Is this page an article? A pure decision over what a page declares, what
extraction found in it, and its URL, with a reason.

Only article pages are stored. Home, section, tag, author, about, contact,
search, archive and error pages are listings or static pages; they are crawled
for links but never stored.

The decision reads the article, not the markup. Counting ``<p>`` words, as
this module once did, failed on every site that builds bodies from ``<div>``s,
custom elements or JSON-embedded text. Instead, three kinds of evidence are
weighed together, because each alone fails on some real sites:

- **what extraction found** (the text trafilatura isolates as the main
  content): how long it is, and how much of it is the text of the page's own
  links. A listing's "main content" is a column of linked headlines (and
  teasers); an article's is prose that links little;
- **what the page declares**: JSON-LD types, og:type, article:* meta.
  WordPress declares og:type=article on "About" pages, and many portals
  declare nothing, so a declaration lowers the bar for the text but never
  replaces it;
- **the URL**: only the paths that are never articles (the root, "about",
  "contact", ...) settle the question alone. Listing-looking paths
  (``/video/...``, ``/columnists/...``) also carry articles on real sites,
  so they count only when the page does not declare itself an article.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import courlan
from lxml import etree

from crawler.page.htmlmeta import ARTICLE_TYPES, LISTING_TYPES, jsonld_objects, jsonld_types, meta_content
from dedupe.signature import word_runs

if TYPE_CHECKING:
    from crawler.page.columns import HeadingColumn

# Paths of pages that are never articles, whatever their markup claims.
_STATIC_PATH = re.compile(
    r"^/(?:[a-z]{2}(?:-[a-z]{2})?/)?"
    r"(?:about(?:-us)?|contact(?:-us)?|impressum|imprint|privacy(?:-policy)?|terms(?:-of-(?:use|service))?|"
    r"cookies?(?:-policy)?|legal|advertis(?:e|ing)|careers|jobs|subscribe|newsletters?|donate|support-us|"
    r"login|log-in|register|sign-?in|sign-?up|account|search|archive|sitemap|feed|rss|help|faq|team|staff|"
    r"editorial-(?:policy|standards)|corrections?|masthead)(?:/?$|\.\w+$|\?)",
    re.IGNORECASE,
)
# Listing paths: courlan knows the common ones (tag, category, page/N, author...);
# these are the ones it misses.
_LISTING_PATH = re.compile(
    r"/(?:section|sections|topics?|rubri[ck]|themes?|authors?|people|tags?|category|categories|"
    r"columnists?|series|hub|collections?|latest|most-read|popular|video|videos|photos?|gallery)(?:/[^/]*)?/?$",
    re.IGNORECASE,
)
_HOME_PATH = re.compile(r"/(?:index\.\w+|[a-z]{2}(?:-[a-z]{2})?/?)?", re.IGNORECASE)
# A soft 404 (an error page served with status 200) says so in its title or its heading.
_NOT_FOUND_TITLE = re.compile(
    r"\b(?:404|not found|page not found|error 5\d\d|"
    r"can(?:'|’|no)t (?:find|be found) (?:th(?:at|is|e) )?page|"
    r"page (?:you (?:were|are) looking for|(?:does(?:n't|n’t| not)|no longer) exists?))\b",
    re.IGNORECASE,
)
HEADING_MAX_CHARS = 80  # a longer title or heading is a headline that may quote these words
_WORD = re.compile(r"\w+")

# Thresholds, checked on both extraction corpora and on generated listings of the
# same sites' own navigation (bench/article_detection.py).
MIN_DECLARED_ARTICLE_WORDS = 40  # a short brief that declares itself an article: a few sentences
MIN_ARTICLE_WORDS = 100  # a page that declares nothing must show a real body
LISTING_URL_MAX_WORDS = 300  # a listing-like path (/video/..., /columnists/...) with more prose is an article
# Beside a column of stories under the page's heading, a body at least this long is an article
# with a related-stories column, not a listing (the same figure as above, for another reason).
COLUMN_BESIDE_MAX_WORDS = 300
MAX_LINK_DENSITY = 0.6  # more of the main container's words than this are in links: a listing
AROUND_LINK_DENSITY = 0.35  # ... or this much of the region around it, in a long column
AROUND_MIN_HEADLINES = 20  # of headline links (articles carry related-story boxes of up to ~15)
SHORT_TEXT_MIN_HEADLINES = 8  # ... or a short text with this many headline links around it
# "Short": a blurb is the few sentences above an author's or a topic's headlines, plus the
# page chrome trafilatura keeps with it (a cookie notice, a "Latest from" heading). Undated
# real articles under twice the minimum body sit in regions of at most 26% link words on
# both corpora; the blurbs of generated author pages, at 44-60%.
BLURB_MAX_WORDS = 2 * MIN_ARTICLE_WORDS
DUMP_MAX_LINK_DENSITY = 0.5  # a page dumped whole whose text is mostly link text is a listing
RELIABLE_CONTAINER_SHARE = 0.5
UNPLACED_TEXT_FACTOR = 4  # a page dump needs this many times the words: it holds the page's chrome too
MIN_TRUNCATED_TEASERS = 2  # "... would combine…": a listing's teasers end mid-sentence
TRUNCATED_SHARE = 0.5  # ... most of its lines do; an article may quote a line that trails off
PROSE_WORDS = 8
MIN_CARD_TEASERS = 4  # teasers each in its own card with a headline link: section fronts, search results
CARD_SHARE = 0.5
# Many cards are weighed against the prose of their own container only: trafilatura adds lines
# from elsewhere (a sidebar's joined headline-and-teaser lines) that say nothing of it. Real
# articles carry up to 4 related-story cards beside a short body.
MANY_CARD_TEASERS = 6
CARD_EXTRA_WORDS = 12  # a card's date, byline or section label
MIN_ANCHOR_WORDS = 3  # shorter link texts ("Read more", "Politics") also occur in prose


# Meta tags (property, name or itemprop) that state the page's own publication time.
PUBLISHED_META = ("article:published_time", "og:article:published_time", "datePublished", "pubdate",
                   "publishdate", "publish-date", "dc.date.issued", "sailthru.date", "parsely-pub-date")


@dataclass(frozen=True)
class PageVerdict:
    is_article: bool
    reason: str  # a short slug, used in stats keys: newscrawl/pages/not_article/<reason>


@dataclass(frozen=True)
class PageSignals:
    """What the page itself says about its kind, read from its parsed tree."""

    url: str
    title: str
    heading: str  # the first <h1>'s text
    declares_article: bool  # JSON-LD Article type, og:type=article or article:published_time
    declares_published: bool  # a publication time of its own: article:published_time, JSON-LD datePublished
    declares_listing: bool  # JSON-LD CollectionPage, ItemList, SearchResultsPage ... and no Article type


def page_signals(tree, url: str) -> PageSignals:
    types: set[str] = set()
    dated = False
    for obj in jsonld_objects(tree):
        found = jsonld_types(obj)
        types |= found
        dated = dated or bool(found & ARTICLE_TYPES and obj.get("datePublished"))
    og_type = (meta_content(tree, "og:type") or "").lower()
    declares_article = bool(types & ARTICLE_TYPES) or og_type == "article" or bool(
        meta_content(tree, "article:published_time")
    )
    return PageSignals(
        url=url,
        title=" ".join(" ".join(tree.xpath("//title//text()")).split()),
        heading=next((" ".join(h1.text_content().split()) for h1 in tree.iter("h1")), ""),
        declares_article=declares_article,
        declares_published=dated or bool(meta_content(tree, *PUBLISHED_META)),
        declares_listing=bool(types & LISTING_TYPES) and not types & ARTICLE_TYPES,
    )


def url_verdict(url: str) -> PageVerdict | None:
    """A decision from the URL alone, for the paths that are never articles; None otherwise."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if not parts.query and _HOME_PATH.fullmatch(path):
        return PageVerdict(False, "home")
    if _STATIC_PATH.match(path):
        return PageVerdict(False, "static_page")
    return None


def url_looks_like_listing(url: str) -> bool:
    """Tag, category, author, pagination and section paths."""
    return courlan.is_navigation_page(url) or bool(_LISTING_PATH.search(urlsplit(url).path))


@dataclass(frozen=True)
class BodyShape:
    """The extracted main text, measured in the page it came from.

    ``words``: words of the extracted text. The rest is measured in the
    *container*: the deepest element of the page that holds most of the
    extracted text. ``link_words`` are the container's words inside links, and
    ``headline_links`` its links of MIN_ANCHOR_WORDS words or more. A listing's
    main column is headlines, each a link, with or without teasers; an
    article's body is prose with a few inline links."""

    words: int
    container_words: int
    link_words: int
    headline_links: int
    around_words: int = 0  # the same, in the container's parent: the region around the body
    around_link_words: int = 0
    around_headline_links: int = 0
    truncated_blocks: int = 0  # lines cut off with an ellipsis: teasers of other pages
    prose_blocks: int = 0  # lines of PROSE_WORDS words or more
    card_teasers: int = 0  # prose lines each in a card of its own, with a headline link (crawler.page.classify)
    container_prose: int = 0  # prose lines inside the container
    dumped: bool = False  # no line is an element's text: trafilatura returned the page's text as one line

    @property
    def link_density(self) -> float:
        return self.link_words / self.container_words if self.container_words else 0.0

    @property
    def container_found(self) -> bool:
        """The extracted lines are elements of the page, mostly in one container. When they
        are not, trafilatura fell back to a dump of the page's text (its baseline)."""
        return self.container_words >= RELIABLE_CONTAINER_SHARE * self.words

    def looks_like_listing(self, declared_dated: bool = False) -> bool:
        """Most of the main container is link text, or the region around it is a long
        column of headline links. Judged only when the container was found: when
        trafilatura's lines match few elements of the page, the link counts describe
        the wrong part of it and say nothing."""
        if self.truncated_blocks >= MIN_TRUNCATED_TEASERS and \
                self.truncated_blocks >= TRUNCATED_SHARE * self.prose_blocks:
            return True
        if self.card_teasers >= MIN_CARD_TEASERS and self.card_teasers >= CARD_SHARE * self.prose_blocks:
            return True
        if self.card_teasers >= MANY_CARD_TEASERS and self.card_teasers >= CARD_SHARE * self.container_prose:
            return True
        around = self.around_link_words / self.around_words if self.around_words else 0.0
        if self.dumped:
            # The text is the whole page's: its link share is the text's own.
            return around > DUMP_MAX_LINK_DENSITY
        if not self.container_found:
            return False
        if not declared_dated and self.words < BLURB_MAX_WORDS and around > AROUND_LINK_DENSITY and \
                self.around_headline_links >= SHORT_TEXT_MIN_HEADLINES:
            return True  # a blurb above a column of headlines: an author's or a topic's page
        return self.link_density > MAX_LINK_DENSITY or (
            around > AROUND_LINK_DENSITY and self.around_headline_links >= AROUND_MIN_HEADLINES)


def _heads_a_column(column: HeadingColumn, shape: BodyShape) -> bool:
    """The page's heading is over a column of stories, and extraction found no long text
    beside it. The column fills the heading's region (a blurb at most besides: an author's
    bio, "About 1,240 results"); an article's body, when it shares its heading's region,
    outweighs the related stories there. Extraction may have kept the column's teasers, or
    a cookie notice, a ticker box or a rail of teasers of the template instead of it: all
    that is not a body when it is short. "Beside" is what extraction found beyond the
    heading's region, or what of it is not led by a headline link (the lines of another
    column), whichever is less. (A page that declares itself an article and its date keeps
    the benefit of the doubt: a roundup of linked items is an article and looks like this.)"""
    beside = min(shape.words - column.region_words, column.unled_words)
    return column.other_words < BLURB_MAX_WORDS and column.item_words > column.other_words and \
        beside < COLUMN_BESIDE_MAX_WORDS


_BLOCK_TAGS = frozenset((
    "p", "div", "section", "article", "main", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "td", "tr", "table", "dd", "dt", "dl", "pre", "figcaption", "figure", "header", "footer", "aside", "nav", "form",
))
_CONTAINER_SHARE = 0.7  # the container holds at least this share of the matched text


def body_shape(tree, blocks: list[str]) -> BodyShape:
    keys = {text_key(block) for block in blocks}
    keys.discard("")
    words = sum(count_words(key) for key in keys)
    held, matched, elements = _match(_leaf_blocks(tree), keys)
    if matched < words / 2:
        # trafilatura joined several elements into one line (a whole-page dump, a card's
        # headline and date): look at every element's whole text. Slower (text of nested
        # elements is read once per level), so only when the cheap pass fell short.
        held, matched, elements = _match(tree.iter(etree.Element), keys)
    prose_lines = [block for block in blocks if count_words(block) >= PROSE_WORDS]
    truncated = sum(block.rstrip().endswith(("…", "...")) for block in prose_lines)
    prose = len(prose_lines)
    if not matched:
        # No line of the extraction is an element's text: trafilatura dumped the page as
        # one line. Only the page as a whole can be measured.
        page = tree.find("body") if tree.find("body") is not None else tree
        return BodyShape(words, 0, 0, 0, *_link_counts(page), truncated_blocks=truncated, prose_blocks=prose,
                         dumped=True)
    # The deepest ancestor holding most of the matched text: among those over the share,
    # the one with the fewest words in total.
    container = _smallest_holder([el for el, n in held.items() if n >= _CONTAINER_SHARE * matched])
    # Each element's counts are read once: the paragraphs of one body share their parent, which
    # is often the container, and their grandparent its parent.
    cached_counts: dict = {}
    anchor_words: dict = {}  # words of each link, counted once for all the elements around it

    def link_counts(el) -> tuple[int, int, int]:
        if el not in cached_counts:
            cached_counts[el] = _link_counts(el, anchor_words)
        return cached_counts[el]

    inside = link_counts(container)
    parent = container.getparent()
    around = link_counts(parent) if parent is not None and parent.tag not in ("body", "html") else inside
    own_words = {el: count_words(el.text_content()) for el in elements}  # read once, for both counts below
    cards = sum(_is_card_teaser(el, link_counts, own_words[el]) for el in elements)
    in_container = _within(container, elements)
    container_prose = sum(own_words[el] >= PROSE_WORDS for el in in_container)
    return BodyShape(words, *inside, *around, truncated, prose, cards, container_prose=container_prose)


def _smallest_holder(candidates: list):
    """``min(candidates, key=length of text)``, the first in order among equals, reading few texts.

    Each candidate holds more than half the matched words, so no two are apart: they are
    one chain of ancestors, whose texts grow upwards. Only the deepest's text and those of
    its ancestors up to the first longer one are read (not the whole page's, once per level)."""
    if len(candidates) == 1:
        return candidates[0]
    chain = set(candidates)
    deepest = max(candidates, key=lambda el: sum(1 for ancestor in el.iterancestors() if ancestor in chain))
    length = len(deepest.text_content())
    tied = [deepest]
    for ancestor in deepest.iterancestors():
        if ancestor not in chain or len(ancestor.text_content()) != length:
            break
        tied.append(ancestor)
    return min(tied, key=candidates.index)


def _within(container, elements: list) -> list:
    """The ``elements`` that are ``container`` or inside it, in order."""
    inside = []
    for el in elements:
        if el is container:
            inside.append(el)
            continue
        for ancestor in el.iterancestors():
            if ancestor is container:
                inside.append(el)
                break
    return inside


def _is_card_teaser(el, link_counts=None, own: int | None = None) -> bool:
    """A prose line that sits in a card: an element (its parent or grandparent) holding this
    line, a headline link outside it, and little else (a date, a byline). That is a teaser
    on a listing; an article's paragraphs sit together in its body, with other text."""
    own = count_words(el.text_content()) if own is None else own
    if own < PROSE_WORDS:
        return False
    for card in (el.getparent(), el.getparent().getparent() if el.getparent() is not None else None):
        if card is None or card.tag in ("body", "html"):
            return False
        total, link_words, headline_links = (link_counts or _link_counts)(card)
        if headline_links and link_words >= MIN_ANCHOR_WORDS and total - own - link_words <= CARD_EXTRA_WORDS:
            inside = sum(count_words(a.text_content()) for a in el.iter("a"))
            if link_words - inside >= MIN_ANCHOR_WORDS:
                return True
    return False


def _link_counts(el, anchor_words: dict | None = None) -> tuple[int, int, int]:
    """(words, words in links, links of MIN_ANCHOR_WORDS words or more) of an element.
    ``anchor_words``: words of the links already counted (link -> words), updated."""
    link_words = headline_links = 0
    for a in el.iter("a"):
        if anchor_words is None:
            n = count_words(a.text_content())
        elif (n := anchor_words.get(a)) is None:
            n = anchor_words[a] = count_words(a.text_content())
        link_words += n
        headline_links += n >= MIN_ANCHOR_WORDS
    return count_words(el.text_content()), link_words, headline_links


def _match(elements, keys: set[str]) -> tuple[dict, int, list]:
    """(element -> words of matched blocks at or below it, matched words in all, the
    matched elements)."""
    held: dict = {}
    matched = 0
    found = set()
    matched_elements = []
    longest = max(map(len, keys), default=0)
    openings = {key.split(" ", 1)[0] for key in keys}
    for el in elements:
        text = el.text_content()
        if len(text) > longest and _ascii_word_chars(text) > longest:
            continue  # its key would be longer than any line's: a wrapper of many (not tokenised)
        lowered = text.lower()
        first = _WORD.search(lowered)
        if first is None or first.group() not in openings:
            continue  # its key starts with no line's first word (most elements): not tokenised whole
        key = " ".join(word_runs(lowered))  # text_key
        if key not in keys or key in found:
            continue
        found.add(key)
        matched_elements.append(el)
        n = count_words(key)
        matched += n
        held[el] = held.get(el, 0) + n
        for ancestor in el.iterancestors():
            held[ancestor] = held.get(ancestor, 0) + n
    return held, matched, matched_elements


def _leaf_blocks(tree):
    """Block elements with no block element inside: what trafilatura turns into one
    line each, whatever the tags (<p>, <div>, custom elements are all alike here)."""
    # Which elements hold a block, from one pass over the blocks that lxml filters: not
    # a look at every block's children.
    holders = {block.getparent() for block in tree.iter(*_BLOCK_TAGS)}
    for el in tree.iter(etree.Element):  # elements only: no comments or processing instructions
        tag = el.tag
        if tag in _BLOCK_TAGS:
            if el not in holders:
                yield el
        elif not len(el) and tag not in ("script", "style", "noscript", "template", "head"):
            text = el.text
            parent = el.getparent()
            if text and text.strip() and parent is not None and parent.tag not in _BLOCK_TAGS:
                yield el  # text in a custom element (<story-paragraph>): a block of its own


def classify_page(signals: PageSignals, shape: BodyShape | None,
                  column: HeadingColumn | None = None) -> PageVerdict:
    """The verdict for a page, given the shape of the text extraction found in it
    (None: no text worth the name was found) and the column of headline items under
    its heading (crawler.page.columns; None: there is none)."""
    verdict = url_verdict(signals.url)
    if verdict is not None:
        return verdict
    if any(len(text) < HEADING_MAX_CHARS and _NOT_FOUND_TITLE.search(text) for text in (signals.title, signals.heading)):
        return PageVerdict(False, "error_page")
    if signals.declares_listing:
        return PageVerdict(False, "listing")
    if shape is None:
        return PageVerdict(False, "too_little_text")
    # A brief beside a rail of related headlines is still a brief when the page says it is
    # an article and when it was published; an author's or topic's blurb says neither.
    if shape.looks_like_listing(signals.declares_article and signals.declares_published):
        return PageVerdict(False, "listing")
    if column is not None and not (signals.declares_article and signals.declares_published) and \
            _heads_a_column(column, shape):
        return PageVerdict(False, "listing")
    if signals.declares_article and signals.declares_published:
        # A brief of a few sentences is an article when the page says so and says when it
        # was published: og:type alone is often site-wide template, a date is the page's own.
        if shape.words >= MIN_DECLARED_ARTICLE_WORDS:
            return PageVerdict(True, "article")
        return PageVerdict(False, "too_little_text")
    # (og:type=website says little: real articles declare it too, measured on both corpora.)
    needed = MIN_ARTICLE_WORDS if shape.container_found else MIN_ARTICLE_WORDS * UNPLACED_TEXT_FACTOR
    if shape.words < needed:
        return PageVerdict(False, "too_little_text")
    if url_looks_like_listing(signals.url) and not signals.declares_article and \
            shape.words < LISTING_URL_MAX_WORDS:
        return PageVerdict(False, "listing")
    return PageVerdict(True, "article")


# Scripts written without spaces between words: a run of their characters is one \w+ token.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
CHARS_PER_UNSPACED_WORD = 2  # Chinese and Japanese words average about two characters


COLLAPSE_MIN_CHARS = 200
MAX_WORD_CHARS = 24  # a longer run of letters in a spaced script is not a word (an alphabet, a hash, binary noise)


def count_words(text: str) -> int:
    """Words, in any script: Chinese, Japanese and Thai text counts by its characters.
    In spaced scripts a word is a whole \\w+ run of at most MAX_WORD_CHARS characters."""
    if text.isascii():  # no unspaced script; the words split in C (word_runs)
        tokens = word_runs(text)
        if not tokens:
            return 0
        unspaced = False
    else:
        if len(text) > COLLAPSE_MIN_CHARS:
            # An element's text_content is mostly markup indentation: the regex steps through every
            # character, str.split skips whitespace in C. Words are unchanged (no space is a \w).
            text = " ".join(text.split())
        tokens = word_runs(text)
        if not tokens:
            return 0
        unspaced = bool(_UNSPACED.search(text))
    if not unspaced:
        # The common case (this runs on every link and block of every page): one plain \w+
        # scan and a C-level length check, twice as fast as a regex that bounds each run's
        # length with lookarounds, which is what it counts.
        lengths = list(map(len, tokens))
        if max(lengths) <= MAX_WORD_CHARS:
            return len(tokens)
        # A page's text with one overlong run (a URL's path, a hash): counted in C as well,
        # not in a generator over every token (whole pages are counted, link by link).
        return len(tokens) - sum(map(MAX_WORD_CHARS.__lt__, lengths))
    count = 0
    for token in tokens:
        unspaced = len(_UNSPACED.findall(token))
        if unspaced:
            count += max(1, unspaced // CHARS_PER_UNSPACED_WORD)
        elif len(token) <= MAX_WORD_CHARS:
            count += 1
    return count


_ASCII_WORD_BYTES = (string.ascii_letters + string.digits + "_").encode()


def _ascii_word_chars(text: str) -> int:
    """How many of ``text``'s characters are ASCII letters, digits or _: each is one character
    of its text_key (lower-casing keeps them), so at most its length. Counted by bytes.translate
    in C, which is many times faster than the tokenising regex."""
    encoded = text.encode("utf-8", "ignore")  # other characters: bytes of 0x80 and up only
    return len(encoded) - len(encoded.translate(None, _ASCII_WORD_BYTES))


def text_key(text: str) -> str:
    """Case- and punctuation-insensitive words, to compare a block with link texts."""
    return " ".join(word_runs(text.lower()))
