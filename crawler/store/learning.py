"""Site-level boilerplate learning, persisted in the database.

Every new article page of a site counts each of its distinct blocks once.
A block becomes the site's boilerplate when it has been seen on at least
``min_pages`` distinct pages *and* on at least ``min_share`` of the site's
pages. Both conditions matter:

- ``min_pages = 3``: a paragraph a site reuses in two follow-up reports of one
  story (real content) appears on two pages and must survive;
- ``min_share = 0.1``: on a site with hundreds of stored pages, a background
  paragraph repeated across a handful of follow-ups stays well below 10% of
  pages, while template blocks (newsletter boxes, appeals, notices) sit on
  most of them.

The sample sites (4-5 articles each) and the public benchmark were used to
check both sides; see tests/test_learning.py. Learning is monotonic: once a
block is boilerplate it stays so, and the site's ``boilerplate_version`` grows,
which tells the store to re-clean already stored articles.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.page.boilerplate import block_hash
from models import SiteBlock, SiteProfile


@dataclass(frozen=True)
class LearningSettings:
    min_pages: int = 3
    min_share: float = 0.1

    def __post_init__(self) -> None:
        if self.min_pages < 2:
            raise ValueError(f"min_pages must be >= 2 (one page cannot show repetition), got {self.min_pages}")
        if not 0.0 <= self.min_share <= 1.0:
            raise ValueError(f"min_share must be between 0 and 1, got {self.min_share}")


_profiles, _blocks = SiteProfile.__table__, SiteBlock.__table__
_VERSION = select(_profiles.c.boilerplate_version).where(_profiles.c.site == bindparam("site"))
_PROFILE = select(_profiles.c.pages_seen, _profiles.c.boilerplate_version).where(_profiles.c.site == bindparam("site"))
_COUNTS = select(_blocks.c.block_hash, _blocks.c.page_count, _blocks.c.is_boilerplate).where(
    _blocks.c.site == bindparam("site"), _blocks.c.block_hash.in_(bindparam("hashes", expanding=True)))


def _insert(session: Session):
    """INSERT ... ON CONFLICT for the session's dialect (SQLite and PostgreSQL both have it)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


@lru_cache(maxsize=2)
def _upserts(insert) -> tuple:
    """The statements that add a batch's counts to the stored ones (compiled once, run with
    many parameter sets): pages and version per site, then page count and learning per block.
    A block learned in the batch was not boilerplate when read, so its ``boilerplate_since``
    is the batch's; one learned before keeps its own."""
    profiles = insert(_profiles)
    profiles = profiles.on_conflict_do_update(index_elements=[_profiles.c.site], set_={
        "pages_seen": _profiles.c.pages_seen + profiles.excluded.pages_seen,
        "boilerplate_version": _profiles.c.boilerplate_version + profiles.excluded.boilerplate_version})
    blocks = insert(_blocks)
    blocks = blocks.on_conflict_do_update(index_elements=[_blocks.c.site, _blocks.c.block_hash], set_={
        "page_count": _blocks.c.page_count + blocks.excluded.page_count,
        "is_boilerplate": or_(_blocks.c.is_boilerplate, blocks.excluded.is_boilerplate),
        "boilerplate_since": func.coalesce(_blocks.c.boilerplate_since, blocks.excluded.boilerplate_since)})
    return profiles, blocks


@dataclass
class _Page:
    """One page's count, staged until its article is kept (:meth:`SiteBoilerplate.keep`)."""

    site: str
    blocks: dict[str, str]  # block_hash -> block, each distinct block once
    newly: set[str]
    at: dt.datetime


@dataclass
class _BlockCount:
    """A block's count in the batch, not written yet."""

    pages: int
    sample: str
    first_seen_at: dt.datetime
    learned_at: dt.datetime | None = None


