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

import datetime as dt
import hashlib
import io
import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.warcwriter import WARCWriter

from crawler import __version__
from crawler.page.dates import parse_datetime

logger = logging.getLogger(__name__)

# The content encodings warcio decodes while reading. Any other (br, zstd, x-gzip) keeps its
# header, and Scrapy's HttpCompressionMiddleware decodes it, as in a crawl.
DECODED_WHILE_READING = ("gzip", "deflate", "identity")


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
    if encoding in DECODED_WHILE_READING or not encoding:
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


class DigestingReader(io.RawIOBase):
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


def warc_date(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
