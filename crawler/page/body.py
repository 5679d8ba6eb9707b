"""The article body: trafilatura, then block-level filters on its XML body.

trafilatura's default mode has the best recall; its ``favor_precision`` mode
trims harder at the start and end of the article but also drops real
sub-heads and tables in the middle. We run both (precision mode only on the
element that holds the first run's body: see _body_shell) and remove, block by block:

- a short block outside the span precision mode kept (teaser standfirsts
  above the article, newsletter boxes and "more stories" rails below it);
- the headline, re-emitted as the first body line;
- list items that are whole links, in lists that are mostly links (teaser lists);
- ALL-CAPS lines that are links ("RELATED STORY" promos);
- bare image URLs, the page's own URL and ISO timestamps (residue of JSON blobs);
- loose text sitting directly in wrapper divs (widgets kept wholesale);
- runs of three or more blocks that are each a whole link's text (menus);
- the menu and footer lines of a whole-page dump (trafilatura's last resort).

And three additions: when the body is split over sibling containers of one tag and
class, trafilatura keeps only the first, so the paragraphs of the others are added;
quoted social posts it dropped with their "social" wrapper are put back after the
paragraph before them; and the paragraphs and sub-heads it skipped between two body
paragraphs of one container are put back in place (see _skipped_prose).

Each rule was kept only if it improved F1 on both halves of the public
benchmark (even and odd page ids); bench/extraction_quality.py measures it.
Working on whole blocks, then serialising with trafilatura's own xmltotxt,
keeps the output identical to trafilatura's wherever no rule fires.
"""
from __future__ import annotations

import copy
import functools
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field

import trafilatura
from lxml import etree
from trafilatura.settings import Extractor
from trafilatura.utils import normalize_unicode
from trafilatura.xml import xmltotxt

from crawler.page.boilerplate import Removal, is_links_box_heading
from dedupe.signature import word_runs

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_TITLE_SPLIT = re.compile(r"\s+[|\-–—:•·»]\s+")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(t[\d:.+\-z]+)?$", re.I)
_URL_ONLY = re.compile(r"^\S*(https?://|www\.)\S*$", re.I)
_IMG_URL = re.compile(r"\.(jpe?g|png|gif|webp|svg)(\?\S*)?$", re.I)
_LEAF_TAGS = {"p", "head", "item", "quote", "code", "table"}
_CLICK_HERE = re.compile(r"\bclick(?:ing)? here\b", re.I)
_PROMO_WORDS = re.compile(r"\b(?:subscri\w*|newsletter|apps?|issues|delivered|sign up|download (?:our|the) app)\b", re.I)
EDGE_MAX_CHARS = 200  # only blocks shorter than this are dropped on precision-mode evidence
# A precision run that keeps less than this share of the default text has collapsed (another
# container, a fragment): on both corpora such runs keep 0-10% and sound ones 50% or more.
PRECISION_COLLAPSE_SHARE = 0.3


@dataclass
class Body:
    text: str
    document: object | None  # trafilatura's Document
    removed: list[Removal] = field(default_factory=list)


def _norm(text: str) -> str:
    """Comparison key: lower-case word tokens only (quotes, dashes and punctuation vary by site)."""
    text = text or ""
    if not text.isascii():  # ASCII is NFKC-normal already: this runs for every link on the page
        text = unicodedata.normalize("NFKC", text)
    return " ".join(word_runs(text.lower()))


def _text(el) -> str:
    return _WS.sub(" ", "".join(el.itertext())).strip()


def title_keys(tree, extra: list[str]) -> set[str]:
    """Every form the headline takes on the page: <title> and its longest part, og/twitter
    titles, the first <h1> and any other that states the headline. Other <h1>s are kept:
    some templates (Medium) mark the article's sub-heads up as <h1>."""
    keys = {_norm(t) for t in extra if t}
    for t in tree.xpath("//head/title/text()"):
        keys.add(_norm(t))
        parts = _TITLE_SPLIT.split(t)
        if len(parts) > 1:
            keys.add(_norm(max(parts, key=len)))
    for name in ("og:title", "twitter:title"):
        keys.update(_norm(c) for c in tree.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content'))
    keys.discard("")
    h1_keys = [key for key in (_norm(h.text_content()) for h in tree.xpath("//h1")) if key]
    if h1_keys:
        keys.add(h1_keys[0])  # the first is the headline on most pages, reworded or not
    keys.update(key for key in h1_keys[1:] if any(_states(key, k) for k in keys))
    return keys


def _states(h1: str, headline: str) -> bool:
    """Whether an <h1> is the headline, give or take an affix: one holds the other,
    and the shorter is at least half the longer."""
    short, long_ = sorted((h1, headline), key=len)
    return short in long_ and 2 * len(short) >= len(long_)


def _blocks(body):
    """Deletable units in document order. trafilatura keeps nested <div> wrappers, so descend."""
    for child in body:
        if not isinstance(child.tag, str):
            continue
        if child.tag in _LEAF_TAGS:
            yield child
        else:
            yield from _blocks(child)


def _drop(el) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():  # never lose text that trails the element
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)
    if parent.tag == "list" and not len(parent) and parent.getparent() is not None:
        _drop(parent)


