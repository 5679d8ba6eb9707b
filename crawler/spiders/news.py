"""The generic news spider: start URLs -> feeds, sitemaps, listings -> articles.

Thin by design: deciding what a page is and where it leads lives in pure
modules (crawler.discovery, crawler.classify, crawler.urls); extraction and
storage live in the item pipelines.
"""
from __future__ import annotations

import asyncio
import codecs
import datetime as dt
import logging
from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan
import scrapy
from lxml import etree
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionLost,
    ConnectionRefusedError as TxConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError as TxTimeoutError,
)
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawler.classify import PageVerdict, classify_tree
from crawler.discovery import Kind, detect_kind, feed_entries, feed_links, robots_sitemaps, sitemap_entries
from crawler.htmlmeta import decode_html, link_href, parse_html
from crawler.extract import parse_datetime
from crawler.incremental import KnownUrls, load_state, save_validators
from crawler.items import PageItem
from crawler.middlewares import PrivateAddressError
from crawler.sites import load_sites_file, parse_url_list
from crawler.urls import amp_to_original, canonicalize, is_amp_url, same_site, site_of
from models.db import resolve_database_url

logger = logging.getLogger(__name__)


# Types that are never a web page, whatever their bytes look like when sniffed.
# (Not application/octet-stream: servers label pages and sitemaps with it too.)
_BINARY_TYPE_PREFIXES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip",
                         "application/msword", "application/vnd.")


def _is_binary_type(content_type: str) -> bool:
    return content_type.strip().lower().startswith(_BINARY_TYPE_PREFIXES)


def _failure_reason(failure) -> str:
    """A stats slug for a failed request (newscrawl/skipped/<reason>).

    Reasons starting with http_5, timeout, dns or connection count as failed
    fetches in the run report (crawler.extensions.FAILURE_REASONS)."""
    message = failure.getErrorMessage()
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "dns"
    if failure.check(DownloadTimeoutError, TxTimeoutError, TCPTimedOutError):
        return "timeout"
    if failure.check(DownloadConnectionRefusedError, TxConnectionRefusedError):
        return "connection_refused"
    if failure.check(DownloadFailedError, ResponseDataLossError, ResponseFailed, ResponseNeverReceived, ConnectionLost):
        return "connection_lost"  # reset, or closed before the promised Content-Length
    if failure.check(DownloadCancelledError):
        # Scrapy cancels a download once it is over DOWNLOAD_MAXSIZE (announced or received).
        return "too_large"
    if failure.check(PrivateAddressError):
        return "private_address"
    if failure.check(IgnoreRequest):
        if "robots.txt" in message:
            return "robots_disallowed"
        if "DOWNLOAD_MAXSIZE" in message and "decompress" in message:
            return "too_large_decompressed"  # gzip/deflate bombs: small on the wire, huge inflated
        if "max redirections" in message:
            return "too_many_redirects"  # redirect loops end here
    return type(failure.value).__name__.lower()


