"""Scrapy extensions: the per-run report (crawl_runs) and terminal progress."""
from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import socket
import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crawler.outcomes import DROPPED, ERRORS, OUTCOME, SKIPPED, Reason, split_reasons
from models import Article, CrawlRun
from models.db import make_engine, resolve_database_url

logger = logging.getLogger(__name__)

def failure_share(stats: dict) -> float:
    """Failed fetches as a share of all fetches, each URL counted once.

    A retried fetch shows up several times in Scrapy's download counters (a 503
    retried twice is three responses); counting those would dilute the
    failures until a run whose every article failed still looked healthy. So
    the fetches are the download outcomes (responses and exceptions) less the
    retries, i.e. one final outcome per request."""
    _, errors = split_reasons(stats)
    failed = sum(errors.values())
    outcomes = int(stats.get("downloader/response_count", 0)) + int(stats.get("downloader/exception_count", 0))
    attempts = max(outcomes - int(stats.get("retry/count", 0)), failed)
    return failed / attempts if attempts else 0.0


def completeness(stats: dict) -> dict:
    """What became of every page the crawl fetched, so a user sees at a glance that
    nothing went missing silently.

    Each response that reached the spider has exactly one outcome
    (``newscrawl/outcome/<what>``): an article page, or the reason it is not one
    (a listing, a feed, a sitemap, not HTML, known, ...). Each article page is
    stored or dropped with a reason (``newscrawl/dropped/<reason>``). Article
    pages neither stored nor dropped were still in flight when the run ended
    (an interrupted run); the next run fetches them again."""
    outcomes = {k.removeprefix(OUTCOME): int(v) for k, v in stats.items() if k.startswith(OUTCOME)}
    dropped = {k.removeprefix(DROPPED): int(v) for k, v in stats.items() if k.startswith(DROPPED)}
    article_pages = outcomes.pop("article", 0)
    stored = sum(int(stats.get(f"newscrawl/articles/{o}", 0)) for o in ("new", "updated", "unchanged"))
    not_stored = dict(sorted({**outcomes, **{f"article/{k}": v for k, v in dropped.items()}}.items()))
    in_flight = article_pages - stored - sum(dropped.values())
    if in_flight > 0:
        not_stored["article/unfinished"] = in_flight
    _, failed = split_reasons(stats)
    return {
        "fetched": article_pages + sum(outcomes.values()),
        "article_pages": article_pages,
        "stored": stored,
        "not_stored": not_stored,
        "fetch_failed": {k: v for k, v in failed.items() if not k.startswith("http_")},  # no response at all
        # Responses that are not pages: redirects followed, and Scrapy's robots.txt checks.
        "redirects": sum(int(v) for k, v in stats.items()
                         if k.startswith("downloader/response_status_count/3") and not k.endswith("/304")),
        "robots_checks": int(stats.get("robotstxt/response_count", 0)),
    }


def site_health(stats: dict) -> dict[str, dict[str, int]]:
    sites: dict[str, dict[str, int]] = {}
    for key, value in stats.items():
        if key.startswith("newscrawl/site/"):
            _, _, rest = key.partition("newscrawl/site/")
            site, _, field = rest.rpartition("/")
            sites.setdefault(site, {})[field] = int(value)
    return sites


def site_problems(spider, stats: dict) -> dict[str, str]:
    """Sites asked for that gave nothing, or whose start URL failed: site -> the reason.

    Every start URL's site is listed in the run's report; one that answered no request
    at all (DNS, refused connection, timeouts, 5xx, a refused private address) is the
    usual sign of a dead or misspelt site, and makes the run partial (exit 3)."""
    from crawler.page.urls import site_of

    problems: dict[str, str] = {}
    for url, reason in getattr(spider, "start_failures", {}).items():
        site = site_of(url)
        if int(stats.get(f"newscrawl/responses/{site}", 0)) == 0:
            problems[site] = f"nothing fetched ({reason})"
        else:
            problems.setdefault(site, f"start URL failed ({reason}): {url}")
    for key, value in stats.items():
        # Article pages were found, but not one gave an article (template change, paywall...).
        if key.startswith("newscrawl/site/") and key.endswith("/article_pages") and int(value) > 0:
            site = key[len("newscrawl/site/"):-len("/article_pages")]
            if not int(stats.get(f"newscrawl/site/{site}/stored", 0)):
                problems.setdefault(site, f"no article text from {int(value)} article pages")
        # Pages were read, none was an article, and some had too little text to be one: after a
        # template change the extractor finds no body, and every page looks like this.
        if key.startswith("newscrawl/site/") and key.endswith("/too_little_text") and int(value) > 0:
            site = key[len("newscrawl/site/"):-len("/too_little_text")]
            if not int(stats.get(f"newscrawl/site/{site}/article_pages", 0)) and \
                    not int(stats.get(f"newscrawl/site/{site}/known", 0)):
                problems.setdefault(site, f"no article text from {int(value)} pages")
    return problems