def _strip_stray_text(body) -> bool:
    """Text directly inside a wrapper <div> (not in any paragraph, heading or list)
    comes from containers trafilatura kept wholesale: hidden duplicates, widget labels.
    Returns whether there was any."""
    stripped = False
    for el in body.iter():
        if not isinstance(el.tag, str) or el is body or el.tag in _LEAF_TAGS or el.tag in ("list", "lb", "hi", "ref", "del"):
            continue
        if any(a.tag in _LEAF_TAGS or a.tag == "list" for a in el.iterancestors()):
            continue
        if el.text and el.text.strip():
            el.text = None
            stripped = True
        for child in el:
            if child.tail and child.tail.strip() and child.tag not in ("hi", "ref", "lb"):
                child.tail = None
                stripped = True
    return stripped


def _is_caps_line(text: str) -> bool:
    if text != text.upper():  # any lower-case letter: the common case, decided in C
        return False
    # Upper-case letters, not just no lower-case ones: CJK and Arabic have no case at all.
    return sum(c.isupper() for c in text) >= 12


# Slideshow captions kept as body: "1/50 Caption", "2 of 50 Caption", numbered against one total.
_SLIDE_COUNTER = re.compile(r"^(?:-\s*)?(\d{1,3})\s*(?:/|of|von|sur|de|из)\s*(\d{1,3})\b", re.I)
SLIDES_MIN = 3


def _mark_slideshows(texts: list[str], reasons: list[str | None]) -> None:
    """A gallery that trafilatura kept: SLIDES_MIN or more blocks numbered n/N against the
    same total N. An article's own numbered points do not carry a total."""
    by_total: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        match = _SLIDE_COUNTER.match(text)
        if match and int(match.group(1)) <= int(match.group(2)):
            by_total.setdefault(match.group(2), []).append(i)
    for indexes in by_total.values():
        if len(indexes) >= SLIDES_MIN:
            for i in indexes:
                if reasons[i] is None:
                    reasons[i] = "structure:slideshow"


LINK_RUN_MIN = 3  # consecutive link-text blocks that make a menu, not prose
LINK_RUN_MAX_CHARS = 80


def _mark_link_runs(keys: list[str], texts: list[str], anchors: set[str], reasons: list[str | None]) -> None:
    """Navigation that trafilatura kept as paragraphs: runs of short blocks that are each
    the whole text of a link. Article prose is almost never a string of link labels."""
    run: list[int] = []
    for i, (key, text) in enumerate([*zip(keys, texts), ("", "")]):
        if key and key in anchors and len(text) <= LINK_RUN_MAX_CHARS and reasons[i] is None:
            run.append(i)
            continue
        if len(run) >= LINK_RUN_MIN:
            for j in run:
                reasons[j] = "structure:link_run"
        run = []


DUMP_MIN_LINES = 15  # a single block this many lines long is a page dump, not a paragraph
DUMP_SHORT_WORDS = 4
DUMP_KEEP_WORDS = 8


DUMP_LINK_SHARE = 0.3  # of its short lines that must be link labels: menus are links, code and tables are not


def _trim_page_dump(el, anchors: set[str] | None = None) -> str | None:
    """When trafilatura finds no article container it falls back to the whole page's
    text in one block: menus, archive links, footers, one line each. Keep the lines
    that read as prose; return what was removed, or None when the block is not a dump.

    With ``anchors`` (the page's link texts), the short lines must be links in good
    part: a preformatted document (an RFC, a code listing) is short lines of body."""
    if len(el) or not el.text:
        return None
    lines = [line.strip() for line in el.text.splitlines() if line.strip()]
    if len(lines) < DUMP_MIN_LINES:
        return None
    short_lines = [line for line in lines if len(line.split()) <= DUMP_SHORT_WORDS]
    if len(short_lines) < 0.7 * len(lines):
        return None
    if anchors is not None and sum(_norm(line) in anchors for line in short_lines) < DUMP_LINK_SHARE * len(short_lines):
        return None
    kept = [line for line in lines if len(line.split()) >= DUMP_KEEP_WORDS]
    if not kept:
        return None
    el.text = "\n".join(kept)
    return "\n".join(line for line in lines if len(line.split()) < DUMP_KEEP_WORDS)


