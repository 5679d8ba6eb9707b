"""The ingest spider: ``newscrawl ingest`` is a crawl whose responses come from WARC files
(see crawler.store.warc for reading and writing archives)."""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import itertools
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

import scrapy
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.outcomes import SKIPPED, Reason
from crawler.page.urls import canonicalize, site_of
from crawler.spiders.news import NewsSpider
from crawler.store.incremental import KnownUrls
from crawler.store.warc import (
    ArchivedResponse,
    DigestingReader,
    ReadStats,
    SkippedRecord,
    file_digest,
    read_warc,
)
from models import WarcFile
from models.db import make_engine

logger = logging.getLogger(__name__)

# Stats (slash paths, like the crawl's).
RECORDS_READ = "newscrawl/warc/records"  # every WARC record read, by type below it
RESPONSES_READ = "newscrawl/warc/responses"  # response records handed to the spider or skipped
READ_AHEAD = 16  # response records read (and looked up) at a time
NOT_FOLLOWED = "newscrawl/warc/not_followed"  # requests a page led to, not made in an ingest


# --- the ingest crawl ----------------------------------------------------------


def _canonical(url: str) -> str | None:
    """The URL's canonical form; None for a URL that has none (the record is skipped later)."""
    try:
        return canonicalize(url)
    except ValueError:
        return None


