"""Item pipelines: extraction, then storage with dedupe.

Neither runs on the reactor thread. Extraction (trafilatura, CPU-bound) runs
in a pool of worker processes, so downloads go on and every core is used;
``NEWSCRAWL_EXTRACT_PROCESSES = 0`` runs it in-process instead, which is
simpler to debug. Storage runs in one dedicated thread: database round trips
stop blocking the reactor, and the dedupe index and site-learning caches are
only ever touched by that one thread.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from scrapy.exceptions import DropItem

from crawler import limit_malloc_arenas
from crawler.extract import ExtractionError, ExtractionOptions, extract_article
from crawler.items import PageItem
from crawler.learning import LearningSettings
from crawler.store import ArticleStore, compress_raw_html
from dedupe import DedupeSettings
from dedupe.grouping import Deduper, DocumentRecord
from models.db import make_engine, redact, resolve_database_url, upgrade

logger = logging.getLogger(__name__)


def extraction_options(settings) -> ExtractionOptions:
    return ExtractionOptions(
        agreement=settings.getbool("NEWSCRAWL_PRECISION_AGREEMENT"),
        min_text_chars=settings.getint("NEWSCRAWL_MIN_TEXT_CHARS"),
    )


def _die_with_parent() -> None:
    """Worker initializer: exit when the parent dies, even by SIGKILL (Linux).

    A killed crawl must not leave extraction workers behind: the kernel sends
    them SIGKILL when their parent (the fork server, which itself exits with
    the crawl process) goes away."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 is PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def extract_and_sign(html: str, body: bytes, url: str, fetched_at, options: ExtractionOptions, dedupe: DedupeSettings):
    """Worker-process task: the article, the dedupe signature of its text and the
    compressed raw page.

    Signing (MinHash and story terms, ~1 ms) and compressing (~3 ms) here keep
    them off the process that owns the reactor and the database."""
    article = extract_article(html, url, options)
    record = DocumentRecord(None, article.text, article.published_at, fetched_at, article.title, article.language)
    return article, signer(dedupe).signature(record), compress_raw_html(body)


_signer: Deduper | None = None


def signer(settings: DedupeSettings) -> Deduper:
    """One in-memory Deduper per worker process, used only for its ``signature``."""
    global _signer
    local = dataclasses.replace(settings, storage={"type": "dict"})  # signing never touches the index
    if _signer is None or _signer.settings != local:
        _signer = Deduper(local)
    return _signer


def dedupe_settings(settings) -> DedupeSettings:
    redis_url = settings.get("NEWSCRAWL_REDIS_URL")
    storage = {"type": "dict"}
    if redis_url:
        # Workers share one LSH index in Redis (datasketch's storage). Its keys are article
        # ids, so the index belongs to one database: the basename is derived from it.
        basename = settings.get("NEWSCRAWL_REDIS_INDEX") or "newscrawl:lsh:" + hashlib.sha1(
            redact(resolve_database_url(settings.get("DATABASE_URL"))).encode()).hexdigest()[:12]
        storage = {"type": "redis", "redis": _redis_connection(redis_url), "basename": basename.encode()}
    return DedupeSettings(
        near_duplicate_threshold=settings.getfloat("NEWSCRAWL_DEDUPE_THRESHOLD"),
        shingle_size=settings.getint("NEWSCRAWL_SHINGLE_SIZE"),
        num_perm=settings.getint("NEWSCRAWL_NUM_PERM"),
        storage=storage,
    )


