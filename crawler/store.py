"""ArticleStore: transactional writes of articles, their cleaning and their groups.

One article, its signature, its group ids and the site-level block counts it
contributes are written in one transaction; the in-memory indexes (LSH, learned
boilerplate) learn about it only after that transaction commits. A crash at any
point leaves either the whole article or nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler.boilerplate import apply_learned, block_hash
from crawler.extract import EXTRACTOR_VERSION, ExtractedArticle, ExtractionError, ExtractionOptions, extract_article
from crawler.htmlmeta import decode_html
from crawler.learning import LearningSettings, SiteBoilerplate
from dedupe import Deduper, DedupeSettings, DocumentRecord, content_hash, minhash_from_bytes, minhash_to_bytes
from models import Article, ArticleSignature

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaveResult:
    outcome: str  # new | updated | unchanged
    article_id: int
    dup_group_id: int | None
    story_id: int | None
    recleaned: int = 0  # stored articles of the site re-cleaned because its boilerplate grew


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: list[dict]
    block_hashes: list[str]


class ArticleStore:
    def __init__(
        self,
        engine: Engine,
        dedupe_settings: DedupeSettings | None = None,
        learning_settings: LearningSettings | None = None,
        extraction_options: ExtractionOptions | None = None,
    ) -> None:
        self.engine = engine
        self.deduper = Deduper(dedupe_settings)
        self.boilerplate = SiteBoilerplate(learning_settings)
        self.extraction_options = extraction_options or ExtractionOptions()
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
                self.deduper.load(article_id, self._stored_minhash(sig), digest, group or article_id,
                                  story or group or article_id)
        logger.info("Loaded %d stored articles into the dedupe index", len(self.deduper))

    def _stored_minhash(self, sig: ArticleSignature | None):
        s = self.deduper.settings
        if sig is not None and (sig.scheme, sig.num_perm, sig.seed, sig.shingle_size) == (
            s.scheme, s.num_perm, s.seed, s.shingle_size
        ):
            return minhash_from_bytes(sig.minhash)
        return None

    # --- cleaning ----------------------------------------------------------------

    def clean(self, article: ExtractedArticle, learned: frozenset[str]) -> Cleaned:
        kept, learned_removed = apply_learned(article.kept_blocks, learned)
        text = "\n".join(kept)
        if len(text) < self.extraction_options.min_text_chars:
            raise ExtractionError("only_boilerplate", f"{len(text)} characters left after removing the site's boilerplate")
        removed = [r.as_dict() for r in article.removed + learned_removed]
        return Cleaned(text, removed, [block_hash(b) for b in article.blocks])

    # --- saving ------------------------------------------------------------------

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
        try:
            return self._save(url, canonical_url, site, article, raw_body, encoding, fetched_at)
        except IntegrityError:
            # Another writer stored the same canonical URL between our check and
            # our insert; theirs stands.
            with Session(self.engine) as session:
                existing = session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one()
                return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id)

    def _save(self, url, canonical_url, site, article, raw_body, encoding, fetched_at) -> SaveResult:
        assignment = None
        newly: set[str] = set()
        with Session(self.engine) as session, session.begin():
            existing = session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one_or_none()
            if existing is None:
                # Count this page's blocks first, so that a block crossing the
                # threshold on this page is removed from this page too.
                newly = self.boilerplate.observe(session, site, article.blocks)
            learned = self.boilerplate.learned(session, site) | newly
            cleaned = self.clean(article, learned)
            digest = content_hash(cleaned.text)
            if existing is not None and existing.content_hash == digest:
                return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id)
            row = existing or Article(canonical_url=canonical_url)
            row.url = url
            row.site = site
            row.raw_html = zlib.compress(raw_body, 6)
            row.raw_encoding = encoding
            row.fetched_at = fetched_at
            self._apply(row, article, cleaned, digest, self.boilerplate.version(session, site))
            if existing is not None:
                # An edited article keeps its groups; its signature follows its text.
                self._store_signature(session, row.id, self.deduper.signature(cleaned.text))
                result = SaveResult("updated", existing.id, existing.dup_group_id, existing.story_id)
            else:
                session.add(row)
                session.flush()  # assigns row.id inside the transaction
                assignment = self.deduper.assign(DocumentRecord(row.id, cleaned.text, article.published_at, fetched_at))
                row.dup_group_id = assignment.dup_group_id
                row.dup_similarity = assignment.similarity
                row.story_id = assignment.story_id
                self._store_signature(session, row.id, assignment.minhash)
                result = SaveResult("new", row.id, row.dup_group_id, row.story_id)
        if assignment is not None:
            self.deduper.commit(assignment)
        elif result.outcome == "updated":
            self._reindex(result.article_id)
        self.boilerplate.remember(site, newly)
        if newly:
            recleaned = self.reclean_site(site, newly, skip_id=result.article_id)
            result = SaveResult(result.outcome, result.article_id, result.dup_group_id, result.story_id, recleaned)
        return result

    @staticmethod
    def _apply(row: Article, article: ExtractedArticle, cleaned: Cleaned, digest: str, version: int) -> None:
        row.site_name = article.site_name
        row.title = article.title
        row.authors = list(article.authors)
        row.published_at = article.published_at
        row.language = article.language
        row.image = article.image
        row.section = article.section
        row.tags = list(article.tags)
        row.text = cleaned.text
        row.content_hash = digest
        row.block_hashes = cleaned.block_hashes
        row.removed_blocks = cleaned.removed
        row.boilerplate_version = version
        row.extractor_version = EXTRACTOR_VERSION

    def _store_signature(self, session: Session, article_id: int, minhash) -> None:
        existing = session.get(ArticleSignature, article_id)
        if minhash is None:
            if existing is not None:
                session.delete(existing)
            return
        s = self.deduper.settings
        values = dict(scheme=s.scheme, num_perm=s.num_perm, seed=s.seed, shingle_size=s.shingle_size,
                      minhash=minhash_to_bytes(minhash))
        if existing is None:
            session.add(ArticleSignature(article_id=article_id, **values))
        else:
            for key, value in values.items():
                setattr(existing, key, value)

    def _reindex(self, article_id: int) -> None:
        with Session(self.engine) as session:
            row = session.get(Article, article_id)
            self.deduper.replace(article_id, self._stored_minhash(session.get(ArticleSignature, article_id)),
                                 row.content_hash, row.dup_group_id, row.story_id)

    # --- re-deriving text from raw HTML ------------------------------------------

    def rederive(self, row: Article) -> ExtractedArticle:
        html, _ = decode_html(zlib.decompress(row.raw_html), f"text/html; charset={row.raw_encoding}")
        return extract_article(html, row.url, self.extraction_options)

    def reclean_site(self, site: str, blocks: Iterable[str], skip_id: int | None = None) -> int:
        """Re-clean the site's stored articles that contain any of ``blocks``."""
        wanted = set(blocks)
        with Session(self.engine) as session:
            candidates = [
                article_id
                for article_id, hashes in session.execute(
                    select(Article.id, Article.block_hashes).where(Article.site == site)
                )
                if article_id != skip_id and wanted.intersection(hashes or ())
            ]
        changed = sum(self.reprocess_article(article_id) == "changed" for article_id in candidates)
        if changed:
            logger.info("Re-cleaned %d stored articles of %s after learning %d boilerplate blocks",
                        changed, site, len(wanted))
        return changed

    def reprocess_article(self, article_id: int) -> str:
        """Re-derive one article's text and metadata from its raw HTML with the
        current extractor and the site's current boilerplate. Groups are kept.
        Returns "changed", "unchanged" or "failed" (no text any more: kept as stored)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(Article, article_id)
            if row is None:
                return "failed"
            try:
                article = self.rederive(row)
                cleaned = self.clean(article, self.boilerplate.learned(session, row.site))
            except ExtractionError as exc:
                logger.warning("Article %s (%s) no longer yields text (%s); kept as stored", row.id, row.canonical_url, exc)
                return "failed"
            digest = content_hash(cleaned.text)
            changed = digest != row.content_hash or row.extractor_version != EXTRACTOR_VERSION
            self._apply(row, article, cleaned, digest, self.boilerplate.version(session, row.site))
            if changed:
                self._store_signature(session, row.id, self.deduper.signature(cleaned.text))
        if changed:
            self._reindex(article_id)
        return "changed" if changed else "unchanged"