def _has_short_edge(texts: list[str], short: list[int]) -> bool:
    """Whether one of the ``short`` blocks sits before the first or after the last long one:
    only such blocks can be dropped as edges, so without one the precision pass is moot."""
    if not short:
        return False
    long_blocks = [i for i, t in enumerate(texts) if len(t) >= EDGE_MAX_CHARS]
    if not long_blocks:
        return True
    return any(i < long_blocks[0] or i > long_blocks[-1] for i in short)


CHUNK_MIN_CHARS = 80  # paragraphs of a continuation chunk shorter than this are not taken
CHUNK_LEVELS = 3  # how far above the last paragraph to look for the chunk's container


CHUNK_MAX_LINK_DENSITY = 0.5  # a paragraph mostly made of link text is a teaser or a list of links


def _link_density(el) -> float:
    text = len(_WS.sub(" ", el.text_content()).strip())
    if not text:
        return 1.0
    linked = sum(len(_WS.sub(" ", a.text_content()).strip()) for a in el.iter("a"))
    return linked / text


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def _is_hidden(el) -> bool:
    """Hidden from the reader by its own markup: a template's spare cards and carousels."""
    return (el.get("hidden") is not None or el.get("aria-hidden") == "true"
            or bool(_HIDDEN_STYLE.search(el.get("style") or "")))


def _hidden_within(el, container) -> bool:
    """Whether ``el``, or an ancestor of it inside ``container``, is hidden."""
    while el is not None and el is not container:
        if _is_hidden(el):
            return True
        el = el.getparent()
    return False


def _is_teaser_card(container) -> bool:
    """A sibling container that is a story card, not a body chunk: a linked headline
    (a heading holding a link, or a link holding a heading), or mostly link text,
    or one the page hides (a body chunk is shown to the reader)."""
    if _is_hidden(container):
        return True
    for heading in container.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        if any(True for _ in heading.iter("a")) or any(a.tag == "a" for a in heading.iterancestors()):
            return True
    return _link_density(container) >= CHUNK_MAX_LINK_DENSITY


def _continuation_paragraphs(tree, keys: list[str], texts: list[str],
                             paragraphs: list[tuple[object, str]] | None = None,
                             paragraph_keys: dict | None = None) -> list[str]:
    """Paragraphs of an article body split over sibling containers.

    Some templates (Condé Nast's "article__chunks", the NYT's "StoryBodyCompanionColumn")
    cut one body into several containers of the same tag and class, with ads
    between them. trafilatura takes the first container that matches its body
    rules, so the rest of the article is lost. From the last extracted paragraph,
    look up to ``CHUNK_LEVELS`` ancestors for an element whose later siblings share
    its tag and class, and return their paragraphs that are not in the body yet.
    ``paragraph_keys``: the comparison key of each of the page's long <p>, when the caller has them.
    """
    known = {key for key, text in zip(keys, texts) if len(text) >= CHUNK_MIN_CHARS}
    if not known:
        return []
    last = None
    if paragraphs is None:
        paragraphs = [(p, p.text_content()) for p in tree.iter("p")]
    for el, text in paragraphs:
        if (paragraph_keys.get(el) if paragraph_keys is not None else _norm(text)) in known:
            last = el
    if last is None:
        return []
    seen = set(keys)
    ancestor = last.getparent()
    for _ in range(CHUNK_LEVELS):
        if ancestor is None or ancestor.getparent() is None:
            break
        cls = (ancestor.get("class") or "").strip()
        if cls:
            siblings = [s for s in ancestor.itersiblings() if s.tag == ancestor.tag and (s.get("class") or "").strip() == cls]
            found = []
            for sibling in siblings:
                if _is_teaser_card(sibling):
                    continue
                for p in sibling.iter("p"):
                    if _hidden_within(p, sibling):
                        continue
                    text = _WS.sub(" ", p.text_content()).strip()
                    key = _norm(text)
                    if len(text) >= CHUNK_MIN_CHARS and key not in seen and _link_density(p) < CHUNK_MAX_LINK_DENSITY:
                        seen.add(key)
                        found.append(text)
            if found:
                return found
        ancestor = ancestor.getparent()
    return []


def _precise_span(keys: list[str], precise: str) -> tuple[int, int]:
    """(first, last) index of the blocks whose key is in the precision pass's text
    (``len(keys), -1`` if none). Searched from each end: on a page the two passes mostly
    agree on, a few substring tests each, instead of one per block."""
    def found(key: str) -> bool:
        return bool(key) and f" {key} " in precise

    first = next((i for i, key in enumerate(keys) if found(key)), None)
    if first is None:
        return len(keys), -1
    last = next(i for i in range(len(keys) - 1, first - 1, -1) if found(keys[i]))
    return first, last


