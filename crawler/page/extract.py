"""Article extraction: ``extract_article(html, url)`` -> ExtractedArticle.

A pure function, testable without a crawler: trafilatura finds the body and
removes the page chrome; this module reads the metadata (title, authors,
publication time, language, canonical URL) from the page's own declarations,
falling back to trafilatura's and htmldate's heuristics.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import trafilatura
from trafilatura.metadata import extract_sitename

from crawler.page.authors import find_authors, is_organisation, split_byline
from crawler.page.body import extract_body, title_keys
from crawler.page.boilerplate import (
    Removal,
    apply_generic_rules,
    block_hash,
    split_blocks,
)
from crawler.page.dates import declared_published, htmldate_published
from crawler.page.htmlmeta import (
    article_jsonld,
    html_language,
    ld_text,
    link_href,
    meta_content,
    parse_html,
)
from crawler.page.titles import affix_blocks, choose_title, names_site, site_keys
from crawler.page.titles import key as title_key

logger = logging.getLogger(__name__)

# Stored with every article (articles.extractor_version). Bump the first part when the
# extraction rules change, so that `newscrawl reprocess` shows which articles predate them.
# 2: trafilatura fast mode, split bodies joined, page-dump and link-run filters.
# 3: titles by agreement between sources, authors as people (author_organisations apart),
#    fast-mode fallback, collapsed-precision and teaser-card guards.
# 4: JSON-LD in CDATA read; organisation authors whole; story-card bylines skipped; continuation
#    paragraphs the page hides are not taken; the precision pass runs on the body's container.
# 5: titles: only the site's own name is an affix after a headline (an author or series og:title
#    appends stays), JSON-LD "name" read beside "headline", co.uk-style hosts name the site;
#    generic rules: a standalone "You might also like" heading, video players' dialog text.
# 6: a rail of story cards closing the body; pop-up cards inside paragraphs; the links under a
#    "Don't miss" heading; generic rules read list items without their "- " marker, tag lines,
#    interface text ("interface") and unrendered shortcodes ("residue"); a credit to the
#    publication that ran a story first is body.
# 7: titles: Dublin Core's DC.title is a declared source; authors: an organisation read whole
#    and split is listed once, degrees ("Ph.D.", "MD") and the outlet after "for" are cut
#    from a name, "Jr." joins the name before it.
# 8: body: quoted social posts (twitter-tweet, instagram-media, tiktok-embed) the first pass
#    dropped with their wrapper, and the prose and unlinked sub-heads it skipped between two
#    body paragraphs of one container, are put back in place; generic rules: a footer's
#    "Powered by <platform>" and a blog's "Submit comments on this post to <address>".
#    titles: the site's name in full after its host name, or abbreviated as hosts do ("The New
#    York Times" on nytimes.com), is an affix; authors: bylines in more languages (dates,
#    reading times, picture credits cut), an outlet or place after a full name dropped, desks
#    signing as "staff" and groups in the plural kept as organisations; dates: RFC 2822,
#    JavaScript and US written forms read with their time and zone, an undeclared date read
#    from the page's address (canonical first) before the template's other dates; a guessed
#    site name that is the headline or a part of it is dropped.
EXTRACTOR_RULES = 8
EXTRACTOR_VERSION = f"newscrawl-{EXTRACTOR_RULES}+trafilatura-{trafilatura.__version__}"


class ExtractionError(Exception):
    """The page has no extractable article text. ``reason`` is a stats slug."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):
        # Raised in an extraction worker, it is pickled back to the crawl; the default
        # (args only) cannot rebuild it, and the failed unpickling broke the whole pool.
        return type(self), (self.reason, str(self))


@dataclass(frozen=True)
class ExtractionOptions:
    """Extraction knobs in one object (defaults measured in bench/extraction_quality.py)."""

    # Second trafilatura pass in favor_precision mode, on the body's container only, to trim
    # teaser blocks at the article's edges: +0.0035 F1 on article-extraction (0 on
    # readability-pages), for about a fifth of the extraction's CPU.
    agreement: bool = True
    include_tables: bool = True
    # trafilatura's readability/justext comparison: -0.0025 F1 and +55% CPU on the public benchmark.
    fallback_extractors: bool = False
    min_text_chars: int = 200  # shorter bodies are teasers or stubs, not articles


