"""Conditional GET for feeds and sitemaps: the next run asks "changed since?" and a 304
costs one small response instead of re-reading a 50k-entry sitemap."""
from __future__ import annotations

import asyncio
import logging

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from sqlalchemy.exc import SQLAlchemyError

from crawler.config import CrawlConfig
from crawler.store.incremental import load_state, save_validators

logger = logging.getLogger(__name__)

# Sent by the spider (crawler.signals.send_catch_log): a feed or sitemap was read (response=),
# and an entry of one could not be fetched (listing=, the feed's or sitemap's URL).
listing_read = object()
listing_entry_failed = object()

Validators = tuple[str | None, str | None]  # (ETag, Last-Modified)


class ConditionalGetMiddleware:
    """Downloader middleware: requests for a feed or sitemap an earlier run read in full
    carry its validators (If-None-Match, If-Modified-Since), and a 304 reaches the spider.

    A feed's or sitemap's new validators are saved when the run ends, and only when every
    entry it listed was stored or recorded as skipped: the run finished (not interrupted),
    nothing failed to be stored, and no entry's fetch failed. Otherwise the next run reads
    it in full; the entries stored meanwhile are skipped as known, so the price of being
    safe is one full read of the listing. Off for ``--refresh`` and for an ingest (an
    archived feed's validators would hide the entries the ingest did not follow)."""

    def __init__(self, database_url: str, stats) -> None:
        self.database_url = database_url
        self.stats = stats
        self._validators: dict[str, Validators] | None = None
        self._loading: asyncio.Future | None = None
        self.new: dict[str, Validators] = {}
        self.incomplete: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        config = CrawlConfig.of(crawler)
        if config.refresh or crawler.settings.getbool("NEWSCRAWL_WARC_INGEST"):
            raise NotConfigured
        middleware = cls(config.database_url, crawler.stats)
        crawler.signals.connect(middleware.listing_read, signal=listing_read)
        crawler.signals.connect(middleware.listing_entry_failed, signal=listing_entry_failed)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def _load(self) -> dict[str, Validators]:
        if self._validators is None:
            if self._loading is None:
                self._loading = asyncio.ensure_future(asyncio.to_thread(load_state, self.database_url, False))
            _, self._validators = await asyncio.shield(self._loading)
        return self._validators

    async def process_request(self, request: Request, spider=None):
        if request.meta.get("via") == "robots":
            return None
        validators = (await self._load()).get(request.url)
        if not validators:
            return None
        etag, modified = validators
        if etag:
            request.headers.setdefault("If-None-Match", etag)
        if modified:
            request.headers.setdefault("If-Modified-Since", modified)
        allowed = request.meta.setdefault("handle_httpstatus_list", [])
        if 304 not in allowed:
            allowed.append(304)
        return None

    def listing_read(self, response) -> None:
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        if etag or modified:
            self.new[response.url] = (etag.decode("latin-1") if etag else None,
                                      modified.decode("latin-1") if modified else None)

    def listing_entry_failed(self, listing: str) -> None:
        self.incomplete.add(listing)

    def spider_closed(self, spider, reason: str) -> None:
        stats = self.stats.get_stats()
        if reason != "finished" or any(k.startswith("newscrawl/errors/") for k in stats) or stats.get(
                "newscrawl/skipped/worker_crashed"):
            if self.new:
                logger.info("Feed and sitemap validators not saved (run %s): the next run reads them in full", reason)
            return
        complete = {url: v for url, v in self.new.items() if url not in self.incomplete}
        if complete:
            try:
                save_validators(self.database_url, complete)
            except SQLAlchemyError as exc:  # the safe direction: the next run reads them in full
                logger.error("Could not save feed and sitemap validators: %s",
                             str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
