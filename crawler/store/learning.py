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

from sqlalchemy import bindparam, select, update
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


_VERSION = select(SiteProfile.__table__.c.boilerplate_version).where(SiteProfile.__table__.c.site == bindparam("site"))


def _insert(session: Session):
    """INSERT ... ON CONFLICT for the session's dialect (SQLite and PostgreSQL both have it)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


class SiteBoilerplate:
    """Counts blocks per site and answers "what is this site's boilerplate?".

    The learned sets are cached in memory; :meth:`remember` updates the cache
    after the caller's transaction has committed.
    """

    def __init__(self, settings: LearningSettings | None = None) -> None:
        self.settings = settings or LearningSettings()
        self._learned: dict[str, frozenset[str]] = {}

    def learned(self, session: Session, site: str) -> frozenset[str]:
        if site not in self._learned:
            hashes = session.scalars(
                select(SiteBlock.block_hash).where(SiteBlock.site == site, SiteBlock.is_boilerplate.is_(True))
            )
            self._learned[site] = frozenset(hashes)
        return self._learned[site]

    def version(self, session: Session, site: str) -> int:
        # A Core query on the session's connection (the profile is only ever written by
        # Core statements, so the session holds nothing of it to flush).
        version = session.connection().scalar(_VERSION, {"site": site})
        return version or 0

    def observe(self, session: Session, site: str, blocks: list[str], hashes: list[str] | None = None) -> set[str]:
        """Count one new page's blocks; return the hashes that just became boilerplate.
        ``hashes`` are the blocks' ``block_hash`` values, when the caller has them."""
        # Core statements on the session's connection, in its transaction: they touch only
        # site_profiles and site_blocks, which the session never holds objects of, and the
        # ORM's execution path cost as much as the statements.
        connection = session.connection()
        insert = _insert(session)
        now = dt.datetime.now(dt.timezone.utc)
        # One atomic upsert counts the page, under concurrent writers too.
        profiles = SiteProfile.__table__
        pages_seen = connection.execute(
            insert(profiles)
            .values(site=site, pages_seen=1, boilerplate_version=0)
            .on_conflict_do_update(index_elements=[profiles.c.site], set_={"pages_seen": profiles.c.pages_seen + 1})
            .returning(profiles.c.pages_seen)
        ).scalar_one()
        distinct = {}
        for block, digest in zip(blocks, hashes if hashes is not None else map(block_hash, blocks)):
            distinct.setdefault(digest, block)
        if not distinct:
            return set()
        # One statement run with many parameter sets: SQLAlchemy compiles it once and
        # caches it (a multi-VALUES .values([...]) is compiled anew for every page, which
        # cost more than the rest of storing an article). RETURNING gives each block's
        # new count, so no second query looks them up.
        table = SiteBlock.__table__
        upsert = (
            insert(table)
            .on_conflict_do_update(
                index_elements=[table.c.site, table.c.block_hash],
                set_={"page_count": table.c.page_count + 1},
            )
            .returning(table.c.block_hash, table.c.page_count, table.c.is_boilerplate)
        )
        counted = connection.execute(
            upsert,
            [
                {"site": site, "block_hash": h, "sample": text[:300], "page_count": 1, "is_boilerplate": False,
                 "first_seen_at": now}
                for h, text in distinct.items()
            ],
        ).all()
        threshold = max(self.settings.min_pages, self.settings.min_share * pages_seen)
        newly = {digest for digest, count, learned in counted if not learned and count >= threshold}
        if newly:
            session.execute(
                update(SiteBlock)
                .where(SiteBlock.site == site, SiteBlock.block_hash.in_(newly))
                .values(is_boilerplate=True, boilerplate_since=now)
            )
            session.execute(
                update(SiteProfile)
                .where(SiteProfile.site == site)
                .values(boilerplate_version=SiteProfile.boilerplate_version + 1)
            )
        return newly

    def remember(self, site: str, newly: set[str]) -> None:
        if newly and site in self._learned:
            self._learned[site] = self._learned[site] | newly

    def forget(self, site: str | None = None) -> None:
        if site is None:
            self._learned.clear()
        else:
            self._learned.pop(site, None)
