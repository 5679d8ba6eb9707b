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
import collections
import logging
import threading
import time
from concurrent.futures import Future

from scrapy.exceptions import DropItem

from crawler import limit_malloc_arenas, return_freed_memory, workers
from crawler.config import CrawlConfig
from crawler.items import PageItem
from crawler.page.encoding import decode_html
from crawler.page.extract import ExtractionError, ExtractionOptions, extract_article
from crawler.store import dbretry, runlock
from crawler.store.articles import ArticleStore, Offload
from dedupe import DedupeSettings
from models.db import make_engine, redact, resolve_database_url, upgrade

logger = logging.getLogger(__name__)

# The storage thread returns the process's freed heap to the system at most this often.
# The page bodies, readings and batches that pass through leave free holes between
# long-lived objects, which glibc keeps (about 80 MB at 10k pages) unless trimmed.
TRIM_SECONDS = 1.0


def store_from_settings(engine, settings, offload: Offload | None = None,
                        config: CrawlConfig | None = None) -> ArticleStore:
    """The ArticleStore configured by Scrapy settings (crawl and reprocess share it);
    ``config``: the crawl's, already read from them."""
    config = config or CrawlConfig.from_settings(settings)
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
        load = self.pool.load
        if load.seconds:
            self.stats.set_value("newscrawl/pool/processes", self.pool.processes)
            self.stats.set_value("newscrawl/pool/seconds", round(load.seconds, 2))
            self.stats.set_value("newscrawl/pool/starved_seconds", round(load.starved_seconds, 2))
            self.stats.set_value("newscrawl/pool/mean_in_flight", round(load.mean_in_flight, 1))
            self.stats.set_value("newscrawl/pool/max_in_flight", load.max_in_flight)

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
    """Writes articles and their dedupe groups to the database, in batches.

    The database is upgraded to the current schema when the spider opens (in a
    thread: the reactor keeps running), so a crawl works on an empty or older database.

    One storage thread owns the store: it opens it (the dedupe window, pending
    re-cleaning), then stores the articles queued by ``process_item`` in batches of
    at most ``NEWSCRAWL_STORE_BATCH_SIZE`` articles, one transaction each
    (ArticleStore.save_batch). A batch waits at most ``NEWSCRAWL_STORE_BATCH_SECONDS``
    after its first article for more; what is queued when the spider closes is stored
    before it closes. One transaction per article cost a commit, a session and a
    checkout per article; a batch pays them once.
    """

    def __init__(self, database_url: str, settings, stats, pool: workers.ExtractionPool, crawler=None) -> None:
        limit_malloc_arenas()  # before the storage thread starts: see crawler.limit_malloc_arenas
        self.database_url = database_url
        self.settings = settings
        self.stats = stats
        self.pool = pool
        self.store: ArticleStore | None = None
        self.crawler = crawler
        self._stopping = False
        self.config = CrawlConfig.of(crawler) if crawler is not None else CrawlConfig.from_settings(settings)
        self.batch_size, self.batch_seconds = self.config.store_batch_size, self.config.store_batch_seconds
        self._queue: collections.deque[tuple[dict, Future]] = collections.deque()
        self._wakeup = threading.Condition()
        self._closed = False
        self._open_error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(resolve_database_url(crawler.settings.get("DATABASE_URL")), crawler.settings, crawler.stats,
                   workers.ExtractionPool.for_crawler(crawler), crawler)

    async def open_spider(self):
        """Start-up, in order: the schema check (reads the Alembic revision: O(1) when at
        head), in a thread; the extraction workers; then the storage thread, which opens
        the store: the dedupe window, O(articles in the window), and pending re-cleaning,
        O(sites + articles behind) (see ArticleStore). Saves queue behind that, so the
        crawl's first requests do not wait for it."""
        await asyncio.to_thread(upgrade, self.database_url)
        self.engine = make_engine(self.database_url)
        runlock.guard_engine(self.engine, self.database_url)  # stop storing if the run lock is lost
        # Re-cleaning and re-signing run in the extraction workers too, off this process.
        self.pool.start()
        self._thread = threading.Thread(target=self._run, name="newscrawl-store", daemon=True)
        self._thread.start()
        logger.info("Storing articles in %s", redact(self.database_url))

    def _open_store(self) -> None:
        started = time.monotonic()
        self.store = store_from_settings(self.engine, self.settings, self.pool.offload(self.config.dedupe), self.config)
        self.stats.set_value("newscrawl/dedupe/window_load_seconds", round(time.monotonic() - started, 2))
        reprocessed = self.store.reprocess_pending()
        if reprocessed:
            self.stats.inc_value("newscrawl/articles/reprocessed", reprocessed)

    def _run(self) -> None:
        """The storage thread: open the store, then store batches until closed and drained."""
        try:
            self._open_store()
        except BaseException as exc:  # every save fails with it (the run then stops on it)
            self._open_error = exc
        seconds = self.settings.getfloat("NEWSCRAWL_DB_RETRY_SECONDS")
        # Two steps, each retried on its own: once a batch has committed, a lost connection
        # while re-cleaning must not store the batch again (its articles would be found
        # stored, and the re-cleaning their new boilerplate calls for never done).
        commit = dbretry.retrying(self._commit_batch, seconds)
        finish = dbretry.retrying(self._finish_batch, seconds)
        trimmed = time.monotonic()
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if time.monotonic() - trimmed >= TRIM_SECONDS:
                return_freed_memory()
                trimmed = time.monotonic()
            # Every article of the batch is stored, also one whose waiter was cancelled;
            # outcomes pair with the batch's futures by position.
            running = [future.set_running_or_notify_cancel() for _, future in batch]
            try:
                outcomes = finish(commit([fields for fields, _ in batch]))
            except BaseException as exc:  # the whole batch failed: each of its articles says so
                for (_, future), live in zip(batch, running):
                    if live:
                        future.set_exception(exc)
                continue
            for (_, future), live, outcome in zip(batch, running, outcomes):
                if not live:
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _next_batch(self) -> list[tuple[dict, Future]] | None:
        """Up to batch_size queued saves, waiting at most batch_seconds after the first for
        more; None once closed with nothing left."""
        with self._wakeup:
            while not self._queue and not self._closed:
                self._wakeup.wait()
            if not self._queue:
                return None
            deadline = time.monotonic() + self.batch_seconds
            while len(self._queue) < self.batch_size and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.wait(remaining)
            return [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]

    def _commit_batch(self, batch: list[dict]):
        if self._open_error is not None:
            raise self._open_error
        started = time.monotonic()
        stored = self.store.commit_batch(batch)
        self.stats.inc_value("newscrawl/store/batches")
        self.stats.max_value("newscrawl/store/max_batch_articles", len(batch))
        self.stats.inc_value("newscrawl/store/milliseconds", round((time.monotonic() - started) * 1000))
        return stored

    def _finish_batch(self, stored) -> list:
        started = time.monotonic()
        outcomes = self.store.finish_batch(stored)
        self.stats.inc_value("newscrawl/store/milliseconds", round((time.monotonic() - started) * 1000))
        return outcomes

    def _submit(self, fields: dict) -> Future:
        future: Future = Future()
        with self._wakeup:
            if self._closed:
                raise RuntimeError("the storage pipeline is closed")
            self._queue.append((fields, future))
            if len(self._queue) >= self.batch_size:
                self._wakeup.notify()
            elif len(self._queue) == 1:
                self._wakeup.notify()  # an idle storage thread starts a batch's clock
        return future

    async def close_spider(self):
        """Store what is queued, then stop the storage thread (waited for in a thread)."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
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
            future = self._submit(dict(
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
            ))
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
        if result.reprocessed:
            self.stats.inc_value("newscrawl/articles/reprocessed", result.reprocessed)
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
