"""The generic news spider: start URLs -> feeds, sitemaps, listings -> articles.

Thin by design: deciding what a page is and where it leads lives in pure
modules (crawler.page.discovery, crawler.page.classify, crawler.page.urls); extraction and
storage live in the item pipelines.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan
import scrapy
from lxml import etree
from scrapy import signals
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip

from crawler.config import CrawlConfig
from crawler.extensions import install_log_filters
from crawler.items import PageItem
from crawler.middlewares.conditional import listing_entry_failed, listing_read
from crawler.outcomes import (
    OUTCOME,
    SKIPPED,
    Reason,
    exception_reason,
    http_reason,
    is_failure,
)
from crawler.page.discovery import (
    Kind,
    detect_kind,
    feed_entries,
    robots_sitemaps,
    sitemap_entries,
)
from crawler.page.extract import ExtractionError
from crawler.page.read import PageReading, read_page
from crawler.page.urls import (
    amp_to_original,
    article_identity,
    canonicalize,
    check_url,
    is_amp_url,
    same_site,
    site_of,
)
from crawler.spiders.sites import load_sites_file, parse_url_list
from crawler.store.incremental import KnownUrls
from crawler.workers import ExtractionPool, read_and_sign

logger = logging.getLogger(__name__)

SKIP_EXAMPLES = 3  # example URLs kept per skip reason for the end-of-run summary

# Types that are never a web page, whatever their bytes look like when sniffed.
# (Not application/octet-stream: servers label pages and sitemaps with it too.)
_BINARY_TYPE_PREFIXES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip",
                         "application/msword", "application/vnd.")


_GZIP_MAGIC = b"\x1f\x8b"


def _is_binary_type(content_type: str) -> bool:
    return content_type.strip().lower().startswith(_BINARY_TYPE_PREFIXES)


def _redirects_off_the_web(response: Response) -> bool:
    """The response redirects to a URL that is not http(s)."""
    location = response.headers.get("Location", b"").decode("latin-1").strip()
    try:
        return bool(location) and urlsplit(urljoin(response.url, location)).scheme not in ("http", "https")
    except ValueError:
        return False


def _failure_reason(failure) -> Reason | str:
    """The reason a request failed: an error status (``http_<status>``, or a redirect off the
    web), or the exception that ended it (crawler.outcomes.exception_reason)."""
    if failure.check(HttpError):
        response = failure.value.response
        if 300 <= response.status < 400 and _redirects_off_the_web(response):
            return Reason.BAD_SCHEME  # Scrapy does not follow a redirect to file:, ftp:...; say why it stopped
        return http_reason(response.status)
    return exception_reason(failure.value)


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

    # Components the spider relies on: added to what a project configured, unless it set
    # them itself (to None, say, to switch one off).
    REQUIRED_COMPONENTS = (
        ("SPIDER_MIDDLEWARES", "crawler.middlewares.listing.ListingDepthMiddleware", 700),
        ("DOWNLOADER_MIDDLEWARES", "crawler.middlewares.conditional.ConditionalGetMiddleware", 70),
    )

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        for name, component, order in cls.REQUIRED_COMPONENTS:
            components = settings.getdict(name)
            if component not in components:
                components[component] = order
                settings.set(name, components, priority=max(settings.getpriority(name) or 0, 30))

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Read and checked once: `scrapy crawl news -s NAME=bad` is refused before anything starts.
        config = spider.config = CrawlConfig.of(crawler)
        install_log_filters()
        spider.refresh = config.refresh
        spider.since = config.since
        spider.database_url = config.database_url
        spider.max_decompressed = config.max_decompressed
        spider.options = config.extraction
        spider.dedupe = config.dedupe
        spider.pool = ExtractionPool.for_crawler(crawler)
        spider.max_links_per_page = config.max_links_per_page
        spider.max_listing_entries = config.max_listing_entries
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.response_received, signal=signals.response_received)
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
        self.start_failures: dict[str, str] = {}  # start URL -> why it gave nothing
        self.skip_examples: dict[str, list[str]] = {}  # reason -> a few URLs, for the summary

    async def start(self):
        self.pool.start()
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
        self._outcome("robots_txt")
        site = response.meta["site"]
        for url in robots_sitemaps(response.body):
            if same_site(url, site):
                yield self._follow(url, site, "sitemap")

    async def parse_page(self, response: Response):
        site = response.meta["site"]
        if response.status == 304:
            self.crawler.stats.inc_value("newscrawl/pages/not_modified")
            self._outcome("not_modified")
            return
        body = response.body
        if not body.strip():
            self._skip(Reason.EMPTY_BODY, response.url)
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if _is_binary_type(content_type):
            # A PDF or an image can hold "<p" in its first bytes; its declared type says enough.
            self._skip(Reason.NOT_HTML, response.url, content_type)
            return
        if body.startswith(_GZIP_MAGIC):
            # A gzip *file* (sitemap.xml.gz, a feed served as application/x-gzip): Scrapy's
            # HttpCompressionMiddleware only undoes Content-Encoding. Same bomb limit as it.
            try:
                body = gunzip(body, max_size=self.max_decompressed)
            except _DecompressionMaxSizeExceeded:
                self._skip(Reason.TOO_LARGE_DECOMPRESSED, response.url)
                return
            except (OSError, EOFError, ValueError) as exc:
                self._skip(Reason.BAD_GZIP, response.url, str(exc))
                return
            self.crawler.stats.inc_value("newscrawl/pages/gunzipped")
            content_type = ""  # the declared type was the archive's
        kind = detect_kind(body, content_type)
        if kind in (Kind.FEED, Kind.SITEMAP):  # its validators, for a conditional GET next run
            self.crawler.signals.send_catch_log(signal=listing_read, response=response)
        self.crawler.stats.inc_value(f"newscrawl/pages/{kind.value}")
        if kind in (Kind.SITEMAP, Kind.SITEMAP_INDEX):
            try:
                entries = sitemap_entries(body)
            except (ValueError, etree.LxmlError) as exc:
                self._skip(Reason.BAD_SITEMAP, response.url, str(exc))
                return
            self._outcome(kind.value)
            async for request in self._listed(response, entries, site, "sitemap"):
                yield request
        elif kind is Kind.FEED:
            try:
                entries = feed_entries(body)
            except ValueError as exc:
                self._skip(Reason.BAD_FEED, response.url, str(exc))
                return
            self._outcome(kind.value)
            async for request in self._listed(response, entries, site, "feed"):
                yield request
        elif kind is Kind.HTML:
            # An archived response (newscrawl ingest) was fetched when its WARC record says.
            fetched_at = response.meta.get("archived_at") or dt.datetime.now(dt.timezone.utc)
            read = await self._read(body, response.url, content_type, fetched_at)
            if read is None:
                return
            links = []
            if not read[0].verdict.is_article and response.meta.get("follow_links"):
                links = self._site_links(response, read[0].links, site)
                # The known-URL lookups of the page's links: one query, in a thread, off the reactor.
                await asyncio.to_thread(self.known_urls.prefetch, links)
            for result in self._parse_html(response, body, site, fetched_at, links, *read):
                yield result
        else:
            self._skip(Reason.NOT_HTML, response.url, content_type or "?")

    async def _read(self, body: bytes, url: str, content_type: str, fetched_at: dt.datetime):
        """The page read in an extraction worker: decoded, parsed once, classified and,
        for an article, extracted, signed and compressed (crawler.workers.read_and_sign).
        In this process when the pool is off. None when reading the page failed."""
        args = (body, url, content_type, fetched_at, self.options, self.dedupe)
        try:
            if self.pool.enabled:
                return await asyncio.wrap_future(self.pool.submit(read_and_sign, *args))
            return read_page(body, url, content_type, self.options), None, None
        except ExtractionError as exc:  # worker_crashed: its worker died twice on this page
            self._skip(exc.reason, url, str(exc))
            return None
        except Exception as exc:  # a page that breaks the parser is one page's skip, not the crawl's
            self._skip(Reason.READ_FAILED, url, f"{type(exc).__name__}: {exc}")
            return None

    def _parse_html(self, response: Response, body: bytes, site: str, fetched_at: dt.datetime, links: list[str],
                    reading: PageReading, signature, compressed: bytes | None):
        """What a read page leads to: its article, or (``links``: its same-site links, already
        looked up in the known URLs) the requests of a listing."""
        verdict = reading.verdict
        if not verdict.is_article:
            self.crawler.stats.inc_value(f"newscrawl/pages/not_article/{verdict.reason}")
            self._outcome(f"not_article/{verdict.reason}")
            if verdict.reason == "too_little_text":  # per site: a site whose pages all give none is reported
                self.crawler.stats.inc_value(f"newscrawl/site/{site}/too_little_text")
            logger.debug("Not an article (%s): %s", verdict.reason, response.url)
            if not response.meta.get("follow_links"):  # crawler.middlewares.listing
                return
            for url in reading.feeds:
                try:
                    if same_site(url, site):
                        yield self._follow(url, site, "feed")
                except ValueError as exc:  # one bad href is one skip, never the whole page
                    self._skip(Reason.BAD_URL, url, str(exc), fetched=False)
            for url in links:
                if url in self.known_urls:
                    self._known(site)
                    continue
                yield self._follow(url, site, "listing")
            return

        here = canonicalize(response.url)
        canonical, unusable = article_identity(response.url, reading.canonical, site,
                                               came_as_canonical=response.meta.get("via") == "canonical")
        if unusable:
            self.crawler.stats.inc_value("newscrawl/pages/bad_canonical")
            logger.debug("Ignoring unusable canonical %r on %s", reading.canonical[:200], response.url)
        if canonical != here:
            # Store the original, not this copy (AMP, print, tracking variant):
            # fetch the canonical page and let it speak for itself.
            self.crawler.stats.inc_value("newscrawl/pages/canonical_redirect")
            self._outcome("canonical_redirect")
            yield self._follow(canonical, site, "canonical")
            return
        if canonical in self._seen_canonical:
            self.crawler.stats.inc_value(SKIPPED + Reason.DUPLICATE_URL)
            self._outcome("duplicate_url")
            return
        if canonical in self.known_urls and response.meta.get("via") != "start":
            self._known(site)
            self._outcome("known")
            return
        self._seen_canonical.add(canonical)
        self.crawler.stats.inc_value(f"newscrawl/site/{site}/article_pages")
        self._outcome("article")
        yield PageItem(
            url=response.url,
            canonical_url=canonical,
            site=site,
            body=body,
            encoding=reading.encoding,
            fetched_at=fetched_at,
            via=response.meta.get("via", "listing"),
            listed_published=response.meta.get("listed_published"),
            article=reading.article,
            signature=signature,
            body_compressed=compressed,
        )

    def _site_links(self, response: Response, hrefs: list[str], site: str) -> list[str]:
        """The page's links to follow: capped, normalised, on the site; a bad one is one skip."""
        links = []
        for link in self._capped(hrefs, self.max_links_per_page, "links_per_page", response.url,
                                 "NEWSCRAWL_MAX_LINKS_PER_PAGE", site):
            try:
                url = self._normalise_link(link)
                if url and same_site(url, site):
                    links.append(url)
            except ValueError as exc:
                self._skip(Reason.BAD_URL, link, str(exc), fetched=False)
        return links

    async def _listed(self, response: Response, entries, site: str, via: str):
        """The requests of a feed's or sitemap's entries, capped; their known-URL lookups
        first, in one query per batch, in a thread: a 50k-entry sitemap must not hold the reactor."""
        entries = list(self._capped(entries, self.max_listing_entries, "entries_per_listing", response.url,
                                    "NEWSCRAWL_MAX_LISTING_ENTRIES", site))
        await asyncio.to_thread(self.known_urls.prefetch, self._listed_urls(response.url, entries, site))
        for request in self._from_entries(response, entries, site, via):
            yield request

    def _from_entries(self, response: Response, entries: list, site: str, via: str):
        for entry in entries:
            try:
                request = self._from_entry(response, entry, site, via)
            except ValueError as exc:
                # A bad port or IPv6 literal in one entry is that entry's skip; the rest are still read.
                self._skip(Reason.BAD_URL, str(entry.url)[:200], str(exc), fetched=False)
                continue
            if request is not None:
                yield request

    @staticmethod
    def _listed_urls(base: str, entries, site: str) -> list[str]:
        """The canonical same-site URLs of a listing's entries, for one known-URL query;
        an unusable entry is left out here and recorded by the loop that reads it."""
        urls = []
        for entry in entries:
            try:
                url = urljoin(base, entry.url)
                if same_site(url, site):
                    urls.append(canonicalize(url))
            except ValueError:
                continue
        return urls

    def _from_entry(self, response: Response, entry, site: str, via: str) -> scrapy.Request | None:
        url = check_url(urljoin(response.url, entry.url))
        if not same_site(url, site):
            self.crawler.stats.inc_value(SKIPPED + Reason.OFFSITE)
            return None
        if self.since is not None and entry.published is not None and entry.published < self.since:
            self.crawler.stats.inc_value(SKIPPED + Reason.BEFORE_SINCE)
            return None
        url = canonicalize(url)
        if url in self.known_urls:
            self._known(site)
            return None
        request = self._follow(url, site, via)
        request.meta["listed_published"] = entry.published
        request.meta["listing"] = response.url  # whose validators wait for this entry
        return request

    def _capped(self, items, cap: int, limit: str, url: str, setting: str, site: str):
        """The first ``cap`` of ``items`` (0: no cap). A page or listing over the cap is
        recorded (newscrawl/limits/<limit>), and so is every item left unread
        (newscrawl/skipped/over_<limit>): a 500k-link page must not flood the scheduler."""
        if cap <= 0:
            yield from items
            return
        count = 0
        items = iter(items)
        for item in items:
            if count == cap:
                left = 1 + sum(1 for _ in items)  # this one and the rest (the iterator resumes)
                self.crawler.stats.inc_value(f"newscrawl/limits/{limit}")
                self.crawler.stats.inc_value(f"newscrawl/site/{site}/limit_{limit}")  # kept in crawl_runs.sites
                self.crawler.stats.inc_value(SKIPPED + Reason(f"over_{limit}"), left)
                logger.warning("%s: over the cap of %d %s; %d not followed (raise %s to read more)",
                               url, cap, limit.replace("_", " "), left, setting)
                return
            count += 1
            yield item

    # --- helpers -------------------------------------------------------------

    def _follow(self, url: str, site: str, via: str) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_page, errback=self.on_error, meta={"site": site, "via": via})

    def closed(self, reason: str) -> None:
        self.known_urls.close()

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
            self._skip(Reason.REDIRECT_LOOP, request.meta["redirect_urls"][0], f"loops back to {request.url}",
                       fetched=False)

    def response_received(self, response, request, spider=None) -> None:
        """A site that answered at all is reachable (see start_failures)."""
        site = request.meta.get("site")
        if site and response.status < 400:
            self.crawler.stats.inc_value(f"newscrawl/responses/{site}")

    def _example(self, reason: str, url: str) -> None:
        examples = self.skip_examples.setdefault(reason, [])
        if len(examples) < SKIP_EXAMPLES:
            examples.append(url)

    def _known(self, site: str) -> None:
        """A URL stored by an earlier run, not fetched again (per site too: a site whose links are
        all known is not one whose pages stopped giving articles)."""
        self.crawler.stats.inc_value(SKIPPED + Reason.KNOWN)
        self.crawler.stats.inc_value(f"newscrawl/site/{site}/known")

    def _outcome(self, outcome: str) -> None:
        """What became of one fetched page: exactly one outcome per response that reached
        the spider, so the run's completeness line adds up (crawler.extensions.completeness)."""
        self.crawler.stats.inc_value(OUTCOME + outcome)

    def _skip(self, reason: Reason, url: str, detail: str = "", fetched: bool = True) -> None:
        """A page or URL not taken further; ``fetched``: it was a response that reached us.
        Per URL at DEBUG: a crawl skips hundreds of pages; the end of the run shows them
        grouped by reason, with a few examples (crawler.ops.summary)."""
        self.crawler.stats.inc_value(SKIPPED + reason)
        if fetched:
            self._outcome(reason)
        self._example(reason, url)
        logger.debug("Skipped %s (%s) %s", url, reason, detail)

    def on_error(self, failure):
        request = failure.request
        reason = _failure_reason(failure)
        if failure.check(HttpError):  # a response came: the page was fetched, with an error status
            self._outcome("robots_txt" if request.meta.get("via") == "robots" else reason)
        if request.meta.get("quiet_errors"):
            self.crawler.stats.inc_value(f"newscrawl/robots/{reason}")
            return
        self.crawler.stats.inc_value(SKIPPED + reason)
        self._example(reason, request.url)
        if is_failure(reason) and request.meta.get("listing"):  # its listing is read in full next run
            self.crawler.signals.send_catch_log(signal=listing_entry_failed, listing=request.meta["listing"])
        if request.meta.get("via") == "start":
            self.start_failures[request.url] = reason
            if reason == Reason.PRIVATE_ADDRESS:
                # One line, even under --quiet: the usual cause is a local test site.
                logger.error("Refused start URL %s: %s. To crawl local or private sites, use --allow-private "
                             "(scrapy crawl news -s NEWSCRAWL_ALLOW_PRIVATE=True)",
                             request.url, failure.getErrorMessage())
                return
        logger.debug("Skipped %s (%s): %s", request.url, reason, failure.getErrorMessage())