class NewsSpider(scrapy.Spider):
    """Arguments (``-a``):

    - ``urls``: comma-separated start URLs (home/section pages, feeds, sitemaps);
    - ``sites_file``: a TOML sites file, used when ``urls`` is not given.

    Links are followed from non-article HTML pages (home, sections, tags) up
    to ``NEWSCRAWL_LISTING_DEPTH`` hops from where the spider entered the site
    (2: home -> section -> article). Feeds and sitemaps do not count as hops.
    Links on article pages are not followed: a news crawl wants coverage from
    the site's own listings, not a walk through "related" links.
    """

    name = "news"

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        spider.listing_depth = s.getint("NEWSCRAWL_LISTING_DEPTH")
        if spider.listing_depth < 1:
            raise ValueError("NEWSCRAWL_LISTING_DEPTH must be >= 1")
        spider.refresh = s.getbool("NEWSCRAWL_REFRESH")
        since = s.get("NEWSCRAWL_SINCE")
        spider.since = parse_datetime(since) if since else None
        if since and spider.since is None:
            raise ValueError(f"NEWSCRAWL_SINCE must be an ISO 8601 date, got {since!r}")
        spider.database_url = resolve_database_url(s.get("DATABASE_URL"))
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        return spider

    def __init__(self, urls: str | list[str] | None = None, sites_file: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        start = parse_url_list(urls)
        if not start and sites_file:
            start = load_sites_file(sites_file)
        if not start:
            raise ValueError("the news spider needs start URLs: -a urls=URL,URL or -a sites_file=FILE")
        self.start_url_list = start
        self._seen_canonical: set[str] = set()
        self.known_urls = KnownUrls(None)  # stored by earlier runs: not fetched again unless refresh
        self.validators: dict[str, tuple[str | None, str | None]] = {}  # feed/sitemap -> (ETag, Last-Modified)
        self.new_validators: dict[str, tuple[str | None, str | None]] = {}
        # Links only: article pages, not their images or downloads.
        self._links = LinkExtractor(unique=True, tags=("a", "area"), attrs=("href",))

    async def start(self):
        # Read what earlier runs stored in a worker thread: the reactor keeps running.
        _, self.validators = await asyncio.to_thread(load_state, self.database_url, False)
        if not self.refresh:  # stored article URLs are not fetched again (--refresh to re-fetch)
            self.known_urls = KnownUrls(self.database_url)
        robots_done: set[str] = set()
        for url in self.start_url_list:
            site = site_of(url)
            origin = urlunsplit(urlsplit(url)[:2] + ("", "", ""))
            if origin not in robots_done and self.settings.getbool("ROBOTSTXT_OBEY"):
                robots_done.add(origin)
                yield scrapy.Request(
                    origin + "/robots.txt",
                    callback=self.parse_robots,
                    errback=self.on_error,
                    meta={"site": site, "via": "robots", "quiet_errors": True},
                    priority=10,
                )
            request = self._follow(url, site, "start")
            yield request.replace(dont_filter=True)

    # --- callbacks -----------------------------------------------------------

    def parse_robots(self, response: Response):
        site = response.meta["site"]
        for url in robots_sitemaps(response.body):
            if same_site(url, site):
                yield self._follow(url, site, "sitemap")

    def parse_page(self, response: Response):
        site = response.meta["site"]
        if response.status == 304:
            self.crawler.stats.inc_value("newscrawl/pages/not_modified")
            return
        if not response.body.strip():
            self._skip("empty_body", response.url)
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if _is_binary_type(content_type):
            # A PDF or an image can hold "<p" in its first bytes; its declared type says enough.
            self._skip("not_html", response.url, content_type)
            return
        kind = detect_kind(response.body)
        if kind in (Kind.FEED, Kind.SITEMAP):
            self._remember_validators(response)
        self.crawler.stats.inc_value(f"newscrawl/pages/{kind.value}")
        if kind in (Kind.SITEMAP, Kind.SITEMAP_INDEX):
            try:
                entries = sitemap_entries(response.body)
            except (ValueError, etree.LxmlError) as exc:
                self._skip("bad_sitemap", response.url, str(exc))
                return
            yield from self._from_entries(response, entries, site, "sitemap")
        elif kind is Kind.FEED:
            try:
                entries = feed_entries(response.body)
            except ValueError as exc:
                self._skip("bad_feed", response.url, str(exc))
                return
            yield from self._from_entries(response, entries, site, "feed")
        elif kind is Kind.HTML and isinstance(response, TextResponse):
            yield from self._parse_html(self._redecoded(response, content_type), site)
        else:
            self._skip("not_html", response.url, content_type or "?")

    def _redecoded(self, response: TextResponse, content_type: str) -> TextResponse:
        """The response as UTF-8 text decoded with our charset rules.

        Scrapy trusts the declared charset, and falls back to cp1252; pages
        in windows-1251 or koi8-r that declare nothing or the wrong charset
        come out as mojibake. Classification, links and the stored html and
        encoding all read the replaced response."""
        text, encoding = decode_html(response.body, content_type)
        if codecs.lookup(encoding).name == codecs.lookup(response.encoding).name:
            return response
        self.crawler.stats.inc_value("newscrawl/pages/charset_corrected")
        logger.debug("Decoded %s as %s, not %s", response.url, encoding, response.encoding)
        return response.replace(cls=HtmlResponse, body=text.encode("utf-8"), encoding="utf-8")

    @staticmethod
    def _read_page(response: TextResponse) -> tuple[PageVerdict, str | None, list[str]]:
        """What the spider needs from the parsed page: the verdict, the declared
        canonical URL and the feed links. The tree (about ten times the page's size)
        is dropped on return: an article's response stays referenced while its item
        waits for extraction, and a parsel selector cached on it would keep the tree.
        (A listing page is parsed a second time, by the link extractor; listings are
        not stored, and are far fewer than the articles they list.)"""
        tree = parse_html(response.text)
        verdict = classify_tree(tree, response.url)
        if verdict.is_article:
            return verdict, link_href(tree, "canonical"), []
        return verdict, None, feed_links(tree)

    def _parse_html(self, response: TextResponse, site: str):
        verdict, declared, feeds = self._read_page(response)
        if not verdict.is_article:
            self.crawler.stats.inc_value(f"newscrawl/pages/not_article/{verdict.reason}")
            logger.debug("Not an article (%s): %s", verdict.reason, response.url)
            hops = response.meta.get("listing_hops", 0)
            if hops >= self.listing_depth:
                return
            for href in feeds:
                url = urljoin(response.url, href)
                if same_site(url, site):
                    yield self._follow(url, site, "feed")
            links = [self._normalise_link(link.url) for link in self._links.extract_links(response)]
            self.known_urls.prefetch(links)
            for url in links:
                if url in self.known_urls:
                    self.crawler.stats.inc_value("newscrawl/skipped/known")
                    continue
                if url and same_site(url, site):
                    request = self._follow(url, site, "listing")
                    request.meta["listing_hops"] = hops + 1
                    yield request
            return

        here = canonicalize(response.url)
        canonical = canonicalize(urljoin(response.url, declared)) if declared else here
        if not same_site(canonical, site):
            canonical = here  # a cross-site canonical is a syndication hint, not our identity
        if canonical == here and is_amp_url(here):
            canonical = amp_to_original(here)
        if canonical != here and response.meta.get("via") == "canonical":
            canonical = here  # we came here as someone's canonical: no second hop, no cycles
        if canonical != here:
            # Store the original, not this copy (AMP, print, tracking variant):
            # fetch the canonical page and let it speak for itself.
            self.crawler.stats.inc_value("newscrawl/pages/canonical_redirect")
            yield self._follow(canonical, site, "canonical")
            return
        if canonical in self._seen_canonical:
            self.crawler.stats.inc_value("newscrawl/skipped/duplicate_url")
            return
        if canonical in self.known_urls and response.meta.get("via") != "start":
            self.crawler.stats.inc_value("newscrawl/skipped/known")
            return
        self._seen_canonical.add(canonical)
        self.crawler.stats.inc_value(f"newscrawl/site/{site}/article_pages")
        yield PageItem(
            url=response.url,
            canonical_url=canonical,
            site=site,
            body=response.body,
            encoding=response.encoding,
            html=response.text,
            fetched_at=dt.datetime.now(dt.timezone.utc),
            via=response.meta.get("via", "listing"),
            listed_published=response.meta.get("listed_published"),
        )

    def _from_entries(self, response: Response, entries, site: str, via: str):
        entries = list(entries)
        self.known_urls.prefetch(canonicalize(url) for url in (urljoin(response.url, entry.url) for entry in entries)
                                 if same_site(url, site))
        for entry in entries:
            url = urljoin(response.url, entry.url)
            if not same_site(url, site):
                self.crawler.stats.inc_value("newscrawl/skipped/offsite")
                continue
            if self.since is not None and entry.published is not None and entry.published < self.since:
                self.crawler.stats.inc_value("newscrawl/skipped/before_since")
                continue
            url = canonicalize(url)
            if url in self.known_urls:
                self.crawler.stats.inc_value("newscrawl/skipped/known")
                continue
            request = self._follow(url, site, via)
            request.meta["listed_published"] = entry.published
            yield request

    # --- helpers -------------------------------------------------------------

    def _follow(self, url: str, site: str, via: str) -> scrapy.Request:
        meta = {"site": site, "via": via}
        headers = {}
        validators = self.validators.get(url)
        if validators and not self.refresh:
            # Conditional GET: the server answers 304 when the feed or sitemap has not changed.
            etag, modified = validators
            if etag:
                headers["If-None-Match"] = etag
            if modified:
                headers["If-Modified-Since"] = modified
            meta["handle_httpstatus_list"] = [304]
        return scrapy.Request(url, callback=self.parse_page, errback=self.on_error, meta=meta, headers=headers)

    def _remember_validators(self, response: Response) -> None:
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        if etag or modified:
            self.new_validators[response.url] = (
                etag.decode("latin-1") if etag else None,
                modified.decode("latin-1") if modified else None,
            )

    def closed(self, reason: str) -> None:
        self.known_urls.close()
        if self.new_validators:
            save_validators(self.database_url, self.new_validators)

    @staticmethod
    def _normalise_link(url: str) -> str | None:
        if courlan.is_not_crawlable(url):  # login, register, feeds of comments...
            return None
        url = canonicalize(url)
        return amp_to_original(url) if is_amp_url(url) else url

    def request_dropped(self, request, spider=None) -> None:
        """A redirect back to a URL of its own chain is a loop. The duplicate
        filter drops it silently before REDIRECT_MAX_TIMES is reached; record it."""
        if request.url in request.meta.get("redirect_urls", ()):
            self._skip("redirect_loop", request.meta["redirect_urls"][0], f"loops back to {request.url}")

    def _skip(self, reason: str, url: str, detail: str = "") -> None:
        self.crawler.stats.inc_value(f"newscrawl/skipped/{reason}")
        logger.warning("Skipped %s (%s) %s", url, reason, detail)

    def on_error(self, failure):
        request = failure.request
        reason = _failure_reason(failure)
        if request.meta.get("quiet_errors"):
            self.crawler.stats.inc_value(f"newscrawl/robots/{reason}")
            return
        self.crawler.stats.inc_value(f"newscrawl/skipped/{reason}")
        level = logging.INFO if reason == "robots_disallowed" else logging.WARNING
        logger.log(level, "Skipped %s (%s): %s", request.url, reason, failure.getErrorMessage())
