"""Running a crawl in-process: settings assembly and the crawl report."""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.config import CrawlConfig
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
    signal: int | None = None  # the SIGINT or SIGTERM that stopped the run

    @property
    def interrupted(self) -> bool:
        return self.signal is not None or self.finish_reason == "shutdown"

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


class _CrawlerProcess(CrawlerProcess):
    """Scrapy's process, with the signal that stopped it remembered, and a second signal
    that ends the process at once.

    On the first SIGINT or SIGTERM Scrapy stops scheduling, lets the pages in flight
    finish (their articles are stored, or their skips counted) and closes the spider
    with reason "shutdown". Scrapy's second-signal handler stops the reactor, which
    still waits for the storage thread and the worker pool; a user who presses Ctrl-C
    twice wants out now. Nothing is half-written by leaving at once: each article is
    one transaction, the run lock dies with the process, and the extraction workers
    exit when this process does (crawler.workers.die_with_parent)."""

    signal_received: int | None = None

    def _signal_shutdown(self, signum: int, frame) -> None:
        self.signal_received = signum
        super()._signal_shutdown(signum, frame)

    def _signal_kill(self, signum: int, frame) -> None:
        os.write(2, f"newscrawl: {signal.Signals(signum).name} again: stopping now\n".encode())
        os._exit(128 + (self.signal_received or signum))


def _stats_of(crawler) -> dict:
    """The crawl's stats; none when it failed before Scrapy made its stats collector."""
    try:
        return dict(crawler.stats.get_stats())
    except RuntimeError:  # Scrapy 2.13+: "Crawler.stats is not set yet"
        return {}


def run_crawl(start_urls: list[str], settings: Settings, spider_cls: type = NewsSpider) -> CrawlReport:
    """Crawl ``start_urls`` to completion (blocks; once per process, as Scrapy's reactor allows).
    ``spider_cls``: the news spider, or a subclass (``newscrawl ingest`` passes WARC paths)."""
    CrawlConfig.from_settings(settings)  # a bad value is a usage error (SettingError), before Scrapy starts
    process = _CrawlerProcess(settings)
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
    stats = _stats_of(crawler)
    return CrawlReport(
        stats=stats,
        finish_reason=str(stats.get("finish_reason", "failed" if errors else "unknown")),
        seconds=time.monotonic() - started,
        errors=errors,
        signal=process.signal_received,
    )
