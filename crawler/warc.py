"""Web archives in and out: ``newscrawl ingest`` reads WARC files, ``crawl --warc`` writes them.

**Ingest is a crawl whose responses come from the archive.** :class:`WarcIngestSpider`
is the news spider with another ``start()``: it reads the WARC files and yields one
ordinary ``Request`` per archived HTTP response, to the spider's own ``parse_page``,
carrying the record in its meta. :class:`ArchiveResponseMiddleware`, the first
downloader middleware, answers each such request with the archived response, so
nothing goes to the network, and everything after it (Scrapy's response middlewares,
kind detection, the article decision, canonical identity, extraction in the worker
pool with site learning, storage, near-duplicate groups and stories) is the crawl's
code, unchanged. :class:`ArchiveSpiderMiddleware` keeps an ingest from following
links (an archive is a closed world) and stamps each article with the record's
WARC-Date and its place in the archive.

**Every response record is accounted for**: it is stored, or ends under a
``newscrawl/skipped/<reason>`` stat (the spider's own reasons, such as ``http_404``,
``not_html`` or ``duplicate_url``, or this module's ``warc_*`` ones), or is a page
the crawl never stores (a listing, a feed: ``newscrawl/pages/...``).

**Writing** (:class:`WarcWriterMiddleware`, on with ``NEWSCRAWL_WARC_DIR``): every HTTP
response the crawl receives is written with its request to rotating ``.warc.gz``
files, one gzip member per record (the layout Common Crawl uses), as received:
still content-encoded. Articles record the file and offset of their response record.

warcio reads and writes. FastWARC (Resiliparse) reads 1.8-2.4x faster
(bench/warc_ingest.py, 2 cores: 1,280-1,600 against 660-720 response records/s, digests
verified), but at ~1.5 ms a record warcio's reading is about 4% of the CPU an ingest
spends on a record (~40 ms), and it runs in a thread beside the reactor. warcio also
de-chunks and decodes payloads with a fallback for archives that stored them decoded,
finds records whose Content-Length lies, and writes files that its own `check` validates:
one library for both directions.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import http
import io
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import __version__
from crawler.page.extract import parse_datetime
from crawler.store.incremental import KnownUrls
from crawler.items import PageItem
from crawler.spiders.news import NewsSpider
from crawler.page.urls import canonicalize, site_of
from models import WarcFile
from models.db import make_engine

logger = logging.getLogger(__name__)

# Stats (slash paths, like the crawl's).
RECORDS_READ = "newscrawl/warc/records"  # every WARC record read, by type below it
RESPONSES_READ = "newscrawl/warc/responses"  # response records handed to the spider or skipped
NOT_FOLLOWED = "newscrawl/warc/not_followed"  # requests a page led to, not made in an ingest

# Headers that describe the transfer, not the payload we pass on: the payload is read
# de-chunked and decoded (warcio), so these would make Scrapy decode it a second time.
_TRANSFER_HEADERS = (b"transfer-encoding", b"content-length")
# The content encodings warcio decodes while reading. Any other (br, zstd, x-gzip) keeps its
# header, and Scrapy's HttpCompressionMiddleware decodes it, as in a crawl.
_DECODED_WHILE_READING = ("gzip", "deflate", "identity")


class NotArchivedError(IgnoreRequest):
    """An ingest request that carries no archived response (an ingest fetches nothing)."""


@dataclass
class ArchivedResponse:
    """One archived HTTP response, as the ingest hands it to the downloader."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # de-chunked and content-decoded
    archived_at: dt.datetime  # WARC-Date
    warc_file: str | None  # None when read from stdin
    offset: int
    truncated: bool = False


@dataclass
class SkippedRecord:
    """A response record that is not handed on, and why (a newscrawl/skipped/ reason)."""

    reason: str
    url: str
    offset: int
    detail: str = ""


@dataclass
class ReadStats:
    records: dict[str, int] = field(default_factory=dict)  # WARC-Type -> count
    damaged_regions: int = 0


class _QuietArchiveIterator(ArchiveIterator):
    # warcio prints this to stderr when a record's Content-Length is wrong; we count
    # such records as damaged instead (see read_warc), so a cron run stays quiet.
    INC_RECORD = ""


# --- reading -----------------------------------------------------------------