# Elements that hold one block of trafilatura's output, to find that output in the page.
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "th", "dd", "dt", "figcaption")
SNIPPET_CHARS = (40, 12)  # a block's opening, then a shorter one (an inline link or <b> may cut the first)
_TEXT_HOLDING = etree.XPath("//body//text()[not(parent::script or parent::style)][contains(normalize-space(.), $snippet)]")


def _locate(tree, elements, text: str, last: bool = False):
    """The element of the page that holds ``text``, a block of trafilatura's output: the first
    such element, or with ``last`` the last one. A block element with that very text, else the
    element whose own text holds the block's opening (one XPath, evaluated by libxml2)."""
    key = None
    for el in reversed(elements) if last else elements:
        raw = el.text_content()
        if abs(len(raw) - len(text)) > len(raw) // 2 + 20:  # most elements: ruled out by length alone
            continue
        if _WS.sub(" ", raw).strip() == text:
            return el
        key = key if key is not None else _norm(text)
        if key and _norm(raw) == key:
            return el
    for chars in SNIPPET_CHARS:
        snippet = text[:chars].strip()
        if len(snippet) < 4:
            break
        found = _TEXT_HOLDING(tree, snippet=snippet)
        if found:
            return (found[-1] if last else found[0]).getparent()
    return None


@contextmanager
def _body_shell(tree, texts: list[str]):
    """The part of the page that holds the first run's body, for the precision pass.

    The precision pass only has to say where the article starts and ends inside what the
    first run kept; run on the whole page it costs as much as the first run. Here it runs on
    the smallest element holding the first and last blocks (everything between them in
    document order is inside it), under empty copies of its ancestors, so that trafilatura's
    container rules (an <article>, a "post-content" class) still see where it sits. When
    either end cannot be found in the page, the whole page.

    The element is lent, not copied: it is moved under the shell for the ``with`` block and
    put back in its place (its tail with it) after. trafilatura copies the tree it is given
    before it prunes anything, so one copy is enough."""
    texts = [text for text in texts if text]
    container = _shell_container(tree, texts) if len(texts) >= 2 else None
    if container is None:
        yield tree
        return
    root = parent = None
    for ancestor in reversed(list(container.iterancestors())):
        shell = tree.makeelement(ancestor.tag, dict(ancestor.attrib))  # an lxml.html element, as trafilatura expects
        if parent is None:
            root = shell
        else:
            parent.append(shell)
        parent = shell
    home = container.getparent()
    index = home.index(container)
    parent.append(container)
    try:
        yield root
    finally:
        home.insert(index, container)


def _shell_container(tree, texts: list[str]):
    """The smallest element holding the first and last of ``texts`` (None: not found, or
    only the whole page or body holds them)."""
    elements = list(tree.iter(*_BLOCK_TAGS))
    first = _locate(tree, elements, texts[0])
    last = _locate(tree, elements, texts[-1], last=True)
    if first is None or last is None:
        return None
    last_chain = set(last.iterancestors())
    last_chain.add(last)
    container = first if first in last_chain else next((a for a in first.iterancestors() if a in last_chain), None)
    if container is None or container.tag in ("html", "body", "head"):
        return None
    return container


# A rail of other stories that closes the body ("Other Opinion Columns", "More from the desk"):
# each card a headline linking elsewhere, with at most a short standfirst under it.
CARD_RAIL_MIN = 2
CARD_STANDFIRST_MAX_CHARS = 300
CARD_RAIL_TITLE_MAX_CHARS = 80


def _is_linked_heading(tree, elements, text: str) -> bool:
    """Whether the page's heading with this text is mostly a link: a story card's headline."""
    el = _locate(tree, elements, text)
    if el is None or el.tag not in ("h1", "h2", "h3", "h4", "h5", "h6"):
        return False
    if any(a.tag == "a" and a.get("href") for a in el.iterancestors()):
        return True
    linked = sum(len(_text(a)) for a in el.iter("a") if a.get("href"))
    return 2 * linked >= len(_text(el))


def _mark_story_cards(tree, blocks: list, texts: list[str], reasons: list[str | None]) -> None:
    """Story cards at the end of the body, and the rail's title above them. An article's
    sub-heads may be links too (a product, a place), but they head long sections, and a
    run of them with no more than a line under each, closing the body and shorter than
    what comes before it, is a rail."""
    pending = [i for i, reason in enumerate(reasons) if reason is None and texts[i]]
    cards: list[int] = []
    elements = None
    while pending:
        card = [pending.pop()]
        if blocks[card[0]].tag != "head" and len(texts[card[0]]) < CARD_STANDFIRST_MAX_CHARS and pending:
            card.append(pending.pop())
        heading = card[-1]
        if blocks[heading].tag != "head":
            pending.extend(reversed(card))
            break
        elements = elements if elements is not None else list(tree.iter(*_BLOCK_TAGS))
        if not _is_linked_heading(tree, elements, texts[heading]):
            pending.extend(reversed(card))
            break
        cards.extend(card)
    if len([i for i in cards if blocks[i].tag == "head"]) < CARD_RAIL_MIN:
        return
    # A rail is an appendix to the article: when the "cards" hold as much text as everything
    # above them, they are the article's own items (a list of products or places).
    if sum(len(texts[i]) for i in cards) >= sum(len(texts[i]) for i in pending):
        return
    for i in cards:
        reasons[i] = "structure:story_card"
    if pending and blocks[pending[-1]].tag == "head" and len(texts[pending[-1]]) <= CARD_RAIL_TITLE_MAX_CHARS:
        reasons[pending[-1]] = "structure:story_card"


