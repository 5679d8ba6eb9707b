"""How far listings are followed: the spider-side counterpart of Scrapy's DepthMiddleware."""
from __future__ import annotations

import logging

from scrapy import Request

from crawler.config import CrawlConfig
from crawler.middlewares import ResultFilter
from crawler.outcomes import SKIPPED, Reason

logger = logging.getLogger(__name__)


class ListingDepthMiddleware(ResultFilter):
    """Spider middleware: links found on listing pages (home, sections, tags) are followed
    up to ``NEWSCRAWL_LISTING_DEPTH`` hops from where the crawl entered the site (2: home
    -> section -> article). Feeds, sitemaps and canonical URLs do not count as hops.

    Each response says whether its links are wanted (``meta["follow_links"]``), so the
    spider neither collects nor looks up links it would not follow; each listing request
    it makes carries its hop count (``meta["listing_hops"]``), and one past the limit is
    dropped and counted (``newscrawl/skipped/over_listing_depth``)."""

    def __init__(self, depth: int, stats) -> None:
        self.depth = depth
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(CrawlConfig.of(crawler).listing_depth, crawler.stats)

    def process_spider_input(self, response, spider=None) -> None:
        response.meta["follow_links"] = response.meta.get("listing_hops", 0) < self.depth

    def _process(self, response, result):
        if isinstance(result, Request) and result.meta.get("via") == "listing":
            hops = response.meta.get("listing_hops", 0) + 1
            if hops > self.depth:
                self.stats.inc_value(SKIPPED + Reason.OVER_LISTING_DEPTH)
                logger.debug("Not following %s: %d listing hops from the start", result.url, hops)
                return None
            result.meta["listing_hops"] = hops
        return result