def read_warc(stream, name: str | None, max_size: int, stats: ReadStats | None = None
              ) -> Iterator[ArchivedResponse | SkippedRecord]:
    """The response records of one WARC file (gzip-per-record or plain), in file order.

    Request, metadata, warcinfo and resource records are counted in ``stats`` and
    passed over. A record whose block digest does not match, or whose Content-Length
    disagrees with where the next record starts, is skipped as ``warc_damaged``. When
    the file cannot be parsed at some point, reading resumes at the next record
    boundary found after it (seekable files; a stream from stdin ends there)."""
    stats = stats if stats is not None else ReadStats()
    seekable = _seekable(stream)
    start = stream.tell() if seekable else 0
    while True:
        iterator = _QuietArchiveIterator(stream, check_digests=True)
        last_offset = start
        try:
            for record in iterator:
                last_offset = iterator.offset
                rec_type = record.rec_type or "unknown"
                stats.records[rec_type] = stats.records.get(rec_type, 0) + 1
                if rec_type not in ("response", "revisit"):
                    continue
                yield _response_record(iterator, record, name, max_size)
            return
        except Exception as exc:  # noqa: BLE001 - any bytes warcio cannot parse are a damaged region
            # (ArchiveLoadFailed, zlib.error, StatusAndHeadersParserException, EOFError, ...)
            failed_at = max(last_offset, getattr(iterator, "offset", last_offset) or last_offset)
            stats.damaged_regions += 1
            detail = (str(exc).strip().splitlines() or [""])[0]
            detail = detail if len(detail) <= 120 else detail[:120] + "..."  # warcio quotes the bytes it met
            logger.warning("%s: unreadable WARC data at offset %d (%s: %s)", name or "stdin", failed_at,
                           type(exc).__name__, detail.encode("ascii", "backslashreplace").decode())
            if not seekable:
                return
            start = _next_record_start(stream, failed_at + 1)
            if start is None:
                return
            stream.seek(start)


def _response_record(iterator: ArchiveIterator, record, name: str | None, max_size: int
                     ) -> ArchivedResponse | SkippedRecord:
    headers = record.rec_headers
    url = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    offset = iterator.offset
    if record.rec_type == "revisit":
        # A revisit says "same payload as an earlier capture" and holds no body.
        return SkippedRecord("warc_revisit", url, offset)
    if urlsplit(url).scheme not in ("http", "https"):
        return SkippedRecord("warc_not_http", url, offset, headers.get_header("Content-Type") or "")
    if record.http_headers is None or not record.http_headers.get_statuscode().isdigit():
        return SkippedRecord("warc_damaged", url, offset, "no HTTP response headers")
    try:
        body = _payload_stream(record).read(max_size + 1)
    except Exception as exc:  # noqa: BLE001 - a damaged payload is one record's problem
        iterator.read_to_end()
        return SkippedRecord("warc_damaged", url, offset, f"payload unreadable: {exc}")
    errors_before = iterator.err_count
    iterator.read_to_end()  # completes the digests, and finds a Content-Length that lies
    if len(body) > max_size:
        return SkippedRecord("too_large_decompressed", url, offset, f"over DOWNLOAD_MAXSIZE ({max_size} B)")
    if iterator.err_count != errors_before:
        return SkippedRecord("warc_damaged", url, offset, "Content-Length does not match the record")
    if getattr(record.raw_stream, "limit", 0) > 0:
        # The block ended before its Content-Length: the file (or the gzip member) is cut short.
        return SkippedRecord("warc_damaged", url, offset, f"{record.raw_stream.limit} bytes missing")
    checker = getattr(record, "digest_checker", None)
    if checker is not None and checker.passed is False:
        return SkippedRecord("warc_damaged", url, offset, "digest mismatch: " + "; ".join(checker.problems))
    archived_at = parse_datetime(headers.get_header("WARC-Date")) or dt.datetime.now(dt.timezone.utc)
    return ArchivedResponse(
        url=url,
        status=int(record.http_headers.get_statuscode()),
        headers=list(record.http_headers.headers),
        body=body,
        archived_at=archived_at,
        warc_file=name,
        offset=offset,
        truncated=bool(headers.get_header("WARC-Truncated")),
    )


