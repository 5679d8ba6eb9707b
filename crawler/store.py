"""ArticleStore: transactional writes of articles with their dedupe groups.

One article, its signature and its group ids are written in one transaction;
the in-memory LSH index learns about the article only after that transaction
commits. A crash at any point leaves either the whole article or nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import zlib
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dedupe import Deduper, DedupeSettings, DocumentRecord, content_hash, minhash_from_bytes, minhash_to_bytes
from crawler.extract import EXTRACTOR_VERSION, ExtractedArticle
from models import Article, ArticleSignature

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaveResult:
    outcome: str  # new | updated | unchanged
    article_id: int
    dup_group_id: int | None
    story_id: int | None


class ArticleStore:
    def __init__(self, engine: Engine, dedupe_settings: DedupeSettings | None = None) -> None:
        self.engine = engine
        self.deduper = Deduper(dedupe_settings)
        self._load_index()

    def _load_index(self) -> None:
        """Rebuild the in-memory index from stored signatures (no re-hashing)."""
        s = self.deduper.settings
        query = (
            select(Article.id, Article.content_hash, Article.dup_group_id, Article.story_id, ArticleSignature)
            .outerjoin(ArticleSignature, ArticleSignature.article_id == Article.id)
            .order_by(Article.id)
        )
        with Session(self.engine) as session:
            for article_id, digest, group, story, sig in session.execute(query):
                minhash = None
                if sig is not None and (sig.scheme, sig.num_perm, sig.seed, sig.shingle_size) == (
                    s.scheme, s.num_perm, s.seed, s.shingle_size
                ):
                    minhash = minhash_from_bytes(sig.minhash)
                self.deduper.load(article_id, minhash, digest, group or article_id, story or group or article_id)
        logger.info("Loaded %d stored articles into the dedupe index", len(self.deduper))

    def save(
        self,
        *,
        url: str,
        canonical_url: str,
        site: str,
        article: ExtractedArticle,
        raw_body: bytes,
        encoding: str,
        fetched_at: dt.datetime,
    ) -> SaveResult:
        digest = content_hash(article.text)
        try:
            return self._save(url, canonical_url, site, article, raw_body, encoding, fetched_at, digest)
        except IntegrityError:
            # Another writer stored the same canonical URL between our check and
            # our insert; theirs stands.
            with Session(self.engine) as session:
                existing = session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one()
                return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id)

    def _save(self, url, canonical_url, site, article, raw_body, encoding, fetched_at, digest) -> SaveResult:
        assignment = None
        with Session(self.engine) as session, session.begin():
            existing = session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one_or_none()
            if existing is not None and existing.content_hash == digest:
                return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id)
            row = existing or Article(canonical_url=canonical_url)
            row.url = url
            row.site = site
            row.site_name = article.site_name
            row.title = article.title
            row.authors = list(article.authors)
            row.published_at = article.published_at
            row.language = article.language
            row.text = article.text
            row.content_hash = digest
            row.raw_html = zlib.compress(raw_body, 6)
            row.raw_encoding = encoding
            row.extractor_version = EXTRACTOR_VERSION
            row.fetched_at = fetched_at
            if existing is not None:
                # An edited article keeps its groups; regrouping history is
                # the job of `newscrawl reprocess`.
                return SaveResult("updated", existing.id, existing.dup_group_id, existing.story_id)
            session.add(row)
            session.flush()  # assigns row.id inside the transaction
            assignment = self.deduper.assign(
                DocumentRecord(row.id, article.text, article.published_at, fetched_at)
            )
            row.dup_group_id = assignment.dup_group_id
            row.dup_similarity = assignment.similarity
            row.story_id = assignment.story_id
            if assignment.minhash is not None:
                s = self.deduper.settings
                session.add(
                    ArticleSignature(
                        article_id=row.id,
                        scheme=s.scheme,
                        num_perm=s.num_perm,
                        seed=s.seed,
                        shingle_size=s.shingle_size,
                        minhash=minhash_to_bytes(assignment.minhash),
                    )
                )
            result = SaveResult("new", row.id, row.dup_group_id, row.story_id)
        self.deduper.commit(assignment)
        return result
