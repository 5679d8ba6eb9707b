"""Distributed mode: several crawl workers sharing one frontier in Redis.

Built on scrapy-redis (shared request queue and dupefilter) rather than any
coordination of our own. Enabled by ``NEWSCRAWL_REDIS_URL``; the add-on
below switches the scheduler and dupefilter, and namespaces their keys by
``NEWSCRAWL_REDIS_RUN`` so that the workers of one crawl share a frontier
while the next crawl (a new run id, e.g. the cron timestamp) starts afresh.
"""
from __future__ import annotations

import warnings

from scrapy.exceptions import NotConfigured, ScrapyDeprecationWarning

# scrapy-redis 0.9 still passes spider= to the stats collector; the warning says nothing
# a newscrawl user can act on.
warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")

FRONTIER_TTL_SECONDS = 7 * 24 * 3600  # a finished run's frontier keys expire after a week


class DistributedAddon:
    """Scrapy add-on: scrapy-redis scheduler and dupefilter when NEWSCRAWL_REDIS_URL is set."""

    def update_settings(self, settings) -> None:
        url = settings.get("NEWSCRAWL_REDIS_URL")
        if not url:
            return
        run = settings.get("NEWSCRAWL_REDIS_RUN")
        prefix = f"newscrawl:{run}:%(spider)s"
        settings.set("REDIS_URL", url, priority="addon")
        settings.set("SCHEDULER", "scrapy_redis.scheduler.Scheduler", priority="addon")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="addon")
        settings.set("SCHEDULER_QUEUE_KEY", prefix + ":requests", priority="addon")
        settings.set("SCHEDULER_DUPEFILTER_KEY", prefix + ":dupefilter", priority="addon")
        settings.set("DUPEFILTER_KEY", prefix + ":dupefilter", priority="addon")
        # Never flush on close: the other workers are still using the frontier.
        settings.set("SCHEDULER_PERSIST", True, priority="addon")
        settings["SPIDER_MIDDLEWARES"] = {**settings.getdict("SPIDER_MIDDLEWARES"),
                                          "crawler.distributed.SharedStartMiddleware": 10}
        settings["EXTENSIONS"] = {**settings.getdict("EXTENSIONS"),
                                  "crawler.distributed.FrontierExpiry": 300}


class SharedStartMiddleware:
    """Start requests go through the shared dupefilter, so that N workers
    given the same start URLs fetch each of them once between them."""

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("NEWSCRAWL_REDIS_URL"):
            raise NotConfigured
        return cls()

    async def process_start(self, start):
        async for request in start:
            if hasattr(request, "dont_filter") and request.dont_filter:
                request = request.replace(dont_filter=False)
            yield request


class FrontierExpiry:
    """Sets a TTL on this run's frontier keys when a worker closes, so that
    persisted frontiers (SCHEDULER_PERSIST) do not accumulate in Redis."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("NEWSCRAWL_REDIS_URL"):
            raise NotConfigured
        from scrapy import signals

        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider) -> None:
        import redis

        s = self.crawler.settings
        client = redis.Redis.from_url(s.get("NEWSCRAWL_REDIS_URL"))
        try:
            for key in (s.get("SCHEDULER_QUEUE_KEY"), s.get("SCHEDULER_DUPEFILTER_KEY")):
                client.expire(key % {"spider": spider.name}, FRONTIER_TTL_SECONDS)
        finally:
            client.close()