def _payload_stream(record):
    """The record's payload, de-chunked; decoded too when warcio decodes its Content-Encoding.

    warcio decodes gzip and deflate, and falls back to the bytes as stored when they are
    not compressed (archives that stored the decoded payload under its original header).
    Other encodings (br, zstd, x-gzip) are passed on encoded, with their header, for
    Scrapy's HttpCompressionMiddleware: warcio's brotli support fails with current brotli
    releases ('Decompressor' has no 'unused_data'), and it has no zstd."""
    encoding = (record.http_headers.get_header("Content-Encoding") or "").strip().lower()
    if encoding in _DECODED_WHILE_READING or not encoding:
        return record.content_stream()
    if (record.http_headers.get_header("Transfer-Encoding") or "").strip().lower() == "chunked":
        return ChunkedDataReader(record.raw_stream, decomp_type=None)
    return record.raw_stream


def read_archived_page(warc_file: str, offset: int) -> ArchivedResponse:
    """The response record at ``offset`` in ``warc_file`` (an article's ``warc_file`` and
    ``warc_offset``): a page read back from the archive. The payload is de-chunked and
    gzip/deflate-decoded; other encodings keep their header (see :func:`_payload_stream`)."""
    with open(warc_file, "rb") as handle:
        handle.seek(offset)
        entry = next(read_warc(handle, warc_file, 1 << 62), None)
    if not isinstance(entry, ArchivedResponse) or entry.offset != offset:
        raise ValueError(f"no readable response record at offset {offset} of {warc_file}")
    return entry


def _seekable(stream) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError):
        return False


def _next_record_start(stream, position: int) -> int | None:
    """The offset of the next record at or after ``position``: a gzip member in a
    .warc.gz, a ``WARC/1.x`` version line in a plain WARC."""
    stream.seek(0)
    gzipped = stream.read(2) == b"\x1f\x8b"
    marker = b"\x1f\x8b\x08" if gzipped else b"WARC/1."
    stream.seek(position)
    carry = b""
    base = position
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            return None
        data = carry + chunk
        found = data.find(marker)
        while found != -1 and not gzipped and found > 0 and data[found - 1:found] != b"\n":
            found = data.find(marker, found + 1)
        if found != -1:
            return base - len(carry) + found
        carry = data[-(len(marker) - 1):]
        base += len(chunk)


