"""Scrapy extensions: the per-run report (crawl_runs) and terminal progress."""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from sqlalchemy import update
from sqlalchemy.orm import Session

from models import CrawlRun
from models.db import make_engine, resolve_database_url

logger = logging.getLogger(__name__)

# Skip reasons that mean something went wrong (as opposed to pages we chose not to store).
FAILURE_REASONS = ("http_5", "timeout", "dns", "connection", "responsenever", "tunnel", "storage")


def split_skips(stats: dict) -> tuple[dict[str, int], dict[str, int]]:
    """(skips, errors) by reason from the crawl stats."""
    skips: dict[str, int] = {}
    errors: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("newscrawl/skipped/"):
            reason = key.rsplit("/", 1)[1]
            target = errors if reason.startswith(FAILURE_REASONS) else skips
            target[reason] = int(value)
        elif key.startswith("newscrawl/errors/"):
            errors[key.rsplit("/", 1)[1]] = int(value)
    robots = int(stats.get("robotstxt/forbidden", 0))
    if robots and "robots_disallowed" not in skips:
        skips["robots_disallowed"] = robots
    too_long = int(stats.get("urllength/request_ignored_count", 0))  # Scrapy's URLLENGTH_LIMIT drops
    if too_long:
        skips["url_too_long"] = skips.get("url_too_long", 0) + too_long
    return skips, errors


def failure_share(stats: dict) -> float:
    """Failed fetches as a share of all fetches, each URL counted once.

    A retried fetch shows up several times in Scrapy's download counters (a 503
    retried twice is three responses); counting those would dilute the
    failures until a run whose every article failed still looked healthy. So
    the fetches are the download outcomes (responses and exceptions) less the
    retries, i.e. one final outcome per request."""
    _, errors = split_skips(stats)
    failed = sum(errors.values())
    outcomes = int(stats.get("downloader/response_count", 0)) + int(stats.get("downloader/exception_count", 0))
    attempts = max(outcomes - int(stats.get("retry/count", 0)), failed)
    return failed / attempts if attempts else 0.0


def site_health(stats: dict) -> dict[str, dict[str, int]]:
    sites: dict[str, dict[str, int]] = {}
    for key, value in stats.items():
        if key.startswith("newscrawl/site/"):
            _, _, rest = key.partition("newscrawl/site/")
            site, _, field = rest.rpartition("/")
            sites.setdefault(site, {})[field] = int(value)
    return sites


class CrawlRunRecorder:
    """Records each run in ``crawl_runs``: a row when it starts, completed when it ends.

    A run killed mid-way leaves its row with no ``finished_at``; ``newscrawl
    status`` shows it as interrupted.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.database_url = resolve_database_url(crawler.settings.get("DATABASE_URL"))
        self.max_failure_share = crawler.settings.getfloat("NEWSCRAWL_MAX_FAILURE_SHARE")
        self.run_id: int | None = None
        self.engine = None

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("NEWSCRAWL_RECORD_RUNS"):
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        # The storage pipeline has upgraded the schema by now (pipelines open first).
        self.engine = make_engine(self.database_url)
        if not self.crawler.settings.get("NEWSCRAWL_REDIS_URL"):
            # This run holds the run lock, so an unfinished row of an earlier run is one
            # that was killed (with distributed workers, another worker may still be running).
            with Session(self.engine) as session, session.begin():
                session.execute(
                    update(CrawlRun).where(CrawlRun.finished_at.is_(None)).values(status="interrupted")
                )
        with Session(self.engine) as session, session.begin():
            run = CrawlRun(
                started_at=dt.datetime.now(dt.timezone.utc),
                status="running",
                start_urls=list(getattr(spider, "start_url_list", [])),
                skips={}, errors={}, sites={},
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        self.crawler.stats.set_value("newscrawl/run_id", self.run_id)

    def spider_closed(self, spider, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats.get_stats()
        skips, errors = split_skips(stats)
        if reason != "finished":
            status = "failed"
        elif errors.get("storage") or failure_share(stats) > self.max_failure_share:
            status = "partial"  # an article that could not be stored is lost: never "finished"
        else:
            status = "finished"
        with Session(self.engine) as session, session.begin():
            run = session.get(CrawlRun, self.run_id)
            run.finished_at = dt.datetime.now(dt.timezone.utc)
            run.status = status
            run.finish_reason = reason
            run.pages_fetched = int(stats.get("downloader/response_count", 0))
            run.articles_new = int(stats.get("newscrawl/articles/new", 0))
            run.articles_updated = int(stats.get("newscrawl/articles/updated", 0))
            run.articles_unchanged = int(stats.get("newscrawl/articles/unchanged", 0))
            run.skips = skips
            run.errors = errors
            run.sites = site_health(stats)
        self.crawler.stats.set_value("newscrawl/run_status", status)
        self.engine.dispose()


class Progress:
    """A one-line progress report on stderr every few seconds, when stderr is a terminal."""

    def __init__(self, stats, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self._task = None
        self._started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("NEWSCRAWL_PROGRESS") or not sys.stderr.isatty():
            raise NotConfigured
        ext = cls(crawler.stats, crawler.settings.getfloat("NEWSCRAWL_PROGRESS_INTERVAL"))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        from twisted.internet import task

        self._task = task.LoopingCall(self.report)
        self._task.start(self.interval, now=False)

    def report(self) -> None:
        s = self.stats.get_stats()
        print(
            f"\r[{time.monotonic() - self._started:6.0f}s] pages {s.get('downloader/response_count', 0)}"
            f"  articles new {s.get('newscrawl/articles/new', 0)}"
            f"  skipped {sum(v for k, v in s.items() if k.startswith('newscrawl/skipped/'))}",
            end="", file=sys.stderr, flush=True,
        )

    def spider_closed(self, spider) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
            print(file=sys.stderr)