def _redis_connection(url: str) -> dict:
    """redis-py connection kwargs from a redis:// URL (datasketch takes kwargs, not URLs)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    config = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 6379}
    if parts.password:
        config["password"] = parts.password
    if parts.path.strip("/").isdigit():
        config["db"] = int(parts.path.strip("/"))
    return config


def store_from_settings(engine, settings) -> ArticleStore:
    """The ArticleStore configured by Scrapy settings (crawl and reprocess share it)."""
    return ArticleStore(
        engine,
        dedupe_settings(settings),
        LearningSettings(
            min_pages=settings.getint("NEWSCRAWL_BOILERPLATE_MIN_PAGES"),
            min_share=settings.getfloat("NEWSCRAWL_BOILERPLATE_MIN_SHARE"),
        ),
        extraction_options(settings),
    )


class ExtractionPipeline:
    """Runs trafilatura on article pages; drops pages with no article text."""

    def __init__(self, options: ExtractionOptions, stats, processes: int, dedupe: DedupeSettings) -> None:
        self.options = options
        self.stats = stats
        self.processes = processes
        self.dedupe_settings = dedupe
        self.pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler):
        processes = crawler.settings.getint("NEWSCRAWL_EXTRACT_PROCESSES", -1)
        if processes < 0:
            processes = os.cpu_count() or 1
        return cls(extraction_options(crawler.settings), crawler.stats, processes, dedupe_settings(crawler.settings))

    def open_spider(self):
        if self.processes:
            # forkserver: workers start clean, without the parent's reactor and sockets; the
            # server imports the extraction code once, so each worker starts in milliseconds.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["crawler.extract", "dedupe.grouping"])
            # No max_tasks_per_child: on CPython 3.11 replacing a retired worker can hang the
            # pool for good (seen here: a 10k-page crawl stopped after 2 x 500 pages).
            self.pool = ProcessPoolExecutor(self.processes, mp_context=context, initializer=_die_with_parent)

    def close_spider(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item):
        if not isinstance(item, PageItem):
            return item
        try:
            if self.pool is not None:
                future = self.pool.submit(extract_and_sign, item.html, item.body, item.url, item.fetched_at,
                                          self.options, self.dedupe_settings)
                item.article, item.signature, item.body_compressed = await asyncio.wrap_future(future)
            else:
                item.article = extract_article(item.html, item.url, self.options)
        except ExtractionError as exc:
            self.stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            self.stats.inc_value(f"newscrawl/site/{item.site}/{exc.reason}")
            raise DropItem(f"{exc.reason}: {item.url}: {exc}") from exc
        self.stats.inc_value("newscrawl/extracted")
        return item


class StoragePipeline:
    """Writes articles and their dedupe groups to the database.

    The database is upgraded to the current schema when the spider opens, so
    a crawl works on an empty or older database.
    """

    def __init__(self, database_url: str, settings, stats) -> None:
        limit_malloc_arenas()  # before the storage thread starts: see crawler.limit_malloc_arenas
        self.database_url = database_url
        self.settings = settings
        self.stats = stats
        self.store: ArticleStore | None = None
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="newscrawl-store")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(resolve_database_url(crawler.settings.get("DATABASE_URL")), crawler.settings, crawler.stats)

    def open_spider(self):
        upgrade(self.database_url)
        self.engine = make_engine(self.database_url)
        self.store = store_from_settings(self.engine, self.settings)
        recleaned = self.store.reclean_pending()
        if recleaned:
            self.stats.inc_value("newscrawl/articles/recleaned", recleaned)
        logger.info("Storing articles in %s", redact(self.database_url))

    def close_spider(self):
        self.writer.shutdown(wait=True)
        if self.store is not None:
            self.engine.dispose()

    async def process_item(self, item):
        if not isinstance(item, PageItem) or item.article is None:
            return item
        try:
            future = self.writer.submit(
                self.store.save,
                url=item.url,
                canonical_url=item.canonical_url,
                site=item.site,
                article=item.article,
                raw_body=item.body,
                encoding=item.encoding,
                fetched_at=item.fetched_at,
                signature=item.signature,
                raw_compressed=item.body_compressed,
            )
            result = await asyncio.wrap_future(future)
        except ExtractionError as exc:  # nothing left once the site's boilerplate is removed
            self.stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            raise DropItem(f"{exc.reason}: {item.url}: {exc}") from exc
        except Exception:
            self.stats.inc_value("newscrawl/errors/storage")
            raise
        if result.recleaned:
            self.stats.inc_value("newscrawl/articles/recleaned", result.recleaned)
        item.stored_as = result.outcome
        item.article_id = result.article_id
        self.stats.inc_value(f"newscrawl/articles/{result.outcome}")
        self.stats.inc_value(f"newscrawl/site/{item.site}/stored")
        logger.info("Article %s (%s): %s", result.article_id, result.outcome, item.canonical_url)
        return item
