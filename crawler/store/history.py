"""The dedupe index bounded by the dedupe window, with all history one query away.

A crawl's :class:`dedupe.Deduper` holds in memory only the articles whose time
(publication, else fetch) lies inside the dedupe window around the times it
has to decide on, plus the few older articles those decisions need. Nothing
grows with the number of stored articles:

- Stories and partial copies are decided within a window already: a story's
  candidates and founder are within ``story_window_hours`` of the new article
  and a story spans at most ``story_max_span_hours``, and partial copies are
  within ``containment_window_hours``. So every article that can take part in
  those decisions for an article of time ``t`` lies in ``t ± W``, with
  ``W = story_window_hours + story_max_span_hours`` (14 days by default).
  The window ``[now - W, ∞)`` is loaded at start; an article of an older time
  loads the part of ``t ± W`` not loaded yet, once.
- Whole copies and exact copies are found across all history: through the
  content-hash index of ``articles``, and through ``article_bands`` (the same
  LSH band keys as the in-memory index, one row per band) queried with the new
  article's keys. Older articles found that way are loaded, with their group's
  founder, representative and story founder, and verified in memory exactly
  as before: the groups come out as if the whole history were loaded.

Loading reads ``article_signatures`` only (signatures plus copies of the few
article fields the index needs), never ``raw_html`` or ``text`` (except to
re-sign an article whose stored signature was made with other settings).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
from sqlalchemy import Engine, bindparam, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dedupe import DedupeSettings, Deduper, minhash_from_bytes
from dedupe.grouping import DocumentRecord, Signature
from dedupe.story import headline_terms
from dedupe.index import band_keys, candidate_params
from dedupe.signature import permutations
from models import Article, ArticleBand, ArticleSignature

logger = logging.getLogger(__name__)

_ID_BATCH = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
_SLICE_SECONDS = 86400.0  # the window is read a day at a time...
_SPARSE_ROWS = 2000  # ...unless it holds at most this many rows: then in one query


def window_hours(settings: DedupeSettings) -> float:
    """Half-width of the time window every windowed dedupe decision lies in (see the module docstring)."""
    return max(settings.containment_window_hours, settings.story_window_hours + settings.story_max_span_hours)


def stored_band_keys(minhash: np.ndarray, settings: DedupeSettings) -> np.ndarray:
    """The near-duplicate LSH band keys of a MinHash, as stored in ``article_bands``:
    the in-memory index's 32-bit keys (``dedupe.index.band_keys``, same layout) as int32."""
    return band_keys(minhash, *_layout(settings.candidate_jaccard, settings.num_perm)).view(np.int32)


@lru_cache(maxsize=8)
def _layout(candidate_jaccard: float, num_perm: int) -> tuple[int, int]:
    return candidate_params(candidate_jaccard, num_perm)


def write_band_keys(session: Session, article_id: int, minhash: np.ndarray | None, settings: DedupeSettings) -> None:
    """Add the article's band keys (keys it has already are kept: see ``ArticleBand``)."""
    if minhash is None:
        return
    rows = [{"band_key": key, "article_id": article_id} for key in stored_band_keys(minhash, settings).tolist()]
    # A Core insert on the session's connection, in its transaction: through session.execute an
    # insert of the mapped class takes the ORM's bulk-insert path, which cost more than storing
    # the rest of the article. The rows depend on nothing the session has pending.
    connection = session.connection()
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(_band_insert(insert), rows)


@lru_cache(maxsize=2)
def _band_insert(insert):
    return insert(ArticleBand.__table__).on_conflict_do_nothing()


