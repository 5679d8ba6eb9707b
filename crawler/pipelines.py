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
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from scrapy.exceptions import DropItem

from crawler import limit_malloc_arenas, workers
from crawler.config import CrawlConfig
from crawler.items import PageItem
from crawler.page.extract import ExtractionError, ExtractionOptions, extract_article
from crawler.page.htmlmeta import decode_html
from crawler.store import dbretry, runlock
from crawler.store.articles import ArticleStore, Offload
from dedupe import DedupeSettings
from models.db import make_engine, redact, resolve_database_url, upgrade

logger = logging.getLogger(__name__)


def store_from_settings(engine, settings, offload: Offload | None = None) -> ArticleStore:
    """The ArticleStore configured by Scrapy settings (crawl and reprocess share it)."""
    config = CrawlConfig.from_settings(settings)
    store = ArticleStore(engine, config.dedupe, config.learning, config.extraction, offload)
    store.limits = config.limits
    return store


class ExtractionPipeline:
    """Counts the extracted articles; extracts those that come without one (the
    spider's pages arrive extracted by the worker that classified them)."""

    def __init__(self, options: ExtractionOptions, stats, pool: workers.ExtractionPool, dedupe: DedupeSettings) -> None:
        self.options = options
        self.stats = stats
        self.pool = pool
        self.dedupe_settings = dedupe

    @classmethod
    def from_crawler(cls, crawler):
        config = CrawlConfig.of(crawler)
        return cls(config.extraction, crawler.stats, workers.ExtractionPool.for_crawler(crawler), config.dedupe)

    def open_spider(self):
        self.pool.start()

    def close_spider(self):
        self.pool.shutdown()

    async def process_item(self, item):
        if not isinstance(item, PageItem):
            return item
        try:
            if item.article is not None:
                pass
            elif self.pool.enabled:
                html, _ = decode_html(item.body, None)
                future = self.pool.submit(workers.extract_and_sign, html, item.body, item.url, item.fetched_at,
                                          self.options, self.dedupe_settings)
                item.article, item.signature, item.body_compressed = await asyncio.wrap_future(future)
            else:
                item.article = extract_article(decode_html(item.body, None)[0], item.url, self.options)
        except ExtractionError as exc:
            self.stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            self.stats.inc_value(f"newscrawl/site/{item.site}/{exc.reason}")
            self.stats.inc_value(f"newscrawl/dropped/{exc.reason}")
            raise DropItem(f"{exc.reason}: {item.url}: {exc}") from exc
        except (ValueError, TypeError, LookupError, RecursionError) as exc:
            # A page that trips an extractor bug is one page's error, never the crawl's.
            self.stats.inc_value("newscrawl/errors/extraction")
            logger.error("Extraction failed on %s: %s: %s", item.url, type(exc).__name__, exc)
            raise DropItem(f"extraction: {item.url}: {exc}") from exc
        self.stats.inc_value("newscrawl/extracted")
        return item