LINKS_BOX_ITEM_MAX_CHARS = 200
LINK_LABEL_SHARE = 0.7  # of a block's words that one link's text must hold: "<headline> [VIDEO]"


def _is_link_label(key: str, anchors: set[str]) -> bool:
    """Whether a block (its comparison key) is one link's text, give or take a short label."""
    return key in anchors or any(key.startswith(a) and len(a) >= LINK_LABEL_SHARE * len(key) for a in anchors)


def _drop_links_boxes(text: str, anchors: set[str]) -> tuple[str, list[Removal]]:
    """The links under a box's heading ("Don't miss", "Related stories"): the generic rules take
    the heading, and the lines right after it that are each a link's text go with it. Lines,
    not blocks: such a box is often one paragraph of links split by line breaks."""
    lines = text.split("\n")
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if not is_links_box_heading(line.strip()):
            continue
        j = i + 1
        while j < len(lines) and len(lines[j]) <= LINKS_BOX_ITEM_MAX_CHARS:
            key = _norm(lines[j])
            if not key or not _is_link_label(key, anchors):
                break
            drop.add(j)
            j += 1
    if not drop:
        return text, []
    removed = [Removal("structure:links_box", lines[j]) for j in sorted(drop)]
    return "\n".join(line for j, line in enumerate(lines) if j not in drop), removed


# A pop-up card written into a paragraph (a person's card with their latest headlines, shown
# on hover): an element inside a <p> that is nothing but links, at least this many, side by
# side with only spaces between them (links a sentence lists have commas and words between
# them), in a paragraph with prose of its own around it.
INLINE_CARD_MIN_LINKS = 3
INLINE_CARD_PROSE_CHARS = 40  # of the paragraph's own text outside the card
_CARD_GLUE = re.compile(r"[\s|•·]*")
_LINKED_PARAGRAPHS = etree.XPath("//p[count(.//a[@href]) >= $n]")


def _is_inline_card(el, paragraph_chars: int) -> bool:
    links = [a for a in el.iter("a") if a.get("href")]
    if len(links) < INLINE_CARD_MIN_LINKS:
        return False
    if paragraph_chars - len(_text(el)) < INLINE_CARD_PROSE_CHARS:
        return False
    # The card's own text outside its links: the text of each element not in a link, and the
    # tail of each element whose parent is not in one (a tail belongs to the parent).
    in_links = {node for a in links for node in a.iter()}
    glue = [el.text or ""]
    for node in el.iterdescendants():
        if node not in in_links:
            glue.append(node.text or "")
        if node.getparent() not in in_links:
            glue.append(node.tail or "")
    return all(_CARD_GLUE.fullmatch(part) for part in glue)


def _inline_cards(tree) -> list:
    """The innermost elements of the page's paragraphs that are pop-up cards (see above)."""
    cards = []
    for p in _LINKED_PARAGRAPHS(tree, n=INLINE_CARD_MIN_LINKS):  # most paragraphs are ruled out in libxml2
        links = [a for a in p.iter("a") if a.get("href")]
        paragraph_chars = len(_text(p))
        inside: dict = {}
        for a in links:
            for el in a.iterancestors():
                if el is p:
                    break
                inside[el] = None
        qualifying = [el for el in inside if _is_inline_card(el, paragraph_chars)]
        cards.extend(el for el in qualifying
                     if not any(other is not el and el in other.iterancestors() for other in qualifying))
    return cards


@contextmanager
def _inline_cards_lent(tree):
    """The page without its paragraphs' pop-up cards for the ``with`` block: trafilatura joins a
    card's text into the sentence around it. Each card is swapped for an empty stand-in that
    keeps its tail, and put back after, so the tree is left as it was."""
    swapped = []
    for card in _inline_cards(tree):
        stand_in = tree.makeelement(card.tag, {})
        stand_in.tail = card.tail
        card.getparent().replace(card, stand_in)
        swapped.append((stand_in, card))
    try:
        yield
    finally:
        for stand_in, card in reversed(swapped):
            stand_in.getparent().replace(stand_in, card)