def _timestamp(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


_COLUMNS = (
    ArticleSignature.article_id, ArticleSignature.scheme, ArticleSignature.num_perm, ArticleSignature.seed,
    ArticleSignature.shingle_size, ArticleSignature.minhash, ArticleSignature.story_terms,
    ArticleSignature.story_weights, ArticleSignature.window_time, ArticleSignature.fetched_at,
    ArticleSignature.content_hash, ArticleSignature.dup_group_id, ArticleSignature.story_id,
    # The title (not the text): story headline terms are recomputed from it (dedupe.story.headline_terms).
    Article.title, Article.language,
)


_articles, _bands = Article.__table__, ArticleBand.__table__
_BY_CONTENT_HASH = select(_articles.c.id).where(_articles.c.content_hash == bindparam("digest"))
# Both lookups in one statement (one round trip and one execution less per new article).
_BY_CONTENT_HASH_OR_BAND_KEYS = union(
    _BY_CONTENT_HASH, select(_bands.c.article_id).where(_bands.c.band_key.in_(bindparam("keys", expanding=True))))


class DedupeHistory:
    """Loads a Deduper from the database by time window and by lookup (see the module docstring).

    ``resign(session, article_id) -> (Signature, dup_group_id, story_id)`` signs an article again from its
    stored text and stores the result; it is called for stored signatures made with other settings.
    """

    def __init__(self, engine: Engine, deduper: Deduper,
                 resign: Callable[[Session, int], tuple[Signature, int, int]]) -> None:
        self.engine = engine
        self.deduper = deduper
        self.settings = deduper.settings
        self.resign = resign
        self.window = window_hours(self.settings) * 3600
        self._covered: list[tuple[float, float]] = []  # disjoint, sorted [start, end) of loaded times
        self.loaded_by_lookup = 0

    # --- the window --------------------------------------------------------------

    def load_window(self, now: dt.datetime | None = None) -> int:
        """Load the articles of the window ``[now - W, ∞)``.

        Cost: one range query on ``article_signatures.window_time`` (indexed),
        O(articles in the window) rows read, plus the out-of-window founders and
        representatives of their groups; independent of the number of stored
        articles."""
        now = now or dt.datetime.now(dt.timezone.utc)
        before = len(self.deduper)
        with Session(self.engine) as session, session.begin():
            self._load_range(session, now.timestamp() - self.window, math.inf)
        loaded = len(self.deduper) - before
        logger.info("Loaded %d articles of the dedupe window (%.0f h) into the index", loaded, self.window / 3600)
        return loaded

    def _load_range(self, session: Session, start: float, end: float) -> None:
        for lo, hi in self._uncovered(start, end):
            # One query first, capped: an old article's range (archives, CC-NEWS, back-dated
            # pages) is usually sparse, and reading it a day at a time cost 2W/1 day queries
            # per article, most of them empty. Only a range that holds more rows is read a
            # day at a time, so that only a day's rows are held at once beside the index.
            query = select(*_COLUMNS).join(Article, Article.id == ArticleSignature.article_id) \
                .where(ArticleSignature.window_time >= _datetime(lo))
            if hi != math.inf:
                query = query.where(ArticleSignature.window_time < _datetime(hi))
            rows = session.execute(query.limit(_SPARSE_ROWS + 1)).all()
            if len(rows) <= _SPARSE_ROWS:
                self._load_rows(session, rows, index=True)
                self._cover(lo, hi)
                continue
            del rows
            # (An open end is closed a day past now: later times are the rare bad dates.)
            cursor = lo
            while cursor < hi:
                step = cursor + _SLICE_SECONDS
                if hi == math.inf and cursor > time.time() + _SLICE_SECONDS:
                    step = math.inf
                step = min(step, hi)
                query = (select(*_COLUMNS).join(Article, Article.id == ArticleSignature.article_id)
                         .where(ArticleSignature.window_time >= _datetime(cursor)))
                if step != math.inf:
                    query = query.where(ArticleSignature.window_time < _datetime(step))
                # No ORDER BY: SQLite would rather scan the table in id order than sort the
                # range (the rows are loaded in id order anyway).
                self._load_rows(session, session.execute(query).all(), index=True)
                cursor = step
            self._cover(lo, hi)

    def _uncovered(self, start: float, end: float) -> list[tuple[float, float]]:
        pieces, cursor = [], start
        for lo, hi in self._covered:
            if hi <= cursor:
                continue
            if lo >= end:
                break
            if lo > cursor:
                pieces.append((cursor, lo))
            cursor = max(cursor, hi)
        if cursor < end:
            pieces.append((cursor, end))
        return pieces

    def _cover(self, start: float, end: float) -> None:
        merged: list[tuple[float, float]] = []
        for lo, hi in sorted(self._covered + [(start, end)]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        self._covered = merged

    # --- per new article -----------------------------------------------------------

    def prepare(self, session: Session, sig: Signature, exclude: int | None = None) -> None:
        """Make sure the Deduper holds every stored article that can decide ``sig``'s groups.

        Cost per new article: two indexed queries (content hash; its band keys in
        ``article_bands``), plus a range query when its time lies outside the
        loaded window. ``exclude``: the new article's own id (already flushed)."""
        if sig.time is not None:
            self._load_range(session, sig.time - self.window, sig.time + self.window)
        # Core queries on the session's connection: nothing is pending in the session here
        # (an article's rows are flushed before it is looked up again), and the ORM's
        # execution path cost more than the queries themselves.
        connection = session.connection()
        if sig.minhash is None:
            found = set(connection.scalars(_BY_CONTENT_HASH, {"digest": sig.content_hash}))
        else:
            keys = stored_band_keys(sig.minhash, self.settings).tolist()
            found = set(connection.scalars(_BY_CONTENT_HASH_OR_BAND_KEYS, {"digest": sig.content_hash, "keys": keys}))
        found.discard(exclude)
        missing = [article_id for article_id in found if article_id not in self.deduper]
        if missing:
            self.loaded_by_lookup += self.load_ids(session, missing, index=True)

    def load_ids(self, session: Session, ids: Iterable[int], index: bool) -> int:
        """Load these articles (with what their groups need); returns how many were loaded."""
        before = len(self.deduper)
        self._load_rows(session, self._rows_by_id(session, ids), index)
        return len(self.deduper) - before

    def _rows_by_id(self, session: Session, ids: Iterable[int]) -> list:
        ids = sorted(set(ids))
        rows = []
        for i in range(0, len(ids), _ID_BATCH):
            rows += session.execute((select(*_COLUMNS).join(Article, Article.id == ArticleSignature.article_id)
                                     .where(ArticleSignature.article_id.in_(ids[i:i + _ID_BATCH])))).all()
        return rows

    def _load_rows(self, session: Session, rows: list, index: bool) -> None:
        """Load ``rows`` (of ``_COLUMNS``) and the articles their groups refer to.

        A member refers to its group's founder, its story's founder and its
        group's representative; those must be in the Deduper for verification
        (partial copies are checked against the founder, stories against theirs,
        the representative decides ``is_canonical``). Founders have smaller ids
        than their members, so loading in id order puts them first."""
        deduper = self.deduper
        batch = {row.article_id: row for row in rows if row.article_id not in deduper}
        if not batch:
            return
        # Founders of groups and stories, two levels (a group's founder belongs to a story
        # founded by another article, whose own group and story are its own).
        for _ in range(2):
            wanted = {ref for row in batch.values() for ref in (row.dup_group_id, row.story_id)
                      if ref is not None and ref not in batch and ref not in deduper}
            if not wanted:
                break
            batch.update((row.article_id, row) for row in self._rows_by_id(session, wanted))
        representatives = self._representatives(session, {row.dup_group_id or row.article_id for row in batch.values()})
        extra = [rep for rep in representatives.values() if rep not in batch and rep not in deduper]
        if extra:
            batch.update((row.article_id, row) for row in self._rows_by_id(session, extra))
        ordered = [batch[article_id] for article_id in sorted(batch)]
        loaded = [self._signature(session, row) for row in ordered]
        story_minhashes = self._story_minhashes([sig for sig, _, _ in loaded])
        sigs = [sig if story_minhash is None or sig.story_minhash is not None
                else dataclasses.replace(sig, story_minhash=story_minhash)
                for (sig, _, _), story_minhash in zip(loaded, story_minhashes)]
        deduper.load_many([row.article_id for row in ordered], sigs, [group for _, group, _ in loaded],
                          [story for _, _, story in loaded], index=index)
        for group, rep in representatives.items():
            if group != rep:
                deduper.set_representative(group, rep)

    def _story_minhashes(self, sigs: list[Signature]) -> list[np.ndarray | None]:
        """The MinHash of each signature's story terms, for the story index, all at once:
        ``minhash_values(terms, story_num_perm, seed + 1)`` per signature costs more than
        the rest of loading it. A term set is padded with its own first term, which leaves
        its minimum, hence its MinHash, unchanged."""
        s = self.settings
        width = max((len(sig.terms) for sig in sigs), default=0)
        if not width:
            return [None] * len(sigs)
        padded = np.empty((len(sigs), width), dtype=np.uint64)
        for i, sig in enumerate(sigs):
            if len(sig.terms):
                padded[i, :len(sig.terms)] = sig.terms
                padded[i, len(sig.terms):] = sig.terms[0]
            else:
                padded[i] = 0
        a, b = permutations(s.story_num_perm, s.seed + 1)
        with np.errstate(over="ignore"):  # arithmetic mod 2**64, as in minhash_values
            values = ((a[None, :, None] * padded[:, None, :] + b[None, :, None]) >> np.uint64(32)).min(axis=2)
        values = values.astype(np.uint32)
        return [values[i] if len(sig.terms) else None for i, sig in enumerate(sigs)]

    @staticmethod
    def _representatives(session: Session, groups: set[int]) -> dict[int, int]:
        """group id -> its canonical article (covered by ix_articles_dup_group_id_is_canonical)."""
        found: dict[int, int] = {}
        ordered = sorted(groups)
        for i in range(0, len(ordered), _ID_BATCH):
            for group, article_id in session.execute(
                    select(Article.dup_group_id, Article.id)
                    .where(Article.dup_group_id.in_(ordered[i:i + _ID_BATCH]), Article.is_canonical.is_(True))):
                found[group] = article_id
        return found

    def _signature(self, session: Session, row) -> tuple[Signature, int, int]:
        s = self.settings
        group = row.dup_group_id or row.article_id
        if (row.story_terms is None or row.window_time is None
                or (row.scheme, row.num_perm, row.seed, row.shingle_size) != (s.scheme, s.num_perm, s.seed, s.shingle_size)):
            return self.resign(session, row.article_id)
        sig = Signature(
            minhash_from_bytes(row.minhash) if row.minhash else None,
            np.frombuffer(row.story_terms, dtype="<u4").astype(np.uint32),
            np.frombuffer(row.story_weights, dtype="<f4").astype(np.float32),
            row.content_hash,
            _timestamp(row.window_time),
            _timestamp(row.fetched_at),
            headline=headline_terms(row.title, row.language),
        )
        return sig, group, row.story_id or group


def _datetime(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(max(timestamp, 0.0), dt.timezone.utc)


def record_of(row: Article) -> DocumentRecord:
    return DocumentRecord(row.id, row.text, row.published_at, row.fetched_at, row.title, row.language)