class StoragePipeline:
    """Writes articles and their dedupe groups to the database.

    The database is upgraded to the current schema when the spider opens, so
    a crawl works on an empty or older database.
    """

    def __init__(self, database_url: str, settings, stats, pool: workers.ExtractionPool, crawler=None) -> None:
        limit_malloc_arenas()  # before the storage thread starts: see crawler.limit_malloc_arenas
        self.database_url = database_url
        self.settings = settings
        self.stats = stats
        self.pool = pool
        self.store: ArticleStore | None = None
        self._opened = None  # the storage thread's start-up (a Future)
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="newscrawl-store")
        self.crawler = crawler
        self._stopping = False

    @classmethod
    def from_crawler(cls, crawler):
        return cls(resolve_database_url(crawler.settings.get("DATABASE_URL")), crawler.settings, crawler.stats,
                   workers.ExtractionPool.for_crawler(crawler), crawler)

    def open_spider(self):
        """Start-up, in order: the schema check (reads the Alembic revision: O(1) when at
        head), the extraction workers, then the store in the storage thread: the dedupe
        window, O(articles in the window), and pending re-cleaning, O(sites + articles
        behind) (see ArticleStore). Every save queues behind that in the same thread, so
        the crawl's first requests do not wait for it."""
        upgrade(self.database_url)
        self.engine = make_engine(self.database_url)
        runlock.guard_engine(self.engine, self.database_url)  # stop storing if the run lock is lost
        # Re-cleaning and re-signing run in the extraction workers too, off this process.
        self.pool.start()
        self._opened = self.writer.submit(self._open_store)
        logger.info("Storing articles in %s", redact(self.database_url))

    def _open_store(self) -> None:
        started = time.monotonic()
        self.store = store_from_settings(self.engine, self.settings, self.pool.offload(CrawlConfig.from_settings(self.settings).dedupe))
        self.stats.set_value("newscrawl/dedupe/window_load_seconds", round(time.monotonic() - started, 2))
        recleaned = self.store.reclean_pending()
        if recleaned:
            self.stats.inc_value("newscrawl/articles/recleaned", recleaned)

    def _save(self, **fields):
        """In the storage thread, after ``_open_store`` (the thread runs one task at a time, in order)."""
        if self.store is None:
            self._opened.result()  # raises what failed the store's start-up
        return self.store.save(**fields)

    def close_spider(self):
        self.writer.shutdown(wait=True)
        if self.store is not None:
            articles, nbytes = self.store.index_size()
            self.stats.set_value("newscrawl/dedupe/index_articles", articles)
            self.stats.set_value("newscrawl/dedupe/index_bytes", nbytes)
            self.stats.set_value("newscrawl/dedupe/window_hours", self.store.history.window / 3600)
            self.engine.dispose()

    async def process_item(self, item):
        if not isinstance(item, PageItem) or item.article is None:
            return item
        try:
            future = self.writer.submit(
                dbretry.retrying(self._save, self.settings.getfloat("NEWSCRAWL_DB_RETRY_SECONDS")),
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
            self.stats.inc_value(f"newscrawl/dropped/{exc.reason}")
            raise DropItem(f"{exc.reason}: {item.url}: {exc}") from exc
        except (dbretry.DatabaseLostError, runlock.LockLostError) as exc:
            reason = "lock_lost" if isinstance(exc, runlock.LockLostError) else "database_lost"
            self.stats.inc_value(f"newscrawl/errors/{reason}")
            await self._stop_run(reason, exc)
            raise DropItem(f"{reason}: {item.url}") from None
        except Exception:
            self.stats.inc_value("newscrawl/errors/storage")
            self.stats.inc_value("newscrawl/dropped/storage_error")
            raise
        if result.recleaned:
            self.stats.inc_value("newscrawl/articles/recleaned", result.recleaned)
        for name in result.capped:
            self.stats.inc_value(f"newscrawl/limits/{name}")
            self.stats.inc_value(f"newscrawl/site/{item.site}/limit_{name}")  # crawl_runs.sites: which site sent it
            logger.info("Article %s: %s cut to its cap (NEWSCRAWL_MAX_*)", item.canonical_url, name)
        item.stored_as = result.outcome
        item.article_id = result.article_id
        self.stats.inc_value(f"newscrawl/articles/{result.outcome}")
        self.stats.inc_value(f"newscrawl/site/{item.site}/stored")
        logger.info("Article %s (%s): %s", result.article_id, result.outcome, item.canonical_url)
        return item

    async def _stop_run(self, reason: str, exc: Exception) -> None:
        """The database is gone, or another run owns it now: storing more would lose or
        interleave work. The run ends as failed (exit 1) with one line; what is stored stays."""
        if self._stopping:
            return
        self._stopping = True
        logger.error("Stopping the crawl: %s", exc)
        if self.crawler is not None and self.crawler.engine is not None:
            # Not awaited here: closing waits for the items in the pipelines, this one included.
            self._closing = asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=reason))
