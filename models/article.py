from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime


class Article(Base):
    """One stored news article, keyed by its canonical URL.

    Public interface: downstream tools read this table. Column meanings are
    documented in docs/articles.md; change them only through a migration.
    """

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)  # the URL the page was fetched from (after redirects)
    canonical_url: Mapped[str] = mapped_column(String(2048), unique=True)
    site: Mapped[str] = mapped_column(String(255))  # registered domain, or host:port for IP hosts
    site_name: Mapped[str | None] = mapped_column(String(255))  # as the site names itself (og:site_name)
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Organisations named as the author (agency, desk, the site), only when no person is named.
    author_organisations: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=sql_text("'[]'"))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)  # the page's lead image URL (og:image)
    section: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=sql_text("'[]'"))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    raw_html: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed response body
    raw_encoding: Mapped[str] = mapped_column(String(64))
    extractor_version: Mapped[str] = mapped_column(String(64))
    # Audit of the cleaning: hashes of the extractor's raw blocks, what was removed and
    # why, and the site's boilerplate version the text was cleaned with.
    block_hashes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=sql_text("'[]'"))
    removed_blocks: Mapped[list[dict]] = mapped_column(JSON, default=list, server_default=sql_text("'[]'"))
    boilerplate_version: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    dup_group_id: Mapped[int | None] = mapped_column(Integer, index=True)
    dup_similarity: Mapped[float | None] = mapped_column()
    # The group's canonical representative: earliest published, then earliest fetched.
    is_canonical: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    story_similarity: Mapped[float | None] = mapped_column()
    # Where the page sits in a WARC file: written by `crawl --warc`, or read by `ingest`.
    warc_file: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)  # byte offset of the response record

    signature: Mapped[ArticleSignature | None] = relationship(
        back_populates="article", cascade="all, delete-orphan", uselist=False
    )

    def __repr__(self) -> str:
        return f"Article(id={self.id!r}, canonical_url={self.canonical_url!r})"


class ArticleSignature(Base):
    """The dedupe signature of an article's cleaned text: MinHash as LeanMinHash bytes,
    and the story terms.

    ``scheme``, ``num_perm`` and ``seed`` are stored with the bytes because
    signatures made with different settings (datasketch changed its default
    hash scheme in 2.0) are not comparable.
    """

    __tablename__ = "article_signatures"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(32))
    num_perm: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    shingle_size: Mapped[int] = mapped_column(Integer)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    # Story representation: salient-term hashes (uint32, little-endian) and their weights (float32).
    story_terms: Mapped[bytes | None] = mapped_column(LargeBinary)
    story_weights: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Copies of the article's fields that the dedupe index is loaded with, so that loading
    # it reads this narrow table only. (SQLite reads a row's columns in order: reaching
    # any articles column after raw_html reads the whole compressed page.)
    # ``window_time`` is the publication time, else the fetch time: what the dedupe
    # window is measured on. Groups never change once assigned, so the copies stay true.
    window_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    dup_group_id: Mapped[int | None] = mapped_column(Integer)
    story_id: Mapped[int | None] = mapped_column(Integer)

    article: Mapped[Article] = relationship(back_populates="signature")


class ArticleBand(Base):
    """The MinHash LSH band keys of every stored article, for near-duplicate lookups
    across all history (the in-memory index holds only the dedupe window).

    One row per band of an article's MinHash (``dedupe.index.band_keys``: 32-bit keys,
    stored as signed integers). A new article's keys are looked up here; every
    candidate is verified on its stored signature. Rows of an edited article's old
    text stay behind (only making it a candidate where it no longer belongs), as in
    the in-memory index; there is no foreign key, so that they cost no second index.
    """

    __tablename__ = "article_bands"
    __table_args__ = {"sqlite_with_rowid": False}  # the primary key is the table: half the size

    band_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(Integer, primary_key=True)


Index("ix_articles_site_published_at", Article.site, Article.published_at)
# Known-URL checks: a hash index on PostgreSQL, where a B-tree refuses entries over ~2.7 KB.
Index("ix_articles_url", Article.url, postgresql_using="hash")
# Start-up and reporting queries answered from an index alone, without reading article rows
# (on SQLite, reaching a column after raw_html reads the compressed page): pending
# re-cleaning per site, per-site health (status, report), a group's representative, story
# sizes and times (report). Few, because building each reads the whole table once.
Index("ix_articles_site_boilerplate_version_fetched_at_published_at",
      Article.site, Article.boilerplate_version, Article.fetched_at, Article.published_at)
Index("ix_articles_dup_group_id_is_canonical", Article.dup_group_id, Article.is_canonical)
Index("ix_articles_story_id_published_at_fetched_at", Article.story_id, Article.published_at, Article.fetched_at)


class SiteProfile(Base):
    """What newscrawl has learned about one site."""

    __tablename__ = "site_profiles"

    site: Mapped[str] = mapped_column(String(255), primary_key=True)
    pages_seen: Mapped[int] = mapped_column(Integer, default=0)  # distinct article pages counted
    boilerplate_version: Mapped[int] = mapped_column(Integer, default=0)  # grows with the learned set


class SiteBlock(Base):
    """A text block seen on a site's pages, counted once per distinct page.

    A block that recurs on enough distinct pages is the site's boilerplate
    (``is_boilerplate``); once learned it stays learned.
    """

    __tablename__ = "site_blocks"
    __table_args__ = (UniqueConstraint("site", "block_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255))
    block_hash: Mapped[str] = mapped_column(String(16))
    sample: Mapped[str] = mapped_column(Text)  # the block's text as first seen, for audit
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    is_boilerplate: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    boilerplate_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CrawlRun(Base):
    """One crawl: when, what it was asked to do, and what happened."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # NULL: running, or killed
    status: Mapped[str] = mapped_column(String(32))  # running | finished | partial | failed | interrupted
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    start_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    articles_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skips: Mapped[dict] = mapped_column(JSON, default=dict)  # reason -> count
    errors: Mapped[dict] = mapped_column(JSON, default=dict)  # reason -> count
    sites: Mapped[dict] = mapped_column(JSON, default=dict)  # site -> {"article_pages": n, "stored": m}
    # What became of every fetched page: crawler.extensions.completeness (NULL for runs before 0012).
    completeness: Mapped[dict | None] = mapped_column(JSON)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


class FetchState(Base):
    """Validators of feeds and sitemaps, for conditional GET on the next crawl."""

    __tablename__ = "fetch_state"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DeadEnd(Base):
    """URLs that answered 404/410, or failed NEWSCRAWL_DEAD_END_FAILURES runs in a row:
    not requested again until ``dead_until`` (crawler.middlewares.deadends)."""

    __tablename__ = "dead_ends"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    site: Mapped[str] = mapped_column(String(255), index=True)
    reason: Mapped[str] = mapped_column(String(64))  # the last failure: http_404, http_410, timeout, dns, http_503...
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed fetches in a row (across runs)
    first_failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Not requested before this time; None: failing, not (yet) a dead end.
    dead_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WarcFile(Base):
    """A WARC file given to ``newscrawl ingest``: by path and SHA-256 of its bytes.

    A file whose digest has a finished row is not ingested again; a row left
    ``running`` (the ingest was killed) is resumed by the next ingest of the file.
    """

    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)  # as given, made absolute; "-" for stdin
    digest: Mapped[str | None] = mapped_column(String(64), index=True)  # SHA-256 hex of the file's bytes
    size: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))  # running | finished
    records: Mapped[int] = mapped_column(Integer, default=0)  # WARC records read
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)  # the crawl_runs row of the ingest