@dataclass
class ExtractedArticle:
    title: str | None
    authors: list[str]
    published_at: dt.datetime | None
    language: str | None
    text: str  # the body after the generic boilerplate rules, one block per line
    canonical_url: str | None  # as declared by the page (rel=canonical / og:url), absolute
    site_name: str | None
    description: str | None = None
    # Organisations named as the author (agency, desk, the site itself), only when no person is.
    author_organisations: list[str] = field(default_factory=list)
    image: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    is_amp: bool = False
    blocks: list[str] = field(default_factory=list)  # trafilatura's blocks, before any removal
    removed: list[Removal] = field(default_factory=list)  # what the generic rules took out
    block_hashes: list[str] = field(default_factory=list)  # block_hash of each of ``blocks``
    # Leading/trailing title segments, as pseudo-blocks the site learning counts (crawler.page.titles).
    title_affix_blocks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.block_hashes) != len(self.blocks):
            self.block_hashes = [block_hash(b) for b in self.blocks]

    @property
    def kept_blocks(self) -> list[str]:
        return split_blocks(self.text)


def extract_article(html: str | bytes | None, url: str, options: ExtractionOptions | None = None, *,
                    tree=None) -> ExtractedArticle:
    """The article of one page. ``tree``: the page as crawler.page.htmlmeta.parse_html parsed it,
    when the caller has it already (``html`` is then not parsed again, and may be None).
    The tree is left as it was: trafilatura and htmldate work on copies of what they prune."""
    options = options or ExtractionOptions()
    if tree is None:
        tree = parse_html(html)
    # Read metadata before trafilatura runs: it prunes the tree in place.
    ld = article_jsonld(tree) or {}
    site_name = _first_str(meta_content(tree, "og:site_name"), _ld_name(ld.get("publisher")))
    raw_title = " ".join(" ".join(tree.xpath("//head/title//text()")).split()) or None
    h1s = [text for text in (" ".join(h.text_content().split()) for h in tree.xpath("//h1")[:MAX_H1]) if text]
    declared_title = _first_str(ld_text(ld.get("headline")), meta_content(tree, "og:title", "twitter:title"))
    # JSON-LD states its title twice: "headline", and "name", which some publishers fill with the
    # headline as shown where "headline" is a description or an SEO variant (Wikipedia).
    title_sources = [("jsonld", ld_text(ld.get("headline"))), ("jsonld", ld_text(ld.get("name"))),
                     ("og", meta_content(tree, "og:title")),
                     ("twitter", meta_content(tree, "twitter:title")), ("dc", meta_content(tree, *DC_TITLE)),
                     ("title", raw_title), *(("h1", h) for h in h1s)]
    canonical = link_href(tree, "canonical") or meta_content(tree, "og:url")
    canonical = _absolute(url, canonical)
    is_amp = tree.get("amp") is not None or tree.get("⚡") is not None
    published = declared_published(tree, ld)
    language = html_language(tree)
    tags = _declared_tags(tree, ld)

    title = choose_title(title_sources, site_keys([site_name], url))  # site_name: declared only, so far
    body = extract_body(
        tree, url, title_keys(tree, [declared_title or "", title or ""]),
        agreement=options.agreement, include_tables=options.include_tables,
        fallback_extractors=options.fallback_extractors, declared_chars=_declared_body_chars(ld),
    )
    blocks = split_blocks(body.text)
    kept, removed = apply_generic_rules(blocks)
    removed = body.removed + removed
    text = "\n".join(kept)
    if len(text) < options.min_text_chars:
        raise ExtractionError("no_text", f"{len(text)} characters of article text (< {options.min_text_chars})")

    if published is None:
        # a tree: htmldate copies it rather than parse the page again; the address the page
        # declares for itself first (a syndicated copy's date is its original's)
        published = htmldate_published(tree, canonical or url)
    # trafilatura's heuristics only for what the page does not declare: its whole metadata
    # pass (with an extensive date search we would not trust) costs more than its extraction.
    declared_site = site_name  # trafilatura's guess below may be the headline itself: not for titles
    site_name = site_name or _guessed_site_name(tree, title, site_keys([], url))
    # trafilatura's author heuristics are not a source: they cost 35 ms on a page without a
    # byline and added one name in 89 readability-pages (bench/metadata_quality.py).
    byline = find_authors(tree, ld, site_keys([declared_site, _ld_name(ld.get("publisher"))], url))
    return ExtractedArticle(
        title=title,
        authors=byline.people,
        author_organisations=byline.organisations,
        published_at=published,
        language=language,
        text=text,
        canonical_url=canonical,
        site_name=site_name,
        description=meta_content(tree, "og:description", "description"),
        image=_absolute(url, meta_content(tree, "og:image", "twitter:image") or _ld_image(ld.get("image"))),
        section=_first_str(meta_content(tree, "article:section"), ld_text(ld.get("articleSection"))),
        tags=tags or _split_tags(meta_content(tree, "news_keywords", "keywords")),
        is_amp=is_amp,
        blocks=blocks,
        removed=removed,
        block_hashes=[block_hash(b) for b in blocks],
        title_affix_blocks=affix_blocks([title, raw_title, meta_content(tree, "og:title")]),
    )