class SiteBoilerplate:
    """Counts blocks per site and answers "what is this site's boilerplate?".

    The learned sets are cached in memory; :meth:`remember` updates the cache
    after the caller's transaction has committed.

    Counting is per batch of pages, one transaction: :meth:`count` decides a page's new
    boilerplate from the stored counts (read once per batch) plus the batch's own,
    :meth:`keep` or :meth:`drop` settle it with its article, and :meth:`write` adds the
    batch's counts to the stored ones in two statements before the transaction commits.
    Writing each page's counts as it came (an upsert per block, RETURNING the new count)
    cost the crawl process more than the rest of storing an article. The decisions are
    the same: each page is decided on the counts of every page before it.
    """

    def __init__(self, settings: LearningSettings | None = None) -> None:
        self.settings = settings or LearningSettings()
        self._learned: dict[str, frozenset[str]] = {}
        self.discard()

    def discard(self) -> None:
        """Forget the batch (written, or failed): its counts, and the stored ones read for it
        (another writer may change them once the batch's transaction ends)."""
        self._stored: dict[str, tuple[int, int]] = {}  # site -> (pages_seen, boilerplate_version)
        self._stored_blocks: dict[tuple[str, str], tuple[int, bool]] = {}  # -> (page_count, is_boilerplate)
        self._pages: dict[str, int] = {}  # site -> pages the batch counted
        self._versions: dict[str, int] = {}  # site -> times the batch's pages taught it blocks
        self._blocks: dict[tuple[str, str], _BlockCount] = {}
        self._staged: _Page | None = None

    def learned(self, session: Session, site: str) -> frozenset[str]:
        if site not in self._learned:
            hashes = session.scalars(
                select(SiteBlock.block_hash).where(SiteBlock.site == site, SiteBlock.is_boilerplate.is_(True))
            )
            batch = (h for (s, h), c in self._blocks.items() if s == site and c.learned_at is not None)
            self._learned[site] = frozenset(hashes).union(batch)
        return self._learned[site]

    def version(self, session: Session, site: str) -> int:
        if site not in self._stored:
            # A Core query on the session's connection (the profile is only ever written by
            # Core statements, so the session holds nothing of it to flush).
            return session.connection().scalar(_VERSION, {"site": site}) or 0
        staged = self._staged is not None and self._staged.site == site and bool(self._staged.newly)
        return self._stored[site][1] + self._versions.get(site, 0) + staged

    def observe(self, session: Session, site: str, blocks: list[str], hashes: list[str] | None = None) -> set[str]:
        """Count one page's blocks and write the counts now, in ``session``'s transaction;
        return the hashes that just became boilerplate."""
        try:
            newly = self.count(session, site, blocks, hashes)
            self.keep()
            self.write(session)
        finally:
            self.discard()
        return newly

    def count(self, session: Session, site: str, blocks: list[str], hashes: list[str] | None = None) -> set[str]:
        """Count one new page's blocks, staged until :meth:`keep` or :meth:`drop`; return the
        hashes that just became boilerplate. ``hashes`` are the blocks' ``block_hash`` values,
        when the caller has them."""
        connection = session.connection()
        if site not in self._stored:
            self._stored[site] = tuple(connection.execute(_PROFILE, {"site": site}).one_or_none() or (0, 0))
        pages_seen = self._stored[site][0] + self._pages.get(site, 0) + 1
        distinct: dict[str, str] = {}
        for block, digest in zip(blocks, hashes if hashes is not None else map(block_hash, blocks)):
            distinct.setdefault(digest, block)
        unread = [h for h in distinct if (site, h) not in self._stored_blocks]
        if unread:
            for digest, count, learned in connection.execute(_COUNTS, {"site": site, "hashes": unread}):
                self._stored_blocks[site, digest] = (count, learned)
            for digest in unread:
                self._stored_blocks.setdefault((site, digest), (0, False))
        threshold = max(self.settings.min_pages, self.settings.min_share * pages_seen)
        newly = set()
        for digest in distinct:
            stored, learned = self._stored_blocks[site, digest]
            batch = self._blocks.get((site, digest))
            if batch is not None:
                stored += batch.pages
                learned = learned or batch.learned_at is not None
            if not learned and stored + 1 >= threshold:
                newly.add(digest)
        self._staged = _Page(site, distinct, newly, dt.datetime.now(dt.timezone.utc))
        return newly

    def keep(self) -> None:
        """The staged page's article is stored: its counts join the batch's."""
        page, self._staged = self._staged, None
        if page is None:
            return
        self._pages[page.site] = self._pages.get(page.site, 0) + 1
        if page.newly:
            self._versions[page.site] = self._versions.get(page.site, 0) + 1
        for digest, block in page.blocks.items():
            count = self._blocks.get((page.site, digest))
            if count is None:
                count = self._blocks[page.site, digest] = _BlockCount(0, block[:300], page.at)
            count.pages += 1
            if digest in page.newly:
                count.learned_at = page.at

    def drop(self) -> None:
        """The staged page's article is not stored: it counts for nothing."""
        self._staged = None

    def write(self, session: Session) -> None:
        """Add the batch's counts to the stored ones, in ``session``'s transaction, and
        start a new batch."""
        try:
            profiles, blocks = _upserts(_insert(session))
            connection = session.connection()
            if self._pages:
                connection.execute(profiles, [
                    {"site": site, "pages_seen": pages, "boilerplate_version": self._versions.get(site, 0)}
                    for site, pages in self._pages.items()])
            if self._blocks:
                connection.execute(blocks, [
                    {"site": site, "block_hash": digest, "sample": c.sample, "page_count": c.pages,
                     "is_boilerplate": c.learned_at is not None, "first_seen_at": c.first_seen_at,
                     "boilerplate_since": c.learned_at}
                    for (site, digest), c in self._blocks.items()])
        finally:
            self.discard()

    def remember(self, site: str, newly: set[str]) -> None:
        if newly and site in self._learned:
            self._learned[site] = self._learned[site] | newly

    def forget(self, site: str | None = None) -> None:
        if site is None:
            self._learned.clear()
            self.discard()
        else:
            self._learned.pop(site, None)
