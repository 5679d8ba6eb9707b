"""ArticleStore: transactional writes of articles, their cleaning and their groups.

One article, its signature, its group ids and the site-level block counts it
contributes are written in one transaction; the in-memory indexes (LSH, learned
boilerplate) learn about it only after that transaction commits. A crash at any
point leaves either the whole article or nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler.boilerplate import apply_learned
from crawler.extract import EXTRACTOR_VERSION, ExtractedArticle, ExtractionError, ExtractionOptions
from crawler.learning import LearningSettings, SiteBoilerplate
from crawler.rawhtml import compress_raw_html, rederive_article
from dedupe import DedupeSettings, content_hash, minhash_from_bytes, minhash_to_bytes
from dedupe.grouping import Assignment, Deduper, DocumentRecord, Signature
from dedupe.story import headline_terms
from models import Article, ArticleSignature, SiteProfile

logger = logging.getLogger(__name__)

SAVE_LOCK_KEY = 0x6E65777373617665  # advisory lock serialising saves of workers sharing one database


@dataclass(frozen=True)
class SaveResult:
    outcome: str  # new | updated | unchanged
    article_id: int
    dup_group_id: int | None
    story_id: int | None
    recleaned: int = 0  # stored articles of the site re-cleaned because its boilerplate grew


@dataclass(frozen=True)
class Offload:
    """Where the store's CPU work runs: re-extraction of a stored page from its raw
    HTML (re-cleaning, reprocess) and signing a text the store changed.

    By default, here. The crawl passes functions that run them in its extraction
    workers, so the process that owns the reactor and the database does not parse
    pages or load the word-frequency tables."""

    extract: Callable[[bytes, str, str, ExtractionOptions], ExtractedArticle] | None = None
    sign: Callable[[DocumentRecord], Signature] | None = None


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
        offload: Offload | None = None,
    ) -> None:
        self.engine = engine
        self.offload = offload or Offload()
        self._saving: Session | None = None  # the session of the save in progress, for _stored_text
        self.deduper = Deduper(dedupe_settings, lookup=self._lookup, text_of=self._stored_text)
        self.boilerplate = SiteBoilerplate(learning_settings)
        self.extraction_options = extraction_options or ExtractionOptions()
        self._versions: dict[str, int] = {}  # site -> boilerplate version our cache reflects (shared mode)
        self._load_index()

    def _load_index(self) -> None:
        """Rebuild the in-memory index from stored signatures (no re-hashing).

        Signatures made with other settings or an older scheme are recomputed
        from the stored text and saved, once."""
        query = (
            select(Article, ArticleSignature)
            .outerjoin(ArticleSignature, ArticleSignature.article_id == Article.id)
            .order_by(Article.id)
        )
        canonical: list[tuple[int, int]] = []
        with Session(self.engine) as session, session.begin():
            for row, stored in session.execute(query):
                sig = self._signature_from_row(row, stored)
                if sig is None:
                    sig = self.deduper.signature(self._record(row))
                    self._store_signature(session, row.id, sig)
                group = row.dup_group_id or row.id
                self.deduper.load(row.id, sig, group, row.story_id or group)
                if row.is_canonical and group != row.id:
                    canonical.append((group, row.id))
        for group, representative in canonical:
            self.deduper.set_representative(group, representative)
        logger.info("Loaded %d stored articles into the dedupe index", len(self.deduper))

    def _lookup(self, keys: list) -> list[tuple]:
        """Articles another worker indexed in the shared (Redis) index."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(Article, ArticleSignature)
                .join(ArticleSignature, ArticleSignature.article_id == Article.id)
                .where(Article.id.in_([int(k) for k in keys]))
            ).all()
            found = []
            for row, stored in rows:
                sig = self._signature_from_row(row, stored)
                if sig is not None:
                    group = row.dup_group_id or row.id
                    found.append((row.id, sig, group, row.story_id or group))
            return found

    def _stored_text(self, key) -> str | None:
        """An indexed article's stored text, for the exact check of a partial copy at the
        threshold (rare: only candidates whose estimate is within its error of it). Read
        in the save's own session when one is open: a second connection could wait on its lock."""
        if self._saving is not None:
            return self._saving.scalar(select(Article.text).where(Article.id == int(key)))
        with Session(self.engine) as session:
            return session.scalar(select(Article.text).where(Article.id == int(key)))

    @staticmethod
    def _record(row: Article) -> DocumentRecord:
        return DocumentRecord(row.id, row.text, row.published_at, row.fetched_at, row.title, row.language)

    def _signature_from_row(self, row: Article, stored: ArticleSignature | None) -> Signature | None:
        s = self.deduper.settings
        if stored is None or stored.story_terms is None or (
            stored.scheme, stored.num_perm, stored.seed, stored.shingle_size
        ) != (s.scheme, s.num_perm, s.seed, s.shingle_size):
            return None
        minhash = minhash_from_bytes(stored.minhash) if stored.minhash else None
        published = row.published_at.timestamp() if row.published_at else None
        fetched = row.fetched_at.timestamp() if row.fetched_at else None
        return Signature(
            minhash,
            np.frombuffer(stored.story_terms, dtype="<u4").astype(np.uint32),
            np.frombuffer(stored.story_weights, dtype="<f4").astype(np.float32),
            row.content_hash,
            published if published is not None else fetched,
            fetched,
            headline=headline_terms(row.title, row.language),  # not stored: cheap to recompute from the title
        )

    # --- cleaning ----------------------------------------------------------------

    def clean(self, article: ExtractedArticle, learned: frozenset[str]) -> Cleaned:
        kept, learned_removed = apply_learned(article.kept_blocks, learned, dict(zip(article.blocks, article.block_hashes)))
        text = "\n".join(kept)
        if len(text) < self.extraction_options.min_text_chars:
            raise ExtractionError("only_boilerplate", f"{len(text)} characters left after removing the site's boilerplate")
        removed = [r.as_dict() for r in article.removed + learned_removed]
        return Cleaned(text, removed, list(article.block_hashes))

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
        signature: Signature | None = None,
        raw_compressed: bytes | None = None,
    ) -> SaveResult:
        """Store one article. ``signature``, if given, was computed (in a worker
        process) on ``article.text``; it is used when the site's learned
        boilerplate leaves that text unchanged. ``raw_compressed``, if given, is
        ``compress_raw_html(raw_body)``, also done in the worker."""
        try:
            return self._save(url, canonical_url, site, article, raw_body, encoding, fetched_at, signature,
                              raw_compressed)
        except IntegrityError:
            # Another writer stored the same canonical URL between our check and
            # our insert; theirs stands.
            with Session(self.engine) as session:
                existing = session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one()
                return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id)

    def _save(self, url, canonical_url, site, article, raw_body, encoding, fetched_at, signature,
              raw_compressed) -> SaveResult:
        assignment = None
        newly: set[str] = set()
        with Session(self.engine) as session, session.begin():
            if self.deduper.shared:
                self._serialise_workers(session, site)
            existing = session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one_or_none()
            if existing is None:
                # Count this page's blocks first, so that a block crossing the
                # threshold on this page is removed from this page too.
                newly = self.boilerplate.observe(session, site, article.blocks, article.block_hashes)
            learned = self.boilerplate.learned(session, site) | newly
            cleaned = self.clean(article, learned)
            digest = content_hash(cleaned.text)
            if existing is not None and existing.content_hash == digest:
                return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id)
            row = existing or Article(canonical_url=canonical_url)
            row.url = url
            row.site = site
            row.raw_html = raw_compressed if raw_compressed is not None else compress_raw_html(raw_body)
            row.raw_encoding = encoding
            row.fetched_at = fetched_at
            self._apply(row, article, cleaned, digest, self.boilerplate.version(session, site))
            if existing is not None:
                # An edited article keeps its groups; its signature follows its text.
                updated_sig = self._sign(self._record(row))
                self._store_signature(session, row.id, updated_sig)
                result = SaveResult("updated", existing.id, existing.dup_group_id, existing.story_id)
            else:
                session.add(row)
                session.flush()  # assigns row.id inside the transaction
                if signature is None or cleaned.text != article.text:
                    signature = self._sign(self._record(row))  # learned boilerplate changed the text: sign what is stored
                self._saving = session
                try:
                    assignment = self.deduper.assign(self._record(row), signature)
                finally:
                    self._saving = None
                self._apply_assignment(session, row, assignment)
                self._store_signature(session, row.id, assignment.signature, new=True)
                result = SaveResult("new", row.id, row.dup_group_id, row.story_id)
                if self.deduper.shared:
                    # Index before our commit releases the lock, so that the next worker to
                    # take it finds this article. Should the commit fail, the index holds a
                    # key with no article row, which lookups skip.
                    session.flush()
                    self.deduper.commit(assignment)
                    assignment = None
        if assignment is not None:
            self.deduper.commit(assignment)
        elif result.outcome == "updated":
            self.deduper.replace(result.article_id, updated_sig)
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

    def _serialise_workers(self, session: Session, site: str) -> None:
        """With several workers on one database, one save at a time.

        Deciding an article's groups reads the shared index and writes the
        article; two workers doing that at once for two copies of one story
        would each found a group. A PostgreSQL transaction-level advisory lock
        makes the whole decision atomic across workers (SQLite serialises
        writers by itself). Another worker may also have learned boilerplate
        for this site: reload it when the site's version moved.
        """
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SAVE_LOCK_KEY})
        cached = self._versions.get(site)
        current = self.boilerplate.version(session, site)
        if cached is not None and cached != current:
            self.boilerplate.forget(site)
        self._versions[site] = current

    @staticmethod
    def _apply_assignment(session: Session, row: Article, assignment: Assignment) -> None:
        row.dup_group_id = assignment.dup_group_id
        row.dup_similarity = assignment.similarity
        row.story_id = assignment.story_id
        row.story_similarity = assignment.story_similarity
        row.is_canonical = assignment.representative == row.id
        if assignment.previous_representative is not None:
            previous = session.get(Article, assignment.previous_representative)
            if previous is not None:
                previous.is_canonical = False

    def _store_signature(self, session: Session, article_id: int, sig: Signature, new: bool = False) -> None:
        """Write ``sig`` for the article; ``new``: the article was inserted in this session, so
        it has no signature row yet (and no query is needed to find out)."""
        existing = None if new else session.get(ArticleSignature, article_id)
        s = self.deduper.settings
        values = dict(
            scheme=s.scheme, num_perm=s.num_perm, seed=s.seed, shingle_size=s.shingle_size,
            # A text too short to shingle has no MinHash; it is grouped by content hash only.
            minhash=minhash_to_bytes(sig.minhash, s.seed) if sig.minhash is not None else b"",
            story_terms=sig.terms.astype("<u4").tobytes(),
            story_weights=sig.weights.astype("<f4").tobytes(),
        )
        if existing is None:
            session.add(ArticleSignature(article_id=article_id, **values))
        else:
            for key, value in values.items():
                setattr(existing, key, value)

    # --- re-deriving text from raw HTML ------------------------------------------

    def rederive(self, row: Article) -> ExtractedArticle:
        extract = self.offload.extract or rederive_article
        return extract(row.raw_html, row.raw_encoding, row.url, self.extraction_options)

    def _sign(self, record: DocumentRecord) -> Signature:
        return self.offload.sign(record) if self.offload.sign is not None else self.deduper.signature(record)

    def reclean_pending(self) -> int:
        """Finish re-cleaning that a killed run left undone.

        A site's boilerplate version grows in the transaction that stores the
        page crossing the threshold; the re-cleaning of older articles follows
        in their own transactions. Articles still cleaned with an older version
        are caught up here, at the start of the next run.
        """
        changed = 0
        with Session(self.engine) as session:
            behind = session.execute(
                select(Article.id, Article.site, Article.block_hashes)
                .join(SiteProfile, SiteProfile.site == Article.site)
                .where(Article.boilerplate_version < SiteProfile.boilerplate_version)
                .order_by(Article.id)
            ).all()
        for article_id, site, hashes in behind:
            with Session(self.engine) as session:
                learned = self.boilerplate.learned(session, site)
            if learned.intersection(hashes or ()):
                changed += self.reprocess_article(article_id) == "changed"
            else:
                with Session(self.engine) as session, session.begin():
                    row = session.get(Article, article_id)
                    row.boilerplate_version = self.boilerplate.version(session, site)
        if behind:
            logger.info("Caught up cleaning of %d articles left by an interrupted run (%d changed)", len(behind), changed)
        return changed

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
                new_sig = self._sign(self._record(row))
                self._store_signature(session, row.id, new_sig)
        if changed:
            self.deduper.replace(article_id, new_sig)
        return "changed" if changed else "unchanged"
