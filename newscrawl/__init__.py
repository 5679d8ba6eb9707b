"""newscrawl from Python (notebooks, scripts).

    from newscrawl import crawl, read_articles

    result = crawl(["https://news.example/"], db="news.db")
    df = read_articles("news.db", since="2025-01-01", canonical_only=True)

``read_articles`` returns a pandas DataFrame of the ``clean_articles`` view
(docs/clean_articles.md) with typed columns: timezone-aware UTC datetimes,
``authors`` and ``tags`` as Python lists, ``is_canonical`` as bool, group ids as
nullable integers. Without pandas, ``iter_articles`` yields the same rows as
typed :class:`ArticleRecord` objects.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["ArticleRecord", "CrawlResult", "crawl", "iter_articles", "read_articles"]


@dataclass(frozen=True)
class ArticleRecord:
    """One row of ``clean_articles``, typed (the columns are documented in docs/clean_articles.md)."""

    id: int
    url: str
    canonical_url: str
    site: str
    site_name: str | None
    title: str | None
    authors: list[str]
    published_at: dt.datetime | None
    language: str | None
    text: str
    image: str | None
    section: str | None
    tags: list[str]
    fetched_at: dt.datetime
    extractor_version: str
    dup_group_id: int | None
    story_id: int | None
    is_canonical: bool
    dup_similarity: float | None
    story_similarity: float | None
    author_organisations: list[str] = field(default_factory=list)  # only when no person is named


@dataclass(frozen=True)
class CrawlResult:
    """How a crawl ended: ``exit_code`` as the command line's (0 finished, 1 failed, 3 partial,
    75 locked, 130/143 interrupted), the run's ``status`` and counts from ``crawl_runs``."""

    exit_code: int
    status: str | None
    run_id: int | None = None
    articles_new: int = 0
    articles_updated: int = 0
    errors: dict = field(default_factory=dict)
    sites: dict = field(default_factory=dict)
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def _filters(since, sites, story, canonical_only):
    from crawler.ops.export import ExportFilters
    from crawler.page.dates import parse_datetime

    if isinstance(since, str):
        parsed = parse_datetime(since)
        if parsed is None:
            raise ValueError(f"since expects an ISO 8601 date, got {since!r}")
        since = parsed
    elif isinstance(since, dt.date) and not isinstance(since, dt.datetime):
        since = dt.datetime(since.year, since.month, since.day, tzinfo=dt.timezone.utc)
    elif isinstance(since, dt.datetime) and since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    if isinstance(sites, str):
        sites = (sites,)
    return ExportFilters(since=since, sites=tuple(sites or ()), story_id=story, canonical_only=canonical_only)


def _rows(db, filters) -> Iterator[tuple]:
    from models.db import make_engine, resolve_database_url, upgrade

    url = resolve_database_url(db)
    upgrade(url)  # the view comes with the migrations
    engine = make_engine(url)
    try:
        from crawler.ops.export import iter_row_batches

        for batch in iter_row_batches(engine, filters):
            yield from batch
    finally:
        engine.dispose()


def iter_articles(db: str | None = None, *, since=None, sites: Iterable[str] | str = (), story: int | None = None,
                  canonical_only: bool = False) -> Iterator[ArticleRecord]:
    """The stored articles as typed records, in id order, streamed (constant memory).

    ``db``: a database URL or an SQLite file path (default: $NEWSCRAWL_DB, else newscrawl.db).
    Filters combine: ``since`` (ISO date string, date or datetime; naive means UTC), ``sites``,
    ``story`` (a story_id) and ``canonical_only``."""
    for row in _rows(db, _filters(since, sites, story, canonical_only)):
        record = ArticleRecord(*row)
        # The view's types decode these on every backend; None never reaches a user as a list.
        yield ArticleRecord(**{**record.__dict__, "authors": list(record.authors or []),
                               "tags": list(record.tags or []), "is_canonical": bool(record.is_canonical),
                               "author_organisations": list(record.author_organisations or [])})


def read_articles(db: str | None = None, *, since=None, sites: Iterable[str] | str = (), story: int | None = None,
                  canonical_only: bool = False):
    """The stored articles as a pandas DataFrame (needs pandas: ``pip install pandas``).

    Columns as in ``clean_articles``: ``published_at`` and ``fetched_at`` are
    ``datetime64[ns, UTC]``, ``authors``, ``tags`` and ``author_organisations`` hold lists, ``is_canonical`` is bool,
    and ``dup_group_id``/``story_id`` are nullable integers (``Int64``). Arguments as
    for :func:`iter_articles`."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("read_articles needs pandas (pip install pandas); "
                          "iter_articles gives the same rows without it") from None
    from crawler.ops.export import EXPORT_FIELDS

    records = [tuple(r.__dict__.values()) for r in iter_articles(db, since=since, sites=sites, story=story,
                                                                 canonical_only=canonical_only)]
    frame = pd.DataFrame.from_records(records, columns=EXPORT_FIELDS)
    for column in ("published_at", "fetched_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("id", "dup_group_id", "story_id"):
        frame[column] = frame[column].astype("Int64")
    frame["is_canonical"] = frame["is_canonical"].astype(bool)
    return frame


def crawl(urls: Iterable[str] | str | None = None, *, db: str | None = None, sites_file: str | None = None,
          allow_private: bool = False, refresh: bool = False, since: str | None = None,
          settings: dict[str, object] | None = None, timeout: float | None = None) -> CrawlResult:
    """Run one crawl, as ``newscrawl crawl`` does, and return how it ended.

    The crawl runs in a child process: Scrapy's reactor cannot be restarted inside
    one Python process, and a notebook calls this more than once. A usage error
    (a bad URL, setting or sites file) raises ValueError with the command's message."""
    if isinstance(urls, str):
        urls = [urls]
    argv = [sys.executable, "-m", "crawler.ops.cli", "--quiet", "crawl"]
    if db:
        argv += ["--db", str(db)]
    if sites_file:
        argv += ["--sites", str(sites_file)]
    if allow_private:
        argv.append("--allow-private")
    if refresh:
        argv.append("--refresh")
    if since:
        argv += ["--since", str(since)]
    for name, value in (settings or {}).items():
        argv += ["--set", f"{name}={value}"]
    argv += list(urls or [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    if done.returncode == 2:
        raise ValueError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "usage error")
    return _result(db, done.returncode, output)


def _result(db, code: int, output: str) -> CrawlResult:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from models import CrawlRun
    from models.db import make_engine

    try:
        engine = make_engine(db)
        try:
            with Session(engine) as session:
                run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1)).first()
                if run is None:
                    return CrawlResult(code, None, output=output)
                return CrawlResult(code, run.status, run.id, run.articles_new, run.articles_updated,
                                   dict(run.errors or {}), dict(run.sites or {}), output)
        finally:
            engine.dispose()
    except SQLAlchemyError:  # the database is what failed the crawl
        return CrawlResult(code, None, output=output)