# Prose the first pass skipped between two of the body's own paragraphs, in their container:
# trafilatura drops a paragraph whose generated id or class happens to hold a boilerplate word
# ("NavzzU" reads as navigation), and text written straight into the container after a figure.
# Code, CSS and escaped markup that a template leaves in a <p> are not prose.
_MARKUP_RESIDUE = re.compile(r"&(?:amp;)*lt;|</?[a-z][\w-]*[\s>/]|[{}]", re.I)
SKIPPED_SHARE_KNOWN = 0.5  # of a paragraph's word trigrams already in the body: a copy, not a gap
_SUBHEAD_TAGS = {"h2", "h3", "h4", "h5", "h6"}
SUBHEAD_MAX_CHARS = 120


def _word_trigrams(text: str) -> set[tuple[str, ...]]:
    words = _norm(text.replace("\xad", "")).split()  # soft hyphens split words in _norm
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def _skipped_prose(paragraph_keys: dict, blocks: list, keys: list[str], body) -> list[tuple[object, str, str]]:
    """Paragraphs (and text after a child element) and sub-heads that sit between two paragraphs
    of the body in the container holding both: (the body block each one follows, its text, its
    tag in trafilatura's XML). ``paragraph_keys``: the page's long <p> and their keys;
    ``blocks``, ``keys``: the first pass's blocks."""
    by_key = {}
    for block, key in zip(blocks, keys):
        if key:
            by_key.setdefault(key, block)
    in_body = {p: by_key[key] for p, key in paragraph_keys.items() if key in by_key}
    containers = {p.getparent(): None for p in in_body if p.getparent() is not None}
    known: set | None = None
    found = []
    for container in containers:
        children = list(container)
        body_children = [i for i, child in enumerate(children) if child in in_body]
        if len(body_children) < 2:
            continue
        anchor = None
        for child in children[body_children[0]:body_children[-1]]:
            if child in in_body:
                anchor = in_body[child]
            elif (key := _norm(child.text_content())) in by_key:  # a sub-head, a short paragraph
                anchor = by_key[key]
            elif child.tag == "p" and _link_density(child) < CHUNK_MAX_LINK_DENSITY \
                    and not _hidden_within(child, container) and next(child.iter("script", "style"), None) is None:
                found.append((anchor, _WS.sub(" ", child.text_content()).strip(), "p"))
            elif child.tag in _SUBHEAD_TAGS and key and len(key) <= SUBHEAD_MAX_CHARS and not _is_hidden(child) \
                    and next(child.iter("a"), None) is None:
                # A sub-head: when trafilatura finds no article container it recovers the
                # page's paragraphs only, and the article's sub-heads go (a linked one is a card's).
                found.append((anchor, _WS.sub(" ", child.text_content()).strip(), "head"))
            if child.tail and len(child.tail.strip()) >= CHUNK_MIN_CHARS:
                found.append((anchor, _WS.sub(" ", child.tail).strip(), "p"))
    kept = []
    for anchor, text, tag in found:
        if tag == "head":
            kept.append((anchor, text, tag))
            continue
        if len(text) < CHUNK_MIN_CHARS or _MARKUP_RESIDUE.search(text):
            continue
        if known is None:
            known = _word_trigrams(" ".join(body.itertext()))  # tails too: text between blocks
        trigrams = _word_trigrams(text)
        if trigrams and len(trigrams & known) < SKIPPED_SHARE_KNOWN * len(trigrams):
            kept.append((anchor, text, tag))
            known |= trigrams
    return kept


# A post from a social network quoted in the story, as the network's embed code writes it: a
# <blockquote> of one of these classes, which the script that renders it looks for. trafilatura
# drops it with its wrapper ("social-media-embed", "article-tweet"): a class that reads as share
# buttons. The quoted post is what the story reports, and the article-extraction gold keeps it.
_EMBED_CLASSES = {"twitter-tweet", "instagram-media", "tiktok-embed"}
EMBED_ANCHOR_LOOKBACK = 5  # paragraphs before the post searched for one the body holds


def _embedded_posts(quotes: list, body) -> list[tuple[object, str]]:
    """Quoted posts the first pass left out, each with the body block it follows: the body's
    copy of the nearest paragraph before it on the page, in a container that holds the post.
    A post with no such paragraph is not in the article's flow (a sidebar's feed): left out."""
    posts = [bq for bq in quotes if _EMBED_CLASSES.intersection((bq.get("class") or "").split())]
    if not posts:
        return []
    by_key = {}
    for block in _blocks(body):
        by_key.setdefault(_norm(_text(block)), block)
    by_key.pop("", None)
    body_words = f" {' '.join(by_key)} "
    found = []
    for post in posts:
        text = _text(post)
        # The post's own words (its first paragraph, without the "— name (@handle) date" line):
        # the body may hold them split over blocks, when the first pass kept the post.
        own = next(post.iter("p"), post)
        key = _norm(_text(own))
        if not key or f" {key} " in body_words or _hidden_within(post, None):
            continue
        for paragraph in post.xpath("preceding::p[position() <= $n]", n=EMBED_ANCHOR_LOOKBACK)[::-1]:
            block = by_key.get(_norm(paragraph.text_content()))
            # In the paragraph's own container: not a feed in a sidebar after the article.
            if block is not None and paragraph.getparent() in set(post.iterancestors()):
                found.append((block, text))
                body_words += f"{key} "
                break
    return found


