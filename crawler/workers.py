"""The extraction worker processes: what runs in them, and how they start.

The crawl's ExtractionPipeline runs :func:`extract_and_sign` in a pool of
forkserver processes. The fork server preloads ``crawler.forkserver_preload``,
which runs :func:`warm_up` once, before any worker is forked:

- trafilatura, lxml, numpy and the dedupe code are imported;
- the English word-rarity table for story terms is built (loading wordfreq's
  list costs ~30 MB for a moment and leaves ~15 MB);
- ``gc.freeze()`` moves all of it out of the collector's reach, so the
  collector does not write to those pages and the workers keep sharing them
  with the server (copy-on-write) instead of each holding a private copy.

Each worker also returns freed heap to the system every ``TRIM_EVERY`` pages:
a worker parses pages of very different sizes, and glibc otherwise keeps the
high-water mark of the largest ones.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from crawler.page.extract import ExtractionError, ExtractionOptions, extract_article
from crawler.page.rawhtml import compress_raw_html, extract_stored_page
from crawler.page.read import read_page
from dedupe import DedupeSettings
from dedupe.grouping import Deduper, DocumentRecord, Signature
from dedupe.story import _rarity_table

if TYPE_CHECKING:
    from crawler.store.articles import Offload

logger = logging.getLogger(__name__)

TRIM_EVERY = 25  # pages between malloc_trim calls (each costs about a millisecond)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
_signer: Deduper | None = None
_tasks = 0


def warm_up() -> None:
    """Build what every worker needs, once, in the fork server (see the module doc)."""
    _rarity_table("en")
    gc.collect()
    gc.freeze()


def die_with_parent(lifeline=None) -> None:
    """Worker initializer: exit when the crawl process dies, even by SIGKILL.

    A killed crawl must not leave extraction workers behind. ``lifeline`` is the
    read end of a pipe whose only write end the crawl process holds: when that
    process dies, however, the kernel closes it and a thread here reads end of
    file and exits the worker at once. PR_SET_PDEATHSIG is kept as a second line
    (it watches the fork server, and sandboxed kernels may not honour it).

    SIGINT and SIGTERM are ignored: a Ctrl-C reaches the whole process group, and
    the crawl process, not its workers, decides how the run ends (it lets the
    pages in flight finish, then shuts the pool down)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        _libc.prctl(1, signal.SIGKILL)  # 1 is PR_SET_PDEATHSIG
    except AttributeError:
        pass
    if lifeline is not None:
        threading.Thread(target=_exit_when_closed, args=(lifeline,), name="newscrawl-lifeline", daemon=True).start()


def _exit_when_closed(lifeline) -> None:
    try:
        while True:
            lifeline.recv_bytes()  # nothing is ever sent: this returns only at end of file
    except (EOFError, OSError):
        os._exit(0)


def signer(settings: DedupeSettings) -> Deduper:
    """One in-memory Deduper per worker process, used only for its ``signature``."""
    global _signer
    local = dataclasses.replace(settings, storage={"type": "dict"})  # signing never touches the index
    if _signer is None or _signer.settings != local:
        _signer = Deduper(local)
    return _signer


def extract_and_sign(html: str, body: bytes, url: str, fetched_at, options: ExtractionOptions, dedupe: DedupeSettings):
    """Worker-process task: the article, the dedupe signature of its text and the
    compressed raw page (for an item that reached the pipelines without an article).

    Signing (MinHash and story terms, ~1 ms) and compressing (~1.6 ms) here keep
    them off the process that owns the reactor and the database."""
    try:
        article = extract_article(html, url, options)
        return (article, *_signed(article, body, fetched_at, dedupe))
    finally:
        _task_done()


def read_and_sign(body: bytes, url: str, content_type: str, fetched_at, options: ExtractionOptions,
                  dedupe: DedupeSettings):
    """Worker-process task for every fetched HTML page: the page read once
    (crawler.page.read: decoded, parsed, classified, its article extracted) and,
    for an article, its dedupe signature and compressed raw page.
    Returns (PageReading, Signature | None, bytes | None)."""
    try:
        reading = read_page(body, url, content_type, options)
        if not reading.verdict.is_article or reading.article is None:
            return reading, None, None
        return (reading, *_signed(reading.article, body, fetched_at, dedupe))
    finally:
        _task_done()


def _signed(article, body: bytes, fetched_at, dedupe: DedupeSettings) -> tuple[Signature, bytes]:
    record = DocumentRecord(None, article.text, article.published_at, fetched_at, article.title, article.language)
    return signer(dedupe).signature(record), compress_raw_html(body)


def _task_done() -> None:
    """Count a page; every TRIM_EVERY pages return freed heap to the system (see the module doc)."""
    global _tasks
    _tasks += 1
    if _tasks % TRIM_EVERY == 0:
        try:
            _libc.malloc_trim(0)
        except AttributeError:  # not glibc
            pass


def sign(record: DocumentRecord, settings: DedupeSettings) -> Signature:
    """Worker-process task: the dedupe signature of a text the store changed."""
    return signer(settings).signature(record)


