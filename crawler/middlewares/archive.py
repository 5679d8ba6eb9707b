"""Middlewares of web archives: answering an ingest's requests from the archive, keeping
an ingest from following links, and writing every response to WARC (``crawl --warc``)."""
from __future__ import annotations

import asyncio
import datetime as dt
import http
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from warcio.statusandheaders import StatusAndHeaders

from crawler.items import PageItem
from crawler.middlewares import ResultFilter
from crawler.outcomes import NotArchivedError
from crawler.spiders.warc import NOT_FOLLOWED
from crawler.store.warc import (
    DECODED_WHILE_READING,
    ArchivedResponse,
    RotatingWarcWriter,
    warc_date,
)

logger = logging.getLogger(__name__)



# Headers that describe the transfer, not the payload we pass on: the payload is read
# de-chunked and decoded (warcio), so these would make Scrapy decode it a second time.
_TRANSFER_HEADERS = (b"transfer-encoding", b"content-length")


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
                lowered == b"content-encoding" and value.strip().lower() in DECODED_WHILE_READING):
            continue
        headers.appendlist(name, value.encode("latin-1", "replace"))
    cls = responsetypes.from_args(headers=headers, url=archived.url, body=archived.body)
    flags = ["warc", "dataloss"] if archived.truncated else ["warc"]
    return cls(url=archived.url, status=archived.status, headers=headers, body=archived.body, request=request,
               flags=flags)


class ArchiveSpiderMiddleware(ResultFilter):
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
        warc_headers = {"WARC-Date": warc_date(dt.datetime.now(dt.timezone.utc))}
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
