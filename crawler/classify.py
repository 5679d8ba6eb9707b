"""Is this page an article? A pure decision over (tree, url), with a reason.

Only article pages are stored. Home, section, tag, author, about, contact,
search and error pages are listings or static pages; they are crawled for
links but never stored. The decision combines what the URL says, what the
page declares (JSON-LD, og:type) and what its text looks like, because each
alone fails on some real sites: WordPress declares og:type=article on "About"
pages, and many portals declare nothing at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import courlan

from crawler.htmlmeta import ARTICLE_TYPES, LISTING_TYPES, jsonld_objects, jsonld_types, meta_content

# Paths of pages that are never articles, whatever their markup claims.
_STATIC_PATH = re.compile(
    r"^/(?:[a-z]{2}(?:-[a-z]{2})?/)?"
    r"(?:about(?:-us)?|contact(?:-us)?|impressum|imprint|privacy(?:-policy)?|terms(?:-of-(?:use|service))?|"
    r"cookies?(?:-policy)?|legal|advertis(?:e|ing)|careers|jobs|subscribe|newsletters?|donate|support-us|"
    r"login|log-in|register|sign-?in|sign-?up|account|search|archive|sitemap|feed|rss|help|faq|team|staff|"
    r"editorial-(?:policy|standards)|corrections?|masthead)(?:[/.?]|$)",
    re.IGNORECASE,
)
# Listing paths: courlan knows the common ones (tag, category, page/N, author...);
# these are the ones it misses.
_LISTING_PATH = re.compile(
    r"/(?:section|sections|topics?|rubri[ck]|themes?|authors?|people|tags?|category|categories|"
    r"columnists?|series|hub|collections?|latest|most-read|popular|video|videos|photos?|gallery)(?:/[^/]*)?/?$",
    re.IGNORECASE,
)
_DATE_IN_PATH = re.compile(r"/(?:19|20)\d{2}[/-](?:0?[1-9]|1[0-2])(?:[/-]\d{1,2})?/")
_ID_IN_PATH = re.compile(r"(?:\d{5,}|[-_/]a\d{4,})")
_NOT_FOUND_TITLE = re.compile(r"\b(?:404|not found|page not found|error 5\d\d)\b", re.IGNORECASE)

MIN_ARTICLE_WORDS = 120  # paragraph words for a page without article markup
MIN_DECLARED_ARTICLE_WORDS = 60  # paragraph words for a page that declares itself an article
MAX_LINK_DENSITY = 0.5


@dataclass(frozen=True)
class PageVerdict:
    is_article: bool
    reason: str  # a short slug, used in stats keys: newscrawl/pages/<reason>


def url_verdict(url: str) -> PageVerdict | None:
    """A decision from the URL alone, or None when the URL does not settle it."""
    path = urlsplit(url).path or "/"
    if path in ("/", "") or re.fullmatch(r"/(?:index\.\w+|[a-z]{2}(?:-[a-z]{2})?/?)", path, re.IGNORECASE):
        return PageVerdict(False, "home")
    if _STATIC_PATH.match(path):
        return PageVerdict(False, "static_page")
    if courlan.is_navigation_page(url) or _LISTING_PATH.search(path):
        return PageVerdict(False, "listing")
    return None


def url_looks_like_article(url: str) -> bool:
    """Date segments, numeric ids or long slugs: how most news CMSs name articles."""
    path = urlsplit(url).path
    if _DATE_IN_PATH.search(path) or _ID_IN_PATH.search(path):
        return True
    last = [segment for segment in path.split("/") if segment]
    return bool(last) and last[-1].count("-") >= 3


def classify_tree(tree, url: str) -> PageVerdict:
    verdict = url_verdict(url)
    if verdict is not None:
        return verdict

    title = " ".join(tree.xpath("//title//text()")).strip()
    if len(title) < 80 and _NOT_FOUND_TITLE.search(title):  # soft 404s served with status 200
        return PageVerdict(False, "error_page")

    types: set[str] = set()
    for obj in jsonld_objects(tree):
        types |= jsonld_types(obj)
    og_type = (meta_content(tree, "og:type") or "").lower()
    declared_article = bool(types & ARTICLE_TYPES) or og_type == "article" or bool(
        meta_content(tree, "article:published_time")
    )
    declared_listing = bool(types & LISTING_TYPES) and not types & ARTICLE_TYPES

    words, link_words = _paragraph_words(tree)
    link_density = link_words / words if words else 1.0

    if declared_listing:
        return PageVerdict(False, "listing")
    if declared_article and words >= MIN_DECLARED_ARTICLE_WORDS and link_density <= MAX_LINK_DENSITY:
        return PageVerdict(True, "article")
    if og_type == "website" and not types & ARTICLE_TYPES and not url_looks_like_article(url):
        return PageVerdict(False, "listing")
    if words >= MIN_ARTICLE_WORDS and link_density <= MAX_LINK_DENSITY and url_looks_like_article(url):
        return PageVerdict(True, "article")
    if words < MIN_DECLARED_ARTICLE_WORDS:
        return PageVerdict(False, "too_little_text")
    return PageVerdict(False, "listing")


def _paragraph_words(tree) -> tuple[int, int]:
    """Words in <p> elements, and how many of those sit inside links.

    Paragraphs inside navigation, header, footer, asides and comment threads
    are ignored: a listing page with a long footer is still a listing.
    """
    total = linked = 0
    for p in tree.iter("p"):
        if any(
            anc.tag in ("nav", "footer", "header", "aside", "form")
            or "comment" in (anc.get("class", "") + " " + anc.get("id", "")).lower()
            for anc in p.iterancestors()
        ):
            continue
        text = p.text_content()
        n = len(text.split())
        total += n
        linked += sum(len(a.text_content().split()) for a in p.iter("a"))
    return total, linked