class WarcIngestSpider(NewsSpider):
    """The news spider, with the responses of WARC files as its start.

    Spider arguments: ``urls`` is the list of WARC paths (``-`` for stdin), as
    ``run_crawl`` passes start URLs. Settings read: ``NEWSCRAWL_SINCE`` (records
    archived before it are skipped), ``NEWSCRAWL_WARC_SITES`` (only these sites),
    ``NEWSCRAWL_REFRESH`` (re-ingest files already ingested and articles already
    stored), ``DOWNLOAD_MAXSIZE`` and ``DOWNLOAD_FAIL_ON_DATALOSS`` (truncated records).
    """

    name = "news-ingest"

    # NewsSpider wants http(s) start URLs; an ingest's start is its archives, set below.
    _NO_START_URL = "http://archive.invalid/"

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        # No robots.txt, politeness or address checks: nothing is fetched. The archive's
        # middlewares are added to whatever the project configured.
        for name, value in (("ROBOTSTXT_OBEY", False), ("AUTOTHROTTLE_ENABLED", False), ("DOWNLOAD_DELAY", 0),
                            ("NEWSCRAWL_WARC_INGEST", True)):
            settings.set(name, value, priority="spider")
        for name, component, order in (
            ("DOWNLOADER_MIDDLEWARES", "crawler.middlewares.archive.ArchiveResponseMiddleware", 10),
            ("EXTENSIONS", "crawler.extensions.IngestProgress", 210),
            ("EXTENSIONS", "crawler.extensions.Progress", None),  # IngestProgress reports instead
        ):
            components = settings.getdict(name)
            components[component] = order
            settings.set(name, components, priority=max(settings.getpriority(name) or 0, 30))

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        spider.max_size = s.getint("DOWNLOAD_MAXSIZE") or (1 << 62)
        spider.fail_on_dataloss = s.getbool("DOWNLOAD_FAIL_ON_DATALOSS")
        # As in the articles.site column: www.bbc.co.uk and bbc.co.uk both mean bbc.co.uk.
        spider.only_sites = {site_named(name) for name in s.getlist("NEWSCRAWL_WARC_SITES") if name.strip()}
        spider._max_scheduled = max(1, s.getint("CONCURRENT_REQUESTS"))
        return spider

    def __init__(self, urls: list[str] | str | None = None, **kwargs) -> None:
        super().__init__(urls=[self._NO_START_URL], **kwargs)
        paths = urls.split(",") if isinstance(urls, str) else list(urls or [])
        if not paths:
            raise ValueError("ingest needs WARC files (paths, or - for stdin)")
        self.start_url_list = [p if p == "-" else str(Path(p).resolve()) for p in paths]  # crawl_runs.start_urls
        self.read_stats = ReadStats()  # the whole run's
        self.files_done: list[int] = []  # warc_files rows this run read to the end

    async def start(self):
        self.pool.start()
        # Stored articles are checked against the database record by record (crawler.store.incremental).
        self.known_urls = KnownUrls(None if self.refresh else self.database_url)
        engine = make_engine(self.database_url)
        try:
            for path in self.start_url_list:
                async for request in self._file_requests(engine, path):
                    yield request
        finally:
            engine.dispose()

    async def _file_requests(self, engine, path: str):
        stats = self.crawler.stats
        if path == "-":
            stream = DigestingReader(sys.stdin.buffer)
            row_id = await asyncio.to_thread(self._begin_file, engine, path, None, None)
            name = None
        else:
            file = Path(path)
            if not file.is_file():
                raise ValueError(f"no such WARC file: {path}")
            digest = await asyncio.to_thread(file_digest, file)
            row_id = await asyncio.to_thread(self._begin_file, engine, path, digest, file.stat().st_size)
            if row_id is None:
                stats.inc_value("newscrawl/warc/files_already_ingested")
                logger.warning("%s was ingested already (same SHA-256): skipped (--refresh ingests it again)", path)
                return
            stream = file.open("rb")
            name = path
        logger.info("Ingesting %s", path)
        file_stats = ReadStats()
        records = read_warc(stream if name else io.BufferedReader(stream, 1 << 20), name, self.max_size, file_stats)
        try:
            while True:
                # Reading (and gunzipping) runs in a thread: a slow pipe on stdin must
                # not stall the reactor, which is storing what was read before.
                entries = await asyncio.to_thread(self._read_ahead, records)
                if not entries:
                    break
                for entry in entries:
                    stats.inc_value(RESPONSES_READ)
                    request = self._request_for(entry)
                    if request is not None:
                        await self._wait_for_room()
                        yield request
        finally:
            stream.close()
            for rec_type, count in file_stats.records.items():
                self.read_stats.records[rec_type] = self.read_stats.records.get(rec_type, 0) + count
            self.read_stats.damaged_regions += file_stats.damaged_regions
        digest = stream.sha256.hexdigest() if name is None else None
        size = stream.size if name is None else None
        await asyncio.to_thread(self._end_file_reading, engine, row_id, sum(file_stats.records.values()), digest, size)
        self.files_done.append(row_id)

    def _read_ahead(self, records) -> list[ArchivedResponse | SkippedRecord]:
        """The next few records, and whether their URLs are stored already, in one
        query: a thread hop and two lookups per record cost the reactor more than the
        rest of handing the record on. Few enough that what waits here stays small
        beside what the engine holds (see :meth:`_wait_for_room`)."""
        entries = list(itertools.islice(records, READ_AHEAD))
        if not self.refresh:
            urls = [entry.url for entry in entries if isinstance(entry, ArchivedResponse)]
            self.known_urls.prefetch(urls + [_canonical(url) for url in urls])
        return entries

    async def _wait_for_room(self) -> None:
        """Hold the next record back while the crawl is busy (Scrapy's lazy start).

        Scrapy keeps pulling start requests into its scheduler even while it backs out
        of sending them; an ingest's requests carry their page, so an archive would
        pile up in memory (1.7 GB after 2,500 of 10,000 records, measured). The engine
        backs out once the pages in the spider and the pipelines pass
        SCRAPER_SLOT_MAX_ACTIVE_SIZE (5 MB): that bounds what an ingest holds."""
        engine = self.crawler.engine
        scheduler = getattr(engine, "scheduler", None) or engine._slot.scheduler  # public from Scrapy 2.19
        # Polled: Scrapy sends no signal when it stops backing out. The wait doubles from
        # 1 ms up to 50 ms, so a long wait (slow workers) does not cost a wake-up every few
        # milliseconds, and a short one still resumes at once.
        delay = 0.001
        while engine.needs_backout() or (hasattr(scheduler, "__len__") and len(scheduler) >= self._max_scheduled):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _request_for(self, entry: ArchivedResponse | SkippedRecord) -> scrapy.Request | None:
        if isinstance(entry, SkippedRecord):
            self._skip(entry.reason, entry.url or f"(record at {entry.offset})", entry.detail)
            return None
        if self.since is not None and entry.archived_at < self.since:
            self.crawler.stats.inc_value(SKIPPED + Reason.BEFORE_SINCE)
            return None
        try:
            site = site_of(entry.url)
            # Made now for Scrapy's own URL checks, here rather than in the engine; handed on below.
            request = scrapy.Request(entry.url, callback=self.parse_page, errback=self.on_error, dont_filter=True)
        except ValueError as exc:
            self._skip(Reason.WARC_BAD_URL, entry.url, str(exc))
            return None
        if self.only_sites and site not in self.only_sites:
            self.crawler.stats.inc_value(SKIPPED + Reason.OTHER_SITE)
            return None
        if entry.truncated and self.fail_on_dataloss:
            # As a crawl treats a body cut short (DOWNLOAD_FAIL_ON_DATALOSS, Scrapy's default).
            self._skip(Reason.WARC_TRUNCATED, entry.url, "WARC-Truncated")
            return None
        if urlsplit(entry.url).path == "/robots.txt":
            self.crawler.stats.inc_value(SKIPPED + Reason.ROBOTS_TXT)  # read by the crawl that archived it
            return None
        if not self.refresh and (entry.url in self.known_urls or canonicalize(entry.url) in self.known_urls):
            # Stored by an earlier run (or by this ingest before it was killed): the resume path.
            self.crawler.stats.inc_value(SKIPPED + Reason.KNOWN)
            return None
        request.meta.update({
            "site": site,
            "via": "warc",
            "warc_response": entry,
            "warc_file": entry.warc_file,
            "warc_offset": entry.offset,
            "archived_at": entry.archived_at,
            # Each record is one outcome: no redirect or retry turns it into another request.
            "dont_redirect": True,
            "dont_retry": True,
            # Already as deep as listings are followed: the spider does not extract the links
            # of a listing page it could not follow anyway (~50 ms a page).
            "listing_hops": self.config.listing_depth,
        })
        return request

    # --- the warc_files rows ------------------------------------------------------

    def _begin_file(self, engine, path: str, digest: str | None, size: int | None) -> int | None:
        """The warc_files row for this file, or None when the file was ingested already."""
        now = dt.datetime.now(dt.timezone.utc)
        with Session(engine) as session, session.begin():
            if digest is not None:
                rows = session.scalars(select(WarcFile).where(WarcFile.digest == digest).order_by(WarcFile.id)).all()
                if any(r.status == "finished" for r in rows) and not self.refresh:
                    return None
                unfinished = [r for r in rows if r.status != "finished"]
                if unfinished:  # a killed ingest of this file: resume it (known articles are skipped)
                    row = unfinished[-1]
                    row.path, row.started_at = path, now
                    row.run_id = self.crawler.stats.get_value("newscrawl/run_id")
                    logger.info("Resuming the interrupted ingest of %s", path)
                    return row.id
            row = WarcFile(path=path, digest=digest, size=size, status="running", records=0, started_at=now,
                           run_id=self.crawler.stats.get_value("newscrawl/run_id"))
            session.add(row)
            session.flush()
            return row.id

    def _end_file_reading(self, engine, row_id: int, records: int, digest: str | None, size: int | None) -> None:
        with Session(engine) as session, session.begin():
            row = session.get(WarcFile, row_id)
            row.records = records
            if digest is not None:
                row.digest, row.size = digest, size

    def closed(self, reason: str) -> None:
        super().closed(reason)
        for rec_type, count in self.read_stats.records.items():
            self.crawler.stats.set_value(f"{RECORDS_READ}/{rec_type}", count)
        if self.read_stats.damaged_regions:
            self.crawler.stats.set_value("newscrawl/skipped/warc_unreadable", self.read_stats.damaged_regions)
        if reason != "finished" or not self.files_done:
            return  # a file counts as ingested only once every record read from it is through the pipeline
        engine = make_engine(self.database_url)
        try:
            with Session(engine) as session, session.begin():
                for row_id in self.files_done:
                    row = session.get(WarcFile, row_id)
                    row.status, row.finished_at = "finished", dt.datetime.now(dt.timezone.utc)
        finally:
            engine.dispose()


def site_named(name: str) -> str:
    name = name.strip().lower()
    try:
        return site_of(name if "://" in name else f"http://{name}/")
    except ValueError:
        raise ValueError(f"--site expects a site such as bbc.co.uk, got {name!r}") from None
