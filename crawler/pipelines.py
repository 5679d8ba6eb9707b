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
import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor

from scrapy.exceptions import DropItem

from crawler import limit_malloc_arenas
from crawler.extract import ExtractionError, ExtractionOptions, extract_article
from crawler.items import PageItem
from crawler.learning import LearningSettings
from crawler import workers
from crawler.store import ArticleStore, Offload
from dedupe import DedupeSettings
from models.db import make_engine, redact, resolve_database_url, upgrade

logger = logging.getLogger(__name__)


def extraction_options(settings) -> ExtractionOptions:
    return ExtractionOptions(
        agreement=settings.getbool("NEWSCRAWL_PRECISION_AGREEMENT"),
        min_text_chars=settings.getint("NEWSCRAWL_MIN_TEXT_CHARS"),
    )


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


def store_from_settings(engine, settings, offload: Offload | None = None) -> ArticleStore:
    """The ArticleStore configured by Scrapy settings (crawl and reprocess share it)."""
    return ArticleStore(
        engine,
        dedupe_settings(settings),
        LearningSettings(
            min_pages=settings.getint("NEWSCRAWL_BOILERPLATE_MIN_PAGES"),
            min_share=settings.getfloat("NEWSCRAWL_BOILERPLATE_MIN_SHARE"),
        ),
        extraction_options(settings),
        offload,
    )


class ExtractionPipeline:
    """Runs trafilatura on article pages; drops pages with no article text."""

    def __init__(self, options: ExtractionOptions, stats, pool: workers.ExtractionPool, dedupe: DedupeSettings) -> None:
        self.options = options
        self.stats = stats
        self.pool = pool
        self.dedupe_settings = dedupe

    @classmethod
    def from_crawler(cls, crawler):
        return cls(extraction_options(crawler.settings), crawler.stats, workers.ExtractionPool.for_crawler(crawler),
                   dedupe_settings(crawler.settings))

    def open_spider(self):
        self.pool.start()

    def close_spider(self):
        self.pool.shutdown()

    async def process_item(self, item):
        if not isinstance(item, PageItem):
            return item
        try:
            if self.pool.enabled:
                future = self.pool.submit(workers.extract_and_sign, item.html, item.body, item.url, item.fetched_at,
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

    def __init__(self, database_url: str, settings, stats, pool: workers.ExtractionPool) -> None:
        limit_malloc_arenas()  # before the storage thread starts: see crawler.limit_malloc_arenas
        self.database_url = database_url
        self.settings = settings
        self.stats = stats
        self.pool = pool
        self.store: ArticleStore | None = None
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="newscrawl-store")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(resolve_database_url(crawler.settings.get("DATABASE_URL")), crawler.settings, crawler.stats,
                   workers.ExtractionPool.for_crawler(crawler))

    def open_spider(self):
        upgrade(self.database_url)
        self.engine = make_engine(self.database_url)
        # Re-cleaning and re-signing run in the extraction workers too, off this process.
        self.pool.start()
        self.store = store_from_settings(self.engine, self.settings, self.pool.offload(dedupe_settings(self.settings)))
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
                warc_file=item.warc_file,
                warc_offset=item.warc_offset,
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