class _DigestingReader(io.RawIOBase):
    """Passes a stream through, hashing what is read (stdin has no digest up front)."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --- the ingest crawl ----------------------------------------------------------


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
            ("DOWNLOADER_MIDDLEWARES", "crawler.warc.ArchiveResponseMiddleware", 10),
            ("EXTENSIONS", "crawler.warc.IngestProgress", 210),
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
            stream = _DigestingReader(sys.stdin.buffer)
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
                entry = await asyncio.to_thread(next, records, None)
                if entry is None:
                    break
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

    async def _wait_for_room(self) -> None:
        """Hold the next record back while the crawl is busy (Scrapy's lazy start).

        Scrapy keeps pulling start requests into its scheduler even while it backs out
        of sending them; an ingest's requests carry their page, so an archive would
        pile up in memory (1.7 GB after 2,500 of 10,000 records, measured). The engine
        backs out once the pages in the spider and the pipelines pass
        SCRAPER_SLOT_MAX_ACTIVE_SIZE (5 MB): that bounds what an ingest holds."""
        engine = self.crawler.engine
        scheduler = getattr(engine, "scheduler", None) or engine._slot.scheduler  # public from Scrapy 2.19
        while engine.needs_backout() or (hasattr(scheduler, "__len__") and len(scheduler) >= self._max_scheduled):
            await asyncio.sleep(0.005)

    def _request_for(self, entry: ArchivedResponse | SkippedRecord) -> scrapy.Request | None:
        if isinstance(entry, SkippedRecord):
            self._skip(entry.reason, entry.url or f"(record at {entry.offset})", entry.detail)
            return None
        if self.since is not None and entry.archived_at < self.since:
            self.crawler.stats.inc_value("newscrawl/skipped/before_since")
            return None
        try:
            site = site_of(entry.url)
            scrapy.Request(entry.url)  # Scrapy's own URL checks, here rather than in the engine
        except ValueError as exc:
            self._skip("warc_bad_url", entry.url, str(exc))
            return None
        if self.only_sites and site not in self.only_sites:
            self.crawler.stats.inc_value("newscrawl/skipped/other_site")
            return None
        if entry.truncated and self.fail_on_dataloss:
            # As a crawl treats a body cut short (DOWNLOAD_FAIL_ON_DATALOSS, Scrapy's default).
            self._skip("warc_truncated", entry.url, "WARC-Truncated")
            return None
        if urlsplit(entry.url).path == "/robots.txt":
            self.crawler.stats.inc_value("newscrawl/skipped/robots_txt")  # read by the crawl that archived it
            return None
        if not self.refresh and (entry.url in self.known_urls or canonicalize(entry.url) in self.known_urls):
            # Stored by an earlier run (or by this ingest before it was killed): the resume path.
            self.crawler.stats.inc_value("newscrawl/skipped/known")
            return None
        meta = {
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
            "listing_hops": self.listing_depth,
        }
        return scrapy.Request(entry.url, callback=self.parse_page, errback=self.on_error, meta=meta,
                              dont_filter=True)

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
        # An archived feed's validators must not reach fetch_state: a later crawl would get
        # a 304 for it and never read the entries this ingest did not follow.
        self.new_validators.clear()
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


class ArchiveResponseMiddleware:
    """Downloader middleware (first in line): answers an ingest's request with its
    archived response. The request never reaches a download handler; Scrapy's
    response middlewares (stats, HTTP errors, compression) run on it as on a download."""

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("NEWSCRAWL_WARC_INGEST"):
            raise NotConfigured
        return cls()

    def process_request(self, request: scrapy.Request, spider=None):
        archived: ArchivedResponse | None = request.meta.pop("warc_response", None)
        if archived is None:
            raise NotArchivedError(f"{request.url} is not in the archive being ingested")
        return archived_to_response(archived, request)


def archived_to_response(archived: ArchivedResponse, request: scrapy.Request | None = None) -> Response:
    headers = Headers()
    for name, value in archived.headers:
        lowered = name.strip().lower().encode("latin-1", "replace")
        if lowered in _TRANSFER_HEADERS or (
                lowered == b"content-encoding" and value.strip().lower() in _DECODED_WHILE_READING):
            continue
        headers.appendlist(name, value.encode("latin-1", "replace"))
    cls = responsetypes.from_args(headers=headers, url=archived.url, body=archived.body)
    flags = ["warc", "dataloss"] if archived.truncated else ["warc"]
    return cls(url=archived.url, status=archived.status, headers=headers, body=archived.body, request=request,
               flags=flags)


class ArchiveSpiderMiddleware:
    """Spider middleware for both directions.

    - Articles get where their response sits in a WARC file (``warc_file``,
      ``warc_offset`` in the response meta: set by the writer or by the ingest) and,
      in an ingest, the record's WARC-Date as ``fetched_at``.
    - In an ingest, the requests a page leads to (links, feed entries, a canonical
      URL) are not made: the archive holds what it holds, and each of its records
      is read on its own. They are counted under ``newscrawl/warc/not_followed/<via>``.
    """

    def __init__(self, stats, ingest: bool) -> None:
        self.stats = stats
        self.ingest = ingest

    @classmethod
    def from_crawler(cls, crawler):
        ingest = crawler.settings.getbool("NEWSCRAWL_WARC_INGEST")
        if not ingest and not crawler.settings.get("NEWSCRAWL_WARC_DIR"):
            raise NotConfigured
        return cls(crawler.stats, ingest)

    def _process(self, response: Response, result):
        meta = response.meta
        if isinstance(result, PageItem):
            if meta.get("warc_offset") is not None:
                result.warc_file, result.warc_offset = meta.get("warc_file"), meta["warc_offset"]
            if self.ingest and meta.get("archived_at") is not None:
                result.fetched_at = meta["archived_at"]
        elif self.ingest and isinstance(result, scrapy.Request):
            self.stats.inc_value(f"{NOT_FOLLOWED}/{result.meta.get('via', 'link')}")
            return None
        return result

    def process_spider_output(self, response, result, spider=None):
        for entry in result:
            entry = self._process(response, entry)
            if entry is not None:
                yield entry

    async def process_spider_output_async(self, response, result, spider=None):
        async for entry in result:
            entry = self._process(response, entry)
            if entry is not None:
                yield entry


class IngestProgress:
    """Progress of an ingest: records/s and articles stored, every few seconds (INFO
    log, and a line on stderr when it is a terminal)."""

    def __init__(self, stats, interval: float, tty: bool) -> None:
        self.stats = stats
        self.interval = interval
        self.tty = tty
        self._task = None
        self._started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        if not s.getbool("NEWSCRAWL_WARC_INGEST") or not s.getbool("NEWSCRAWL_PROGRESS"):
            raise NotConfigured
        ext = cls(crawler.stats, s.getfloat("NEWSCRAWL_PROGRESS_INTERVAL"), sys.stderr.isatty())
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        from twisted.internet import task

        self._started = time.monotonic()
        self._task = task.LoopingCall(self.report)
        self._task.start(self.interval, now=False)

    def line(self) -> str:
        s = self.stats.get_stats()
        seconds = max(time.monotonic() - self._started, 1e-9)
        read = int(s.get(RESPONSES_READ, 0))
        stored = sum(int(s.get(f"newscrawl/articles/{k}", 0)) for k in ("new", "updated", "unchanged"))
        skipped = sum(int(v) for k, v in s.items() if k.startswith("newscrawl/skipped/"))
        return (f"[{seconds:6.0f}s] responses read {read} ({read / seconds:.1f}/s)  articles stored {stored} "
                f"({stored / seconds:.1f}/s)  skipped {skipped}")

    def report(self) -> None:
        line = self.line()
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        else:
            logger.info("%s", line)

    def spider_closed(self, spider) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()
            if self.tty:
                print(file=sys.stderr)


# --- writing -------------------------------------------------------------------


class RotatingWarcWriter:
    """``.warc.gz`` files in one directory, a new one once the current reaches ``max_size``.

    Files are named ``newscrawl-<UTC start>-<serial>-<host>-<pid>.warc.gz`` (the
    prefix-timestamp-serial-host layout of Heritrix and Common Crawl) and begin with
    a warcinfo record. Each record is one gzip member, flushed when written, so a
    crawl killed mid-way leaves every record written before intact.
    """

    def __init__(self, directory: Path, max_size: int) -> None:
        self.directory = directory.resolve()  # articles record absolute paths
        self.max_size = max_size
        self.directory.mkdir(parents=True, exist_ok=True)
        self._stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
        self._serial = 0
        self._handle = None
        self._writer: WARCWriter | None = None
        self.path: Path | None = None
        self.files: list[Path] = []
        self._lock = threading.Lock()

    def _open(self) -> None:
        host = socket.gethostname().split(".")[0] or "localhost"
        self.path = self.directory / f"newscrawl-{self._stamp}-{self._serial:05d}-{host}-{os.getpid()}.warc.gz"
        self._serial += 1
        self._handle = self.path.open("xb")
        self._writer = WARCWriter(self._handle, gzip=True, warc_version="1.1")
        info = self._writer.create_warcinfo_record(self.path.name, {
            "software": f"newscrawl/{__version__} (Scrapy; warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "hostname": socket.gethostname(),
        })
        self._writer.write_record(info)
        self.files.append(self.path)

    def write(self, response_record, request_record) -> tuple[str, int]:
        """Writes the pair; returns (file path, offset of the response record)."""
        with self._lock:
            if self._handle is None or self._handle.tell() >= self.max_size:
                self.close()
                self._open()
            offset = self._handle.tell()
            self._writer.write_record(response_record)
            if request_record is not None:
                self._writer.write_record(request_record)
            self._handle.flush()
            return str(self.path), offset

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @property
    def writer(self) -> WARCWriter:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._open()
        return self._writer


def _http_headers(headers: Headers) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1"))
            for name, values in headers.items() for value in values]


class WarcWriterMiddleware:
    """Downloader middleware (last before the download handler): writes every HTTP
    response the crawl receives, with the request that got it, to
    ``NEWSCRAWL_WARC_DIR`` (files of ``NEWSCRAWL_WARC_MAX_SIZE`` bytes).

    It sees the response as received: before Scrapy decompresses it or follows a
    redirect. Writing (digests, gzip) runs in one thread of its own, off the reactor.
    """

    def __init__(self, directory: Path, max_size: int, stats) -> None:
        self.files = RotatingWarcWriter(directory, max_size)
        self.stats = stats
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="newscrawl-warc")

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        directory = s.get("NEWSCRAWL_WARC_DIR")
        if not directory or s.getbool("NEWSCRAWL_WARC_INGEST"):
            raise NotConfigured
        max_size = s.getint("NEWSCRAWL_WARC_MAX_SIZE")
        if max_size < 1:
            raise ValueError("NEWSCRAWL_WARC_MAX_SIZE must be a positive number of bytes")
        path = Path(directory)
        if path.exists() and not path.is_dir():
            raise ValueError(f"--warc {directory}: not a directory")
        middleware = cls(path, max_size, crawler.stats)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def process_response(self, request: scrapy.Request, response: Response, spider=None):
        if "warc" in response.flags or urlsplit(response.url).scheme not in ("http", "https"):
            return response
        future = self.executor.submit(self._write, request, response)
        path, offset = await asyncio.wrap_future(future)
        request.meta["warc_file"], request.meta["warc_offset"] = path, offset
        self.stats.inc_value("newscrawl/warc/written")
        return response

    def _write(self, request: scrapy.Request, response: Response) -> tuple[str, int]:
        writer = self.files.writer
        status = int(response.status)
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = _http_headers(response.headers)
        # The body is de-chunked by the HTTP client: say so the way Common Crawl does, and
        # give the length of what is stored, so readers do not try to de-chunk it again.
        fixed: list[tuple[str, str]] = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == "transfer-encoding" or (lowered == "content-length" and value.strip() != str(len(response.body))):
                fixed.append(("X-Crawler-" + name, value))
            elif lowered != "content-length":
                fixed.append((name, value))
        fixed.append(("Content-Length", str(len(response.body))))
        protocol = (response.protocol or "HTTP/1.1").upper()
        if not protocol.startswith("HTTP/"):
            protocol = "HTTP/1.1"
        warc_headers = {"WARC-Date": _warc_date(dt.datetime.now(dt.timezone.utc))}
        if response.ip_address is not None:
            warc_headers["WARC-IP-Address"] = str(response.ip_address)
        record = writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(response.body),
            http_headers=StatusAndHeaders(f"{status} {reason}", fixed, protocol=protocol),
            warc_headers_dict=warc_headers,
        )
        target = urlsplit(request.url)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        request_headers = [("Host", target.netloc)] + [
            (name, value) for name, value in _http_headers(request.headers) if name.lower() != "host"]
        request_record = writer.create_warc_record(
            response.url, "request", payload=io.BytesIO(request.body or b""),
            http_headers=StatusAndHeaders(f"{request.method} {path} {protocol}", request_headers,
                                          is_http_request=True),
            warc_headers_dict={"WARC-Date": warc_headers["WARC-Date"],
                               "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")},
        )
        return self.files.write(record, request_record)

    def spider_closed(self, spider) -> None:
        self.executor.shutdown(wait=True)
        self.files.close()
        if self.files.files:
            logger.info("Wrote %d WARC files: %s", len(self.files.files), ", ".join(str(p) for p in self.files.files))


def _warc_date(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the command line's side -----------------------------------------------------


def warc_paths(files: list[str], from_file: str | None) -> list[str]:
    """The WARC paths to ingest, checked before anything starts (a usage error otherwise)."""
    paths = list(files)
    if from_file:
        if from_file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            listing = Path(from_file)
            if not listing.is_file():
                raise ValueError(f"--from {from_file}: no such file")
            data = listing.read_bytes()
            if data[:2] == b"\x1f\x8b":
                import gzip

                data = gzip.decompress(data)
            lines = data.decode("utf-8", "replace").splitlines()
        paths += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not paths:
        raise ValueError("no WARC files given: pass FILE..., - for stdin, or --from LIST")
    unique: dict[str, str] = {}
    for path in paths:  # a file named twice is read once
        unique.setdefault(path if path == "-" else str(Path(path).resolve()), path)
    paths = list(unique.values())
    if paths.count("-") + (from_file == "-") > 1:
        raise ValueError("stdin (-) can be read once: as one WARC file or as the --from list, not both")
    for path in paths:
        if path == "-":
            continue
        if urlsplit(path).scheme in ("http", "https", "s3"):
            raise ValueError(f"{path}: ingest reads local files; download it first, or pipe it: "
                             f"curl -s {path} | newscrawl ingest -")
        if not Path(path).is_file():
            raise ValueError(f"no such WARC file: {path} (paths in a --from list are relative to the current "
                             f"directory)")
    return paths


def print_ingest_summary(report, out) -> None:
    records = report.by_prefix(RECORDS_READ + "/")
    if records:
        print("WARC records read: " + ", ".join(f"{k}={v}" for k, v in sorted(records.items()))
              + f"; responses {report.count(RESPONSES_READ)}", file=out)
    if report.count("newscrawl/warc/files_already_ingested"):
        print(f"Files already ingested (skipped): {report.count('newscrawl/warc/files_already_ingested')}", file=out)
    not_followed = report.by_prefix(NOT_FOLLOWED + "/")
    if not_followed:
        print("Not followed (an ingest reads the archive only): "
              + ", ".join(f"{k}={v}" for k, v in not_followed.items()), file=out)
