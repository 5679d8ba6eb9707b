"""Dead ends: URLs not worth requesting again for a while.

A URL that answered 404 or 410, or whose fetch failed (5xx, timeout, DNS,
refused connection, after Scrapy's retries) in NEWSCRAWL_DEAD_END_FAILURES runs
in a row, is remembered per site in ``dead_ends`` and not requested again for
NEWSCRAWL_DEAD_END_DAYS days. An hourly cron run otherwise spends most of its
requests on the same dead links (seen: 413 of 508). ``--refresh`` (or
``NEWSCRAWL_REFRESH``) requests them anyway; start URLs are always requested.
A URL that answers again is forgotten.

The table is read once when the spider opens and written once when it closes:
a killed run forgets what it learned, which only costs the next run those
requests again.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.outcomes import DeadEndError, exception_reason, http_reason
from crawler.store.deadends import GONE_STATUSES, load_dead_ends, record_dead_ends
from models.db import resolve_database_url

if TYPE_CHECKING:
    from models import DeadEnd

logger = logging.getLogger(__name__)



class DeadEndMiddleware:
    def __init__(self, database_url: str, days: float, failures: int, stats) -> None:
        self.database_url = database_url
        self.period = dt.timedelta(days=days)
        self.failures_to_die = failures
        self.stats = stats
        self._known: dict[str, DeadEnd] | None = None  # url -> row, as loaded
        self._loading: asyncio.Future | None = None
        self._failed: dict[str, tuple[str, str]] = {}  # url -> (site, reason), this run
        self._answered: set[str] = set()  # known URLs that answered this run

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        days = s.getfloat("NEWSCRAWL_DEAD_END_DAYS")
        if days <= 0:
            raise NotConfigured
        middleware = cls(resolve_database_url(s.get("DATABASE_URL")), days, s.getint("NEWSCRAWL_DEAD_END_FAILURES"),
                         crawler.stats)
        middleware.refresh = s.getbool("NEWSCRAWL_REFRESH")
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def _load(self) -> dict[str, DeadEnd]:
        if self._known is None:
            if self._loading is None:
                self._loading = asyncio.ensure_future(asyncio.to_thread(load_dead_ends, self.database_url))
            self._known = await asyncio.shield(self._loading)
        return self._known

    @staticmethod
    def _site(request: Request) -> str | None:
        """The request's site, when it is one of the crawl's pages. What the user asked for
        (start URLs) and robots.txt are always requested, and not remembered."""
        if request.meta.get("via") in ("start", "robots"):
            return None
        return request.meta.get("site")

    async def process_request(self, request: Request):
        if not self._site(request):
            return None
        known = await self._load()
        row = known.get(request.url)
        if row is None or row.dead_until is None or self.refresh:
            return None
        if row.dead_until > dt.datetime.now(dt.timezone.utc):
            raise DeadEndError(f"dead end until {row.dead_until:%Y-%m-%d %H:%M} UTC ({row.reason})")
        return None

    def process_response(self, request: Request, response):
        site = self._site(request)
        if site:
            if response.status in GONE_STATUSES or response.status >= 500:
                self._failed[request.url] = (site, http_reason(response.status))
            elif response.status < 400 and self._known and request.url in self._known:
                self._answered.add(request.url)
        return response

    def process_exception(self, request: Request, exception):
        site = self._site(request)
        if site and not isinstance(exception, IgnoreRequest):  # robots, private address, ours: not the URL's fault
            self._failed[request.url] = (site, exception_reason(exception).value)
        return None

    def spider_closed(self, spider) -> None:
        if not self._failed and not self._answered:
            return
        dead = record_dead_ends(self.database_url, self._failed, self._answered, self._known or {},
                                self.period, self.failures_to_die)
        if dead:
            self.stats.set_value("newscrawl/dead_ends/new", dead)
            logger.info("%d URLs remembered as dead ends: not requested for %s (--refresh overrides)",
                        dead, self.period)