# Fast mode has no fallback of its own: on some pages it picks a rail of related headlines or
# only the lead. When its text is this short beside what the page declares (JSON-LD articleBody
# or wordCount) or beside the page's own long paragraphs, default mode is run as well...
FAST_SHORT_OF_DECLARED = 0.5
FAST_SHORT_OF_PARAGRAPHS = 0.15
# ...and its text is taken when it is this many times longer.
FAST_FALLBACK_GAIN = 2.0


def _paragraph_chars(paragraphs: list[tuple[object, str]]) -> int:
    """Characters in the page's long <p> paragraphs: a cheap bound on how much prose it has."""
    lengths = (len(_WS.sub(" ", text).strip()) for _, text in paragraphs)
    return sum(length for length in lengths if length >= CHUNK_MIN_CHARS)


def _fast_result_is_short(paragraphs: list[tuple[object, str]], chars: int, declared_chars: int | None) -> bool:
    if declared_chars and chars < FAST_SHORT_OF_DECLARED * declared_chars:
        return True
    return chars < FAST_SHORT_OF_PARAGRAPHS * _paragraph_chars(paragraphs)


def _serialised(doc) -> str:
    """A run's text as xmltotxt gives it: bare_extraction has serialised its body already."""
    if doc is None or doc.body is None:
        return ""
    return doc.text if doc.text is not None else xmltotxt(doc.body, False)


@functools.lru_cache(maxsize=None)
def _options_template(include_tables: bool, fast: bool, favor_precision: bool) -> Extractor:
    return Extractor(output_format="python", comments=False, tables=include_tables, fast=fast,
                     precision=favor_precision)


def _bare_extraction(tree, url: str, *, include_tables: bool, fast: bool = False, favor_precision: bool = False):
    """``trafilatura.bare_extraction(tree, url=url, include_comments=False, ...)`` with options
    built once: bare_extraction otherwise builds them on every call, reading nine values from
    its ConfigParser (0.4 ms, twice a page). trafilatura copies options before changing any.
    The mode is passed by name as well (ignored when ``options`` is given): it says what runs."""
    options = copy.copy(_options_template(include_tables, fast, favor_precision))
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")  # as Extractor sets it
    return trafilatura.bare_extraction(tree, url=url, include_comments=False, include_tables=include_tables,
                                       fast=fast, favor_precision=favor_precision, options=options)


def extract_body(tree, url: str, titles: set[str], *, agreement: bool = True, include_tables: bool = True,
                 fallback_extractors: bool = False, declared_chars: int | None = None) -> Body:
    """The article body of ``tree``: see _filtered_body. Every pass reads the page without the
    pop-up cards written into its paragraphs (see _inline_cards); the tree is left as it was."""
    with _inline_cards_lent(tree):
        return _filtered_body(tree, url, titles, agreement=agreement, include_tables=include_tables,
                              fallback_extractors=fallback_extractors, declared_chars=declared_chars)


