"""Everything the crawl needs from one HTML page, in one function of (bytes, url).

``read_page`` runs in an extraction worker process: the crawl's reactor thread
only fetches and schedules. From one fetched HTML page it decodes the text,
parses it, reads what the page declares, extracts the article, and decides
from all of that whether the page is an article (crawler.page.classify). For an
article it returns the extracted article and its declared canonical URL; for
any other page, the links and feeds to follow.

The decision needs the extraction: whether a page is an article is read from
the text trafilatura finds in it, not from its markup (see crawler.page.classify).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

from crawler.page.classify import PageVerdict, body_shape, classify_page, page_signals, url_verdict
from crawler.page.columns import heading_column
from crawler.page.discovery import feed_links
from crawler.page.extract import ExtractedArticle, ExtractionError, ExtractionOptions, extract_article
from crawler.page.encoding import decode_html
from crawler.page.htmlmeta import link_href, parse_html

_NOT_FOLLOWED = ("javascript:", "mailto:", "tel:", "data:", "#")


@dataclass
class PageReading:
    verdict: PageVerdict
    encoding: str  # what the bytes were decoded with (crawler.page.encoding.decode_html)
    article: ExtractedArticle | None = None  # for articles
    canonical: str | None = None  # the declared rel=canonical, as written (articles; the spider resolves it)
    links: list[str] = field(default_factory=list)  # absolute <a>/<area> targets, in page order (non-articles)
    feeds: list[str] = field(default_factory=list)  # advertised RSS/Atom feeds, absolute (non-articles)


def read_page(body: bytes, url: str, content_type: str | None, options: ExtractionOptions | None = None) -> PageReading:
    html, encoding = decode_html(body, content_type)
    tree = parse_html(html)
    signals = page_signals(tree, url)
    article = None
    if url_verdict(url) is None and not signals.declares_listing:
        try:
            # The one parse of the page: extraction leaves the tree as it was (trafilatura
            # and htmldate prune copies), so the links below are read from it afterwards.
            article = extract_article(html, url, options, tree=tree)
        except ExtractionError:
            article = None
    # The decision reads trafilatura's main text as found, before our filters took
    # link runs and teasers out of it: a column of linked headlines is the sign of a listing.
    found = article.blocks + [removal.text for removal in article.removed] if article else []
    shape = body_shape(tree, found) if article else None
    # The column under the heading matters only when there is a text to weigh it against.
    verdict = classify_page(signals, shape, heading_column(tree, found) if shape else None)
    if verdict.is_article:
        return PageReading(verdict, encoding, article, link_href(tree, "canonical"))
    base = _base_url(tree, url)
    return PageReading(verdict, encoding, links=page_links(tree, base), feeds=_joined(base, feed_links(tree)))


def page_links(tree, base: str) -> list[str]:
    """Absolute targets of the page's <a> and <area> links, first occurrence order."""
    hrefs = (el.get("href") or "" for el in tree.iter("a", "area"))
    return list(dict.fromkeys(url.split("#", 1)[0] for url in _joined(base, hrefs)))


def _joined(base: str, hrefs) -> list[str]:
    """``hrefs`` made absolute; an unparsable one (bad port, bad IPv6 literal) is left out:
    one link, not the page."""
    joined = []
    for href in hrefs:
        href = href.strip()
        if not href or href.lower().startswith(_NOT_FOLLOWED):
            continue
        try:
            joined.append(urljoin(base, href))
        except ValueError:
            continue
    return joined


def _base_url(tree, url: str) -> str:
    for href in tree.xpath("//base/@href")[:1]:
        try:
            return urljoin(url, href.strip())
        except ValueError:
            break
    return url