def requested_sites(spider) -> list[str]:
    """The sites of the run's start URLs (an ingest's start list holds WARC paths: no sites)."""
    from crawler.page.urls import site_of

    return sorted({site_of(url) for url in getattr(spider, "start_url_list", [])
                   if url.lower().startswith(("http://", "https://"))})


def run_status(reason: str, stats: dict, problems: dict, max_failure_share: float) -> str:
    if reason == "shutdown":  # Scrapy's reason for a SIGINT or SIGTERM
        return "interrupted"
    if reason != "finished":
        return "failed"
    if problems or failure_share(stats) > max_failure_share or int(stats.get(SKIPPED + Reason.WORKER_CRASHED, 0)):
        return "partial"
    if int(stats.get(ERRORS + Reason.STORAGE, 0)):
        return "partial"  # an article that could not be stored is lost: never "finished"
    return "finished"


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
        skips, errors = split_reasons(stats)
        problems = site_problems(spider, stats)
        if self.crawler.settings.get("NEWSCRAWL_REDIS_URL"):
            problems = self._drop_sites_served_to_peers(problems)
        status = run_status(reason, stats, problems, self.max_failure_share)
        sites = site_health(stats)
        for site in requested_sites(spider):
            sites.setdefault(site, {})  # every site asked for is in the report, even one that gave nothing
        for site, problem in problems.items():
            sites.setdefault(site, {})["problem"] = problem
        self.crawler.stats.set_value("newscrawl/site_problems", problems)
        self.crawler.stats.set_value("newscrawl/skip_examples", dict(getattr(spider, "skip_examples", {})))
        try:
            self._finish(stats, status, reason, skips, errors, sites)
        except SQLAlchemyError as exc:  # the database may be what ended the run
            logger.error("Could not record the end of run %s in crawl_runs: %s", self.run_id,
                         str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
        self.crawler.stats.set_value("newscrawl/run_status", status)
        self.engine.dispose()

    def _drop_sites_served_to_peers(self, problems: dict[str, str]) -> dict[str, str]:
        """A distributed worker's "no article text" is judged against the shared store.

        Workers split one frontier, so one may read only a site's listings and short pages
        while a peer reads its articles: the worker's own counts then look like a template
        change. A site with articles stored since the shared run began (the earliest start
        of the runs not yet finished, this one included) is not broken."""
        suspect = [site for site, problem in problems.items() if problem.startswith("no article text")]
        if not suspect:
            return problems
        try:
            with Session(self.engine) as session:
                began = session.scalar(select(func.min(CrawlRun.started_at)).where(
                    or_(CrawlRun.finished_at.is_(None), CrawlRun.id == self.run_id)))
                served = set(session.scalars(select(Article.site).distinct().where(
                    Article.site.in_(suspect), Article.fetched_at >= began)))
        except SQLAlchemyError:
            return problems  # keep the worker's own verdict
        return {site: problem for site, problem in problems.items() if site not in served}

    def _finish(self, stats, status, reason, skips, errors, sites) -> None:
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
            run.sites = sites
            run.completeness = completeness(stats)


class FrozenStartup:
    """Moves what start-up built out of the garbage collector's reach, once the engine runs.

    By then the crawl process holds a million or so long-lived objects (Scrapy, Twisted,
    SQLAlchemy and their modules, the mapped models, the loaded dedupe window), and a full
    collection walks every one of them: measured, 13% of the process's CPU on a 543-page
    crawl. ``gc.freeze()`` moves them to a generation the collector never scans; objects
    made afterwards are collected as before. (The extraction workers' fork server does the
    same for what it preloads: crawler.workers.warm_up.)"""

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls()
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        return ext

    def engine_started(self) -> None:
        gc.freeze()


class Progress:
    """A one-line progress report on stderr every few seconds, when stderr is a terminal.

    Subclasses say what the line holds (:meth:`line`) and whether to log it at INFO
    when stderr is not a terminal (a cron job's log): a crawl does not, its end-of-run
    summary says it all; an ingest of a large archive does."""

    logs_without_terminal = False

    def __init__(self, stats, interval: float, tty: bool = True) -> None:
        self.stats = stats
        self.interval = interval
        self.tty = tty
        self._task = None
        self._line_open = False
        self._handlers: list[logging.Handler] = []
        self._started = time.monotonic()

    @classmethod
    def enabled(cls, settings) -> bool:
        return settings.getbool("NEWSCRAWL_PROGRESS")

    @classmethod
    def from_crawler(cls, crawler):
        tty = sys.stderr.isatty()
        if not cls.enabled(crawler.settings) or not (tty or cls.logs_without_terminal):
            raise NotConfigured
        ext = cls(crawler.stats, crawler.settings.getfloat("NEWSCRAWL_PROGRESS_INTERVAL"), tty)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        from twisted.internet import task

        self._started = time.monotonic()
        self._task = task.LoopingCall(self.report)
        self._task.start(self.interval, now=False)
        if self.tty:
            # A log line must start on a line of its own, not after the progress line.
            self._handlers = [h for h in logging.getLogger().handlers
                              if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is sys.stderr]
            for handler in self._handlers:
                handler.addFilter(self._end_line)

    def _end_line(self, record) -> bool:
        if self._line_open:
            self._line_open = False
            print(file=sys.stderr)
        return True

    def line(self) -> str:
        s = self.stats.get_stats()
        return (f"[{time.monotonic() - self._started:6.0f}s] pages {s.get('downloader/response_count', 0)}"
                f"  articles new {s.get('newscrawl/articles/new', 0)}"
                f"  skipped {sum(v for k, v in s.items() if k.startswith('newscrawl/skipped/'))}")

    def report(self) -> None:
        line = self.line()
        if not self.tty:
            logger.info("%s", line)
            return
        print("\r" + line, end="", file=sys.stderr, flush=True)
        self._line_open = True

    def spider_closed(self, spider) -> None:
        for handler in self._handlers:
            handler.removeFilter(self._end_line)
        if self._task is not None and self._task.running:
            self._task.stop()
            if self.tty:
                print(file=sys.stderr)


# Scrapy's robots.txt middleware logs every robots.txt it cannot fetch at ERROR, with a
# traceback; a dead or misspelt site gives one. The spider records the failure itself.
_PER_URL_ERRORS = {"scrapy.downloadermiddlewares.robotstxt": "Error downloading"}


class _ToDebug(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(self.prefix):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def install_log_filters() -> None:
    """Per-URL noise from Scrapy's own components goes to DEBUG: the run's summary counts
    every failed fetch by reason with example URLs; a line (or a traceback) per URL would
    bury the one line that needs a look."""
    for name, prefix in _PER_URL_ERRORS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ToDebug) for f in logger.filters):
            logger.addFilter(_ToDebug(prefix))


class IngestProgress(Progress):
    """Progress of an ingest: records/s and articles stored, every few seconds (on
    stderr when it is a terminal, else an INFO log line)."""

    logs_without_terminal = True

    @classmethod
    def enabled(cls, settings) -> bool:
        return settings.getbool("NEWSCRAWL_WARC_INGEST") and super().enabled(settings)

    def line(self) -> str:
        from crawler.spiders.warc import RESPONSES_READ

        s = self.stats.get_stats()
        seconds = max(time.monotonic() - self._started, 1e-9)
        read = int(s.get(RESPONSES_READ, 0))
        stored = sum(int(s.get(f"newscrawl/articles/{k}", 0)) for k in ("new", "updated", "unchanged"))
        skipped = sum(int(v) for k, v in s.items() if k.startswith("newscrawl/skipped/"))
        return (f"[{seconds:6.0f}s] responses read {read} ({read / seconds:.1f}/s)  articles stored {stored} "
                f"({stored / seconds:.1f}/s)  skipped {skipped}")