def _filtered_body(tree, url: str, titles: set[str], *, agreement: bool = True, include_tables: bool = True,
                   fallback_extractors: bool = False, declared_chars: int | None = None) -> Body:
    """Run trafilatura on ``tree`` (it works on a copy) and filter its blocks.

    ``fallback_extractors`` lets trafilatura compare its result with readability and
    justext (its default). On the public benchmark that costs 55% more CPU per pass, and
    plain trafilatura scores F1 0.9599 with it against 0.9624 without, so it is off here,
    except as a fallback when the fast result is far shorter than the article the page
    declares (``declared_chars``: from JSON-LD) or than its long paragraphs.
    trafilatura's own metadata pass is not run either: extract.py reads the metadata."""
    anchors = {_norm(a.text_content()) for a in tree.iter("a")}
    anchors.discard("")
    fast = not fallback_extractors
    doc = _bare_extraction(tree, url, include_tables=include_tables, fast=fast)
    # The page's <p>, read once, and its <blockquote> (quoted posts), in the same walk.
    paragraphs, quotes = [], []
    for el in tree.iter("p", "blockquote"):
        if el.tag == "p":
            paragraphs.append((el, el.text_content()))
        else:
            quotes.append(el)
    if fast:
        chars = len(_serialised(doc))
        if _fast_result_is_short(paragraphs, chars, declared_chars):
            full = _bare_extraction(tree, url, include_tables=include_tables)
            if len(_serialised(full)) > FAST_FALLBACK_GAIN * chars:
                doc = full
    if doc is None or doc.body is None:
        return Body("", doc)
    body = doc.body
    first_blocks = list(_blocks(body))
    first_texts = [_text(b) for b in first_blocks]
    first_keys = [_norm(t) for t in first_texts]
    # The keys of the page's paragraphs long enough to be matched with the body's, computed once.
    paragraph_keys = {p: _norm(text) for p, text in paragraphs if len(text) >= CHUNK_MIN_CHARS}
    continued = _continuation_paragraphs(tree, first_keys, first_texts, paragraphs, paragraph_keys)
    for text in continued:
        paragraph = etree.SubElement(body, "p")
        paragraph.text = text
    posts = _embedded_posts(quotes, body)
    for block, text in reversed(posts):  # reversed: posts after one block keep their order
        quote = etree.Element("quote")
        quote.text = text
        block.addnext(quote)
    continued += [text for _, text in posts]
    gaps = _skipped_prose(paragraph_keys, first_blocks, first_keys, body)
    for block, text, tag in reversed(gaps):
        paragraph = etree.Element(tag)
        paragraph.text = text
        block.addnext(paragraph)
    continued += [text for _, text, _ in gaps]
    continued_keys = {_norm(t) for t in continued}  # taken on structural evidence: not edge candidates
    removed = []
    for el in _blocks(body):
        dumped = _trim_page_dump(el, anchors)
        if dumped:
            removed.append(Removal("structure:page_dump", dumped))
    blocks = list(_blocks(body))
    texts = [_text(b) for b in blocks]
    keys = [_norm(t) for t in texts]
    reasons: list[str | None] = [None] * len(blocks)
    for i, (el, text, key) in enumerate(zip(blocks, texts, keys)):
        if not key:
            continue
        is_link = key in anchors
        if key in titles and len(text) < 300:
            reasons[i] = "structure:headline"
        elif _ISO_DATE.match(text) or (_URL_ONLY.match(text) and (_IMG_URL.search(text) or text.rstrip("/") == url.rstrip("/"))):
            reasons[i] = "structure:residue"
        elif _is_caps_line(text) and is_link:
            reasons[i] = "structure:promo_link"
        elif _CLICK_HERE.search(text) and len(text) < 220 and (is_link or _is_caps_line(text) or _PROMO_WORDS.search(text)):
            # "click here" calls to action, but only promos: "click here to read the ruling" can be body
            reasons[i] = "structure:promo_link"
        elif el.tag == "item" and is_link:
            items = list(el.getparent().iter("item"))
            if sum(_norm(_text(item)) in anchors for item in items) >= max(2, 0.7 * len(items)):
                reasons[i] = "structure:link_list"
    _mark_link_runs(keys, texts, anchors, reasons)
    _mark_slideshows(texts, reasons)
    _mark_story_cards(tree, blocks, texts, reasons)
    # Edge candidates: short blocks no other rule took. The precision pass (as costly as the
    # first) runs only when one of them sits outside the span of the long blocks.
    short = [i for i, (text, key) in enumerate(zip(texts, keys))
             if key and reasons[i] is None and len(text) < EDGE_MAX_CHARS and key not in continued_keys]
    if agreement and _has_short_edge(texts, short):
        with _body_shell(tree, first_texts) as shell:
            pdoc = _bare_extraction(shell, url, include_tables=include_tables, favor_precision=True, fast=fast)
        precise_text = _serialised(pdoc)
        precise = f" {_norm(precise_text)} " if precise_text else ""
        # A collapsed precision run picked another container or a fragment of the article:
        # its span says nothing about where the article starts and ends.
        if len(precise) >= PRECISION_COLLAPSE_SHARE * sum(len(t) for t in first_texts):
            # Searched from each end (padded: whole words): not one substring test per block,
            # which was O(n^2) on pages of many short paragraphs.
            first, last = _precise_span(keys, precise)
            for i in short:
                if (i < first or i > last) and f" {keys[i]} " not in precise:
                    reasons[i] = "structure:edge"
    for el, text, reason in zip(blocks, texts, reasons):
        if reason is not None:
            removed.append(Removal(reason, text))
            _drop(el)
    stripped = _strip_stray_text(body)
    # On most pages of both corpora no rule took anything: the body is then the one trafilatura
    # serialised already (bare_extraction's text is xmltotxt of this very body).
    unchanged = not removed and not continued and not stripped and doc.text is not None
    text, boxed = _drop_links_boxes(normalize_unicode(doc.text if unchanged else xmltotxt(body, False)), anchors)
    return Body(text, doc, removed + boxed)