class PoolLoad:
    """How well the pool was fed: the tasks submitted and not yet done, over time.

    The crawl is fast only while every worker has a page: with fewer tasks in flight
    than workers, a core waits on the crawl process (fetching, reading the archive,
    storing) rather than on extraction. ``starved_seconds`` is the time, between the
    first task and the last, with fewer tasks in flight than workers; ``mean_in_flight``
    the time-weighted mean of the tasks in flight (queued ones included) over that time.
    Crawl and ingest record them under ``newscrawl/pool/`` (crawler.pipelines)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.in_flight = 0
        self.max_in_flight = 0
        self.first: float | None = None  # monotonic time of the first submit
        self.last = 0.0  # of the last change
        self.starved_seconds = 0.0
        self._task_seconds = 0.0  # integral of in_flight over time
        self._lock = threading.Lock()  # done callbacks run in the executor's thread

    def change(self, delta: int) -> None:
        with self._lock:
            now = time.monotonic()
            if self.first is None:
                self.first = now
            else:
                elapsed = now - self.last
                self._task_seconds += self.in_flight * elapsed
                if self.in_flight < self.processes:
                    self.starved_seconds += elapsed
            self.last = now
            self.in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    @property
    def seconds(self) -> float:
        """From the first task submitted to the last change (the last task done, at the end)."""
        return self.last - self.first if self.first is not None else 0.0

    @property
    def mean_in_flight(self) -> float:
        return self._task_seconds / self.seconds if self.seconds else 0.0


class ExtractionPool:
    """The crawl's extraction processes, one pool per crawler, shared by its pipelines.

    ExtractionPipeline sends every article page here; StoragePipeline sends its
    re-extractions (re-cleaning) and re-signing, through :meth:`offload`.
    ``NEWSCRAWL_EXTRACT_PROCESSES``: 0 runs everything in-process (simpler to
    debug), -1 (the default) one worker per core.
    """

    _pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._lifeline = None  # see die_with_parent
        self.replaced = 0  # broken pools replaced during the run
        self.load = PoolLoad(processes)

    @classmethod
    def for_crawler(cls, crawler) -> ExtractionPool:
        pool = cls._pools.get(crawler)
        if pool is None:
            processes = crawler.settings.getint("NEWSCRAWL_EXTRACT_PROCESSES", -1)
            pool = cls._pools[crawler] = cls(processes if processes >= 0 else os.cpu_count() or 1)
        return pool

    @property
    def enabled(self) -> bool:
        return self.processes > 0

    def start(self) -> None:
        with self._lock:
            if not self.enabled or self._executor is not None:
                return
            # forkserver: workers start clean, without the parent's reactor and sockets; the
            # server preloads and warms the extraction code once (crawler.forkserver_preload).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["crawler.forkserver_preload"])
            self._executor = self._new_executor(context)

    def _new_executor(self, context=None) -> ProcessPoolExecutor:
        context = context or multiprocessing.get_context("forkserver")
        if self._lifeline is None:
            self._lifeline = context.Pipe(duplex=False)  # (read end for the workers, write end kept here)
        # No max_tasks_per_child: on CPython 3.11 replacing a retired worker can hang the
        # pool for good (seen here: a 10k-page crawl stopped after 2 x 500 pages).
        return ProcessPoolExecutor(self.processes, mp_context=context, initializer=die_with_parent,
                                   initargs=(self._lifeline[0],))

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A worker died (killed, out of memory): Python then fails every task of the pool
        for good (BrokenProcessPool). Start a new pool in its place, once per broken pool."""
        with self._lock:
            if self._executor is not broken:
                return  # replaced already, or shut down
            self.replaced += 1
            logger.warning("An extraction worker died; starting new workers (its pages are retried once)")
            self._executor = self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None

    def submit(self, fn, *args) -> Future:
        """``fn(*args)`` in a worker. A task whose worker died is retried once in a new
        pool; if it fails that way again it fails with ``ExtractionError("worker_crashed")``,
        which the pipelines record as a skip like any page that gave no article."""
        executor = self._executor
        if executor is None:
            raise RuntimeError("the extraction pool is not running")
        try:
            inner = executor.submit(fn, *args)
        except BrokenProcessPool:  # a worker died while the pool was idle: noticed at the next submit
            self._replace(executor)
            executor = self._executor
            if executor is None:
                raise RuntimeError("the extraction pool is not running") from None
            inner = executor.submit(fn, *args)
        outer: Future = Future()
        self.load.change(+1)
        outer.add_done_callback(lambda _: self.load.change(-1))
        self._attach(outer, executor, inner, fn, args, retried=False)
        return outer

    def _attach(self, outer: Future, executor, inner: Future, fn, args, retried: bool) -> None:
        def done(inner: Future) -> None:
            if inner.cancelled():
                outer.cancel()
                return
            exc = inner.exception()
            if isinstance(exc, BrokenProcessPool) and not retried:
                self._replace(executor)
                current = self._executor
                if current is not None:
                    try:
                        self._attach(outer, current, current.submit(fn, *args), fn, args, retried=True)
                        return
                    except RuntimeError:  # shut down meanwhile (the end of the run)
                        pass
            if isinstance(exc, BrokenProcessPool):
                exc = ExtractionError("worker_crashed", f"the extraction worker died: {exc}")
            if not outer.set_running_or_notify_cancel():
                return
            if exc is not None:
                outer.set_exception(exc)
            else:
                outer.set_result(inner.result())

        inner.add_done_callback(done)

    def call(self, fn, *args):
        """Run ``fn(*args)`` in a worker and wait (from a thread that may block); in this
        process when the pool is off or already shut down (the end of a crawl)."""
        try:
            future = self.submit(fn, *args)
        except RuntimeError:
            return fn(*args)
        return future.result()

    def offload(self, dedupe: DedupeSettings) -> Offload:
        """The store's CPU work, sent to this pool."""
        from crawler.store.articles import Offload  # not at the top: workers never import the store
        if not self.enabled:
            return Offload()
        return Offload(
            extract=lambda raw, encoding, url, options: self.call(extract_stored_page, raw, encoding, url, options),
            sign=lambda record: self.call(sign, record, dedupe),
        )

