"""What earlier runs left for this one: stored URLs and feed/sitemap validators.

Validators are read once when the spider starts (in a worker thread, off the
reactor: O(feeds and sitemaps), not O(articles)) and written once when it
closes; stored URLs are checked against the database as links are found
(:class:`KnownUrls`). A run killed before closing loses only its new
validators, so the next run fetches those feeds in full: the safe direction.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Engine, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.page.sanitize import clean_text
from models import Article, FetchState
from models.db import make_engine


def load_state(database_url: str, with_known_urls: bool) -> tuple[set[str], dict[str, tuple[str | None, str | None]]]:
    """(URLs of stored articles, {feed or sitemap URL: (ETag, Last-Modified)})."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            known: set[str] = set()
            if with_known_urls:
                for url, canonical in session.execute(select(Article.url, Article.canonical_url)):
                    known.add(url)
                    known.add(canonical)
            validators = {
                url: (etag, modified)
                for url, etag, modified in session.execute(select(FetchState.url, FetchState.etag, FetchState.last_modified))
            }
    finally:
        engine.dispose()
    return known, validators


def _storable(value: str | None, chars: int) -> bool:
    return value is None or (len(value) <= chars and clean_text(value) == value)


def save_validators(database_url: str, validators: dict[str, tuple[str | None, str | None]]) -> None:
    if not validators:
        return
    now = dt.datetime.now(dt.timezone.utc)
    # A validator that does not fit its column (or holds a NUL) is not kept: the next run
    # then fetches that feed in full, the safe direction. Truncating it would never match.
    rows = [{"url": url, "etag": etag, "last_modified": modified, "fetched_at": now}
            for url, (etag, modified) in validators.items()
            if _storable(url, 2048) and _storable(etag, 512) and _storable(modified, 64)]
    if not rows:
        return
    engine = make_engine(database_url)
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    try:
        with Session(engine) as session, session.begin():
            stmt = insert(FetchState).values(rows)
            session.execute(stmt.on_conflict_do_update(
                index_elements=[FetchState.url],
                set_={"etag": stmt.excluded.etag, "last_modified": stmt.excluded.last_modified,
                      "fetched_at": stmt.excluded.fetched_at},
            ))
    finally:
        engine.dispose()


class KnownUrls:
    """URLs of stored articles (fetched and canonical), checked against the database
    as links are found, instead of loading every stored URL at start (at 1M
    articles, a set of them takes about 1 GB).

    ``url in known`` asks the database once per URL not asked before (an index
    lookup: ``canonical_url`` is unique, ``url`` has its own index); ``prefetch``
    asks for a whole listing or sitemap in batches first. Answers are kept for the
    run, so memory grows with the URLs this run meets, not with history.
    Start-up cost: none (the engine connects on first use)."""

    BATCH = 500  # URLs per query: under SQLite's and PostgreSQL's parameter limits

    def __init__(self, database_url: str | None) -> None:
        self._engine: Engine | None = make_engine(database_url) if database_url else None
        self._answers: dict[str, bool] = {}

    def prefetch(self, urls: Iterable[str | None]) -> None:
        """Look up every URL of ``urls`` not looked up yet, in a few queries."""
        todo = list({url for url in urls if url and url not in self._answers})
        if self._engine is None:
            return
        for i in range(0, len(todo), self.BATCH):
            chunk = todo[i:i + self.BATCH]
            found: set[str] = set()
            with Session(self._engine) as session:
                for url, canonical in session.execute(
                        select(Article.url, Article.canonical_url)
                        .where(or_(Article.url.in_(chunk), Article.canonical_url.in_(chunk)))):
                    found.add(url)
                    found.add(canonical)
            for url in chunk:
                self._answers[url] = url in found

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str) or not url or self._engine is None:
            return False
        if url not in self._answers:
            self.prefetch([url])
        return self._answers[url]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