CHARS_PER_WORD = 6  # a word and its space, in the languages that separate words


def _declared_body_chars(ld: dict) -> int | None:
    """How long the page says its article is: JSON-LD articleBody, else wordCount."""
    body = ld.get("articleBody")
    if isinstance(body, str) and body.strip():
        return len(" ".join(body.split()))
    try:
        words = int(str(ld.get("wordCount", "")).strip())
    except ValueError:
        return None
    return words * CHARS_PER_WORD if words > 0 else None


# --- titles -----------------------------------------------------------------



# Dublin Core's title, as libraries, archives and standards bodies declare it: the document's
# name where the <title> leads with its identifier ("draft-dejong-remotestorage-04 - remoteStorage").
DC_TITLE = ("dc.title", "DC.title", "DC.Title", "dcterms.title", "DCTERMS.title", "DCTERMS.Title")
MAX_H1 = 5  # headings a template may put before the headline (logo, section, the headline itself)


def clean_title(declared: str | None, raw: str | None, h1: str | None, site_name: str | None) -> str | None:
    """The headline without the " | Site name" decoration, from a declared headline
    (og/JSON-LD), the <title> and the <h1>: see crawler.page.titles.choose_title."""
    return choose_title([("og", declared), ("title", raw), ("h1", h1)], site_keys([site_name]))


def _guessed_site_name(tree, title: str | None, host_keys: set[str]) -> str | None:
    """trafilatura's guess at the site's name, for a page that declares none; None when the
    guess is the headline or a part of it (it reads the <title>'s segments: "потеря веса до 10
    кг. Отзывы" of "Диета Аткинса (14 дней) - потеря веса до 10 кг. Отзывы"), unless the host
    name says it is the site's."""
    guess = extract_sitename(tree)
    if not guess or not title:
        return guess
    guessed, headline = f" {title_key(guess)} ", f" {title_key(title)} "
    if (guessed in headline or headline in guessed) and not names_site(guess, host_keys):
        return None
    return guess


# --- authors ----------------------------------------------------------------

def clean_authors(raw: list[str], site_names: list[str]) -> list[str]:
    """People's names from byline strings: no "By", dates, roles, e-mails, organisations
    or the site's own name (see crawler.page.authors)."""
    keys = site_keys(site_names)
    names: list[str] = []
    for entry in raw:
        for name in split_byline(entry or ""):
            if not is_organisation(name, keys) and name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
    return names


# --- tags and helpers -------------------------------------------------------

def _declared_tags(tree, ld: dict) -> list[str]:
    tags = [t.strip() for t in tree.xpath('//meta[@property="article:tag"]/@content') if t.strip()]
    if not tags:
        keywords = ld.get("keywords")
        if isinstance(keywords, str):
            tags = [k.strip() for k in keywords.split(",") if k.strip()]
        elif isinstance(keywords, list):
            tags = [str(k).strip() for k in keywords if str(k).strip()]
    return tags


def _split_tags(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    return [t.strip() for t in value if t and t.strip()]


def _ld_image(value) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return value if isinstance(value, str) and value.strip() else None


def _absolute(base: str, url: str | None) -> str | None:
    """``url`` made absolute; None when it is no usable URL (a bad port or IPv6 literal)."""
    try:
        return urljoin(base, url.strip()) if url else None
    except ValueError:
        return None


def _ld_name(value) -> str | None:
    if isinstance(value, dict):
        return ld_text(value.get("name"))
    return ld_text(value)




def _first_str(*values: str | None) -> str | None:
    for value in values:
        if value:
            return value
    return None
