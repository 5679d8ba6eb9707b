"""Running a crawl in-process: settings assembly and the crawl report."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.spiders.news import NewsSpider
from models.db import SecretURL, resolve_database_url

logger = logging.getLogger(__name__)


def parse_setting_overrides(pairs: list[str] | None) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as given to ``--set`` (like ``scrapy crawl -s``)."""
    overrides: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set expects NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value
    return overrides


def build_settings(
    database_url: str | None = None,
    overrides: dict[str, str] | None = None,
    allow_private: bool = False,
    log_level: str | None = None,
) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("DATABASE_URL", SecretURL(resolve_database_url(database_url)), priority="cmdline")
    if allow_private:
        settings.set("NEWSCRAWL_ALLOW_PRIVATE", True, priority="cmdline")
    if log_level:
        # The CLI has configured logging already; Scrapy must not add a second root handler.
        settings.set("LOG_LEVEL", log_level, priority="cmdline")
        settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


@dataclass
class CrawlReport:
    stats: dict
    finish_reason: str
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.finish_reason == "finished" and not self.errors

    @property
    def partial(self) -> bool:
        """Finished, but with too many failed fetches (the run recorder decides)."""
        return self.stats.get("newscrawl/run_status") == "partial"

    def count(self, key: str) -> int:
        return int(self.stats.get(key, 0))

    def by_prefix(self, prefix: str) -> dict[str, int]:
        return {k[len(prefix):]: int(v) for k, v in sorted(self.stats.items()) if k.startswith(prefix)}


def run_crawl(start_urls: list[str], settings: Settings, spider_cls: type = NewsSpider) -> CrawlReport:
    """Crawl ``start_urls`` to completion (blocks; once per process, as Scrapy's reactor allows).
    ``spider_cls``: the news spider, or a subclass (``newscrawl ingest`` passes WARC paths)."""
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider_cls)
    errors: list[str] = []
    started = time.monotonic()
    deferred = process.crawl(crawler, urls=start_urls)

    def _failed(failure):
        errors.append(f"{failure.type.__name__}: {failure.getErrorMessage()}")
        logger.error("Crawl failed: %s", failure.getErrorMessage())
        logger.debug("Crawl failure traceback", exc_info=failure.value)

    deferred.addErrback(_failed)
    process.start()
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    return CrawlReport(
        stats=stats,
        finish_reason=str(stats.get("finish_reason", "failed" if errors else "unknown")),
        seconds=time.monotonic() - started,
        errors=errors,
    )
