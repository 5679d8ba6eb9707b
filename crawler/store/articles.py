"""ArticleStore: transactional writes of articles, their cleaning and their groups.

Articles are stored in batches, one transaction per batch (``save_batch``). One
article's row, its signature and band keys and its group ids are written under one
savepoint of that transaction, and the site-level block counts it contributes are
counted when that savepoint is released and written with the batch's, before it
commits: an article that fails leaves nothing of itself, and a crash at any point
leaves each article whole or absent. The in-memory indexes (LSH, learned boilerplate) learn an
article when its savepoint is released, and are rebuilt from the database if its
batch then fails to commit.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, bindparam, or_, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from crawler.page.boilerplate import Removal, apply_learned, block_hash
from crawler.page.extract import EXTRACTOR_VERSION, ExtractedArticle, ExtractionError, ExtractionOptions
from crawler.store.learning import LearningSettings, SiteBoilerplate
from crawler.page.rawhtml import compress_raw_html, extract_stored_page
from crawler.page.sanitize import StoreLimits, clean_text, sanitize_article, storable_url
from crawler.page.titles import strip_learned_affixes
from crawler.store.history import DedupeHistory, record_of, write_band_keys
from dedupe import DedupeSettings, content_hash, minhash_to_bytes
from dedupe.grouping import Assignment, Deduper, DocumentRecord, Signature
from models import Article, ArticleSignature, SiteProfile

logger = logging.getLogger(__name__)

SAVE_LOCK_KEY = 0x6E65777373617665  # advisory lock serialising saves of workers sharing one database

_articles, _SIGNATURES = Article.__table__, ArticleSignature.__table__
_SITE_OF = select(_articles.c.site).where(_articles.c.id == bindparam("id"))
_ID_OF_CANONICAL = select(_articles.c.id).where(_articles.c.canonical_url == bindparam("url"))
# The groups of an article inserted in this transaction, and of those its assignment touches:
# Core updates, not a second ORM flush (whose unit of work cost more than the statement) nor
# a load of each touched article's whole row (text and raw HTML) to change one column.
_SET_GROUPS = update(_articles).where(_articles.c.id == bindparam("row_id")).values(
    dup_group_id=bindparam("group"), dup_similarity=bindparam("similarity"), story_id=bindparam("story"),
    story_similarity=bindparam("story_similarity"), is_canonical=bindparam("canonical"))
# An adopted story is one article and its republished copies (dedupe.grouping.Deduper._adoptable):
# those rows move, and their stored signatures with them (the history reloads stories from
# those). Only the article's own dup group: a Deduper that loaded part of a story (by lookup)
# may take a story of two reports for one, and moving the other report would chain stories.
_ADOPT = update(_articles).where(
    or_(and_(_articles.c.story_id == bindparam("row_id"), _articles.c.dup_group_id == bindparam("row_id")),
        and_(_articles.c.id == bindparam("row_id"),
             or_(_articles.c.story_id.is_(None), _articles.c.story_id == bindparam("row_id")))),
).values(story_id=bindparam("story")).returning(_articles.c.id)
_ADOPT_SIGNATURES = update(_SIGNATURES).where(
    _SIGNATURES.c.story_id == bindparam("row_id"), _SIGNATURES.c.dup_group_id == bindparam("row_id"),
).values(story_id=bindparam("story"))
_ARTICLE_COLUMNS = frozenset(column.key for column in _articles.c) - {"id"}
_INSERT_ARTICLE = _articles.insert().returning(_articles.c.id)
_NOT_CANONICAL = update(_articles).where(_articles.c.id == bindparam("row_id")).values(is_canonical=False)


@dataclass(frozen=True)
class SaveResult:
    outcome: str  # new | updated | unchanged
    article_id: int
    dup_group_id: int | None
    story_id: int | None
    reprocessed: int = 0  # stored articles of the site re-cleaned because its boilerplate grew
    capped: tuple[str, ...] = ()  # fields cut to their caps (crawler.page.sanitize)


@dataclass
class _SiteReprocess:
    """Re-cleaning of a site's stored articles after it learned ``blocks``; ``done``: the
    articles re-cleaned (or cleaned knowing them) already, ``changed``: how many changed."""

    index: int | None  # the batch's article whose save taught the blocks
    site: str
    blocks: set[str]
    done: set[int]
    changed: int = 0


@dataclass
class StoredBatch:
    """A committed batch (:meth:`ArticleStore.commit_batch`): one outcome per article, and
    the re-cleaning still to do (:meth:`ArticleStore.finish_batch`)."""

    outcomes: list[SaveResult | Exception]
    pending: list[_SiteReprocess]


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
    title: str | None = None  # without the affixes the site's learning found


class ArticleStore:
    # Caps per stored field; store_from_settings sets the configured ones.
    limits: StoreLimits = StoreLimits()

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
        self.history = DedupeHistory(engine, self.deduper, self._resign)
        self.history.load_window()
        # The in-memory indexes may hold what the database does not (a batch that failed after
        # its first article began): rebuilt from the database before the next batch.
        self._stale = False

    def _lookup(self, keys: list) -> list[tuple]:
        """Articles another worker indexed in the shared (Redis) index: loaded here, with the
        founders and representatives their groups refer to, so nothing is left to return."""
        with Session(self.engine) as session, session.begin():
            self.history.load_ids(session, [int(k) for k in keys], index=False)
        return []

    def _copies_own_site(self, session: Session, signature: Signature, site: str) -> bool:
        """Is the text an exact, near or partial copy of a stored article of ``site``?"""
        key = self.deduper.copy_of(signature)
        return key is not None and session.connection().scalar(_SITE_OF, {"id": int(key)}) == site

    def _resign(self, session: Session, article_id: int) -> tuple[Signature, int, int]:
        """Sign a stored article again (its signature was made with other settings) and store it."""
        row = session.get(Article, article_id)
        sig = self.deduper.signature(self._record(row))
        self._store_signature(session, row, sig)
        group = row.dup_group_id or row.id
        return sig, group, row.story_id or group

    def index_size(self) -> tuple[int, int]:
        """(articles in the in-memory dedupe index, bytes of its arrays)."""
        return len(self.deduper), self.deduper.index_nbytes()

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
        return record_of(row)

    # --- cleaning ----------------------------------------------------------------

    def clean(self, article: ExtractedArticle, learned: frozenset[str]) -> Cleaned:
        """The article's text without the site's learned boilerplate.

        Learned boilerplate never removes an article: when removing the learned
        blocks would leave less than the minimum text, they stay (the generic
        rules still applied), and the audit says so ("learned:not_applied").
        Such a page shares most of its text with the site's other pages (serial
        parts, templated reports); dedupe groups it with its near-copies."""
        kept, learned_removed = apply_learned(article.kept_blocks, learned, dict(zip(article.blocks, article.block_hashes)))
        text = "\n".join(kept)
        minimum = self.extraction_options.min_text_chars
        # The title affixes' hashes are stored with the blocks': once one is learned, the
        # site's articles that carry it are re-cleaned (reprocess_site) like those with a block.
        hashes = list(article.block_hashes) + [block_hash(b) for b in article.title_affix_blocks]
        title = strip_learned_affixes(article.title, learned, block_hash)
        if learned_removed and len(text) < minimum <= len(article.text):
            note = Removal("learned:not_applied", f"{len(learned_removed)} learned blocks kept: without them "
                                                   f"{len(text)} characters would be left (< {minimum})")
            return Cleaned(article.text, [r.as_dict() for r in article.removed + [note]], hashes, title)
        if len(text) < minimum:
            raise ExtractionError("no_text", f"{len(text)} characters of article text (< {minimum})")
        removed = [r.as_dict() for r in article.removed + learned_removed]
        return Cleaned(text, removed, hashes, title)

    # --- saving ------------------------------------------------------------------

    def save(self, **fields) -> SaveResult:
        """Store one article: a batch of one (see :meth:`save_batch` for the fields)."""
        outcome = self.save_batch([fields])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def save_batch(self, batch: list[dict]) -> list[SaveResult | Exception]:
        """Store several articles in one transaction; one outcome per article, in order:
        its SaveResult, or the exception that kept it out (``ExtractionError`` when the
        site's learned boilerplate leaves no text, or an error of that article alone).

        Each article's fields are those of the crawl's items: ``url``, ``canonical_url``,
        ``site``, ``article``, ``raw_body``, ``encoding``, ``fetched_at`` and optionally
        ``signature`` (computed in a worker on ``article.text``; used when the site's
        learned boilerplate leaves that text unchanged), ``raw_compressed``
        (``compress_raw_html(raw_body)``, also done in the worker), ``warc_file`` and
        ``warc_offset`` (where the response record sits in a WARC file).

        Whole articles or nothing: an article's row, signature, band keys, group and
        story are written under a savepoint of the batch's transaction (the learning
        counts it adds join the batch's, written before the commit, only once that
        savepoint is released), so an article that fails leaves nothing of itself and the
        others of the batch are still stored; a crash before the commit leaves none of
        the batch (the next run fetches those pages again). The in-memory indexes learn
        each article as soon as its savepoint is released, so that the next articles of
        the batch are grouped with it; should the batch not commit, they are rebuilt
        from the database (:meth:`_forget_uncommitted`).

        Every value is made storable first (crawler.page.sanitize), so that what one
        database accepts the other does too.

        It is :meth:`commit_batch`, then :meth:`finish_batch` (the re-cleaning of stored
        articles that the batch's new boilerplate concerns); a caller that retries on a
        lost connection retries each on its own (crawler.pipelines)."""
        return self.finish_batch(self.commit_batch(batch))

    def commit_batch(self, batch: list[dict]) -> StoredBatch:
        """The transactional half of :meth:`save_batch`: the batch's articles, committed.

        Retrying it after a failure (a lost connection) is safe: a batch that did not
        commit left nothing in the database, and the in-memory indexes are rebuilt from
        the database before it is tried again (also when that rebuild failed the first
        time, the database being still unreachable). Re-cleaning that the batch's new
        boilerplate calls for is left to :meth:`finish_batch`: the batch is committed by
        then, and saving it again would find its articles stored and never re-clean."""
        if not batch:
            return StoredBatch([], [])
        prepared = [self._storable(**fields) for fields in batch]
        if self._stale:
            self._forget_uncommitted()  # the last failed batch's rebuild failed too
        try:
            saved = self._save_batch(prepared)
        except BaseException:
            if self._stale:
                try:
                    self._forget_uncommitted()
                except SQLAlchemyError as exc:
                    # Still stale: the next try rebuilds first. The batch's own error is the one to report.
                    logger.warning("Reloading the dedupe index failed (%s); retried before the next batch", exc)
            raise
        self._stale = False  # committed: what the indexes learned is in the database
        outcomes = [outcome for outcome, _, _ in saved]
        pending = []
        for i, (outcome, newly, site) in enumerate(saved):
            if newly and isinstance(outcome, SaveResult):
                # The batch's articles from this one on were cleaned knowing these blocks.
                cleaned_already = {later.article_id for later, _, _ in saved[i:] if isinstance(later, SaveResult)}
                pending.append(_SiteReprocess(i, site, set(newly), cleaned_already))
        return StoredBatch(outcomes, pending)

    def finish_batch(self, stored: StoredBatch) -> list[SaveResult | Exception]:
        """Re-clean the stored articles that a committed batch's new boilerplate concerns;
        the batch's outcomes, each with the number of articles its blocks re-cleaned.

        Each re-cleaned article is its own transaction, and ``stored`` records the
        progress: called again after a failure, it goes on where it stopped, so each
        article is re-cleaned once and counted once."""
        while stored.pending:
            job = stored.pending[0]
            self._reprocess_job(job)
            stored.outcomes[job.index] = dataclasses.replace(stored.outcomes[job.index], reprocessed=job.changed)
            stored.pending.pop(0)
        return stored.outcomes

    def _storable(self, *, url, canonical_url, site, article, raw_body, encoding, fetched_at, signature=None,
                  raw_compressed=None, warc_file=None, warc_offset=None) -> tuple:
        url = storable_url(url, self.limits, "url")
        canonical_url = storable_url(canonical_url, self.limits)
        site = clean_text(site)[:255]
        encoding = clean_text(encoding)[:64]
        sanitized, capped = sanitize_article(article, self.limits)
        if sanitized.text != article.text:
            signature = None  # the worker signed the text before cleaning: sign what is stored
        return (url, canonical_url, site, sanitized, raw_body, encoding, fetched_at, signature, raw_compressed,
                warc_file, warc_offset, tuple(capped))

    def _save_batch(self, prepared: list[tuple]) -> list[tuple[SaveResult | Exception, set[str], str]]:
        saved = []
        with Session(self.engine) as session, session.begin():
            if session.get_bind().dialect.name == "sqlite":
                # The transaction must be open before the first savepoint: pysqlite begins one
                # only before a write, and releasing a savepoint that began the transaction
                # would commit it. IMMEDIATE takes the write lock now, so the batch never
                # fails half-way on a lock another writer took after our first read.
                session.execute(text("BEGIN IMMEDIATE"))
            self._saving = session
            try:
                for args in prepared:
                    saved.append(self._save_one(session, args))
                self.boilerplate.write(session)  # the batch's block counts, in its transaction
            finally:
                self._saving = None
                self.boilerplate.discard()  # written, or the batch failed: it counts nothing
        return saved

    def _save_one(self, session: Session, args: tuple) -> tuple[SaveResult | Exception, set[str], str]:
        """One article of a batch, under its own savepoint: (outcome, blocks it taught, site)."""
        url, canonical_url, site, article, raw_body, encoding, fetched_at, signature, raw_compressed, \
            warc_file, warc_offset, capped = args
        # From here on the in-memory indexes may learn what this transaction has not committed:
        # the history loaded (and signatures re-signed) in it, the site's learned set read in it
        # (observe's uncommitted updates included), the article itself. Should the batch fail,
        # they are rebuilt from the database.
        self._stale = True
        savepoint = session.begin_nested()
        try:
            result, assignment, updated_sig, newly = self._write(
                session, url, canonical_url, site, article, raw_body, encoding, fetched_at, signature,
                raw_compressed, warc_file, warc_offset)
            savepoint.commit()
        except IntegrityError:
            # Another writer stored the same canonical URL between our check and our insert;
            # theirs stands.
            savepoint.rollback()
            self.boilerplate.drop()
            self.boilerplate.forget(site)  # its cache may hold what the rollback undid
            existing = session.scalars(select(Article).where(Article.canonical_url == canonical_url)).one()
            return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id), set(), site
        except SQLAlchemyError:
            raise  # the database's failure, not this article's: the whole batch fails (and is retried)
        except Exception as exc:  # ExtractionError (no text left), or an error of this article alone
            savepoint.rollback()
            self.boilerplate.drop()
            self.boilerplate.forget(site)
            return exc, set(), site
        # In memory now, for the next articles of the batch (see save_batch).
        if assignment is not None:
            self.deduper.commit(assignment)
        elif result.outcome == "updated":
            group = result.dup_group_id or result.article_id
            self._reindex(result.article_id, updated_sig, group, result.story_id or group)
        self.boilerplate.keep()
        self.boilerplate.remember(site, newly)
        if capped:
            result = dataclasses.replace(result, capped=capped)
        return result, newly, site

    def _forget_uncommitted(self) -> None:
        """A batch did not commit after the in-memory indexes learned from its transaction:
        rebuild them from the database, as at start (O(articles in the dedupe window)).

        The new index replaces the old one only once it is loaded whole; until then the
        store stays stale, so that a rebuild the database cut short is done again."""
        logger.warning("A storage batch did not commit; reloading the dedupe index and learned boilerplate")
        self.boilerplate.forget()
        self._versions.clear()
        deduper = Deduper(self.deduper.settings, lookup=self._lookup, text_of=self._stored_text)
        history = DedupeHistory(self.engine, deduper, self._resign)
        history.load_window()
        self.deduper, self.history = deduper, history
        self._stale = False

    def _write(self, session, url, canonical_url, site, article, raw_body, encoding, fetched_at, signature,
               raw_compressed, warc_file=None, warc_offset=None):
        """The article's rows, in ``session``: (SaveResult, the Assignment the in-memory index is
        still to learn or None, the new signature of an updated article, blocks it taught)."""
        assignment = None
        updated_sig = None
        newly: set[str] = set()
        if self.deduper.shared:
            self._serialise_workers(session, site)
        # Most articles are new: a Core query for the id first (the ORM's execution path cost
        # more than the query); the row is loaded only for an article stored before.
        existing_id = session.connection().scalar(_ID_OF_CANONICAL, {"url": canonical_url})
        existing = session.get(Article, existing_id) if existing_id is not None else None
        if existing is None:
            if signature is None:
                signature = self._sign(DocumentRecord(None, article.text, article.published_at, fetched_at,
                                                      article.title, article.language))
            # A block is boilerplate when it recurs next to *different* main content:
            # a near-copy of a page of the same site (a re-posted article, one report in
            # two sections) repeats all of its blocks and teaches nothing. (A copy on
            # another site does teach: its blocks are that site's template.) Otherwise
            # count this page's blocks first, so that a block crossing the threshold on
            # this page is removed from this page too.
            self.history.prepare(session, signature)  # stored copies from all history, into the index
            if not self._copies_own_site(session, signature, site):
                newly = self.boilerplate.count(
                    session, site, article.blocks + article.title_affix_blocks,
                    article.block_hashes + [block_hash(b) for b in article.title_affix_blocks])
        learned = self.boilerplate.learned(session, site) | newly
        cleaned = self.clean(article, learned)
        # The worker's signature hashed the article's text already: hashed again only when
        # cleaning changed it (or there is no signature: an update).
        same_text = signature is not None and cleaned.text == article.text
        digest = signature.content_hash if same_text else content_hash(cleaned.text)
        if existing is not None and existing.content_hash == digest:
            return SaveResult("unchanged", existing.id, existing.dup_group_id, existing.story_id), None, None, newly
        row = existing or Article(canonical_url=canonical_url)
        row.url = url
        row.site = site
        row.raw_html = raw_compressed if raw_compressed is not None else compress_raw_html(raw_body)
        row.raw_encoding = encoding
        row.fetched_at = fetched_at
        row.warc_file, row.warc_offset = warc_file, warc_offset
        self._apply(row, article, cleaned, digest, self.boilerplate.version(session, site))
        if existing is not None:
            # An edited article keeps its groups; its signature follows its text.
            updated_sig = self._sign(self._record(row))
            self._store_signature(session, row, updated_sig)
            return SaveResult("updated", existing.id, existing.dup_group_id, existing.story_id), None, updated_sig, newly
        row.id = self._insert_article(session, row)
        if cleaned.text != article.text:
            signature = self._sign(self._record(row))  # learned boilerplate changed the text: sign what is stored
            self.history.prepare(session, signature, exclude=row.id)
        assignment = self.deduper.assign(self._record(row), signature)
        self._apply_assignment(session, row, assignment)
        self._store_signature(session, row, assignment.signature, new=True)
        result = SaveResult("new", row.id, row.dup_group_id, row.story_id)
        if self.deduper.shared:
            # Index before our commit releases the lock, so that the next worker to
            # take it finds this article. Should the commit fail, the index holds a
            # key with no article row, which lookups skip.
            self.deduper.commit(assignment)
            assignment = None
        return result, assignment, None, newly

    @staticmethod
    def _insert_article(session: Session, row: Article) -> int:
        """Insert a new article's row with a Core statement; its id. The session's unit of work
        cost more than the statement, and nothing needs ``row`` in the session: it stays
        transient, the rows that follow are written with Core statements too, and a later
        lookup of the article in this transaction reads it from the database. Only the
        attributes set are inserted, so the columns' defaults apply to the others."""
        values = {key: value for key, value in vars(row).items() if key in _ARTICLE_COLUMNS}
        return session.connection().scalar(_INSERT_ARTICLE, values)

    @staticmethod
    def _apply(row: Article, article: ExtractedArticle, cleaned: Cleaned, digest: str, version: int) -> None:
        row.site_name = article.site_name
        row.title = cleaned.title
        row.authors = list(article.authors)
        row.author_organisations = list(article.author_organisations)
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
        """Write the groups of ``row`` (flushed, inserted in this session) and of the articles its
        assignment touches, with Core updates (see ``_SET_GROUPS``); the session's copies of
        those rows, where it holds them, take the written values."""
        connection = session.connection()
        groups = dict(dup_group_id=assignment.dup_group_id, dup_similarity=assignment.similarity,
                      story_id=assignment.story_id, story_similarity=assignment.story_similarity,
                      is_canonical=assignment.representative == row.id)
        connection.execute(_SET_GROUPS, {"row_id": row.id, "group": groups["dup_group_id"],
                                         "similarity": groups["dup_similarity"], "story": groups["story_id"],
                                         "story_similarity": groups["story_similarity"],
                                         "canonical": groups["is_canonical"]})
        for name, value in groups.items():
            set_committed_value(row, name, value)
        for key in assignment.adopted:  # one-article stories this article shows to be its story's
            moved = connection.execute(_ADOPT, {"row_id": key, "story": assignment.story_id}).scalars().all()
            if moved:
                connection.execute(_ADOPT_SIGNATURES, {"row_id": key, "story": assignment.story_id})
            for article_id in moved:
                ArticleStore._written(session, article_id, "story_id", assignment.story_id)
        if assignment.previous_representative is not None:
            connection.execute(_NOT_CANONICAL, {"row_id": assignment.previous_representative})
            ArticleStore._written(session, assignment.previous_representative, "is_canonical", False)

    @staticmethod
    def _written(session: Session, article_id: int, name: str, value) -> None:
        """A Core update wrote ``name`` of an article: the session's copy of it, if loaded, follows."""
        loaded = session.identity_map.get(identity_key(Article, article_id))
        if loaded is not None:
            set_committed_value(loaded, name, value)

    def _store_signature(self, session: Session, row: Article, sig: Signature, new: bool = False) -> None:
        """Write ``sig`` for the article ``row`` (its groups assigned), with its band keys and the
        fields the windowed index loads with (crawler.store.history); ``new``: the article was
        inserted in this session, so it has no signature row yet (and no query is needed to find out)."""
        existing = None if new else session.get(ArticleSignature, row.id)
        s = self.deduper.settings
        values = dict(
            scheme=s.scheme, num_perm=s.num_perm, seed=s.seed, shingle_size=s.shingle_size,
            # A text too short to shingle has no MinHash; it is grouped by content hash only.
            minhash=minhash_to_bytes(sig.minhash, s.seed) if sig.minhash is not None else b"",
            story_terms=sig.terms.astype("<u4").tobytes(),
            story_weights=sig.weights.astype("<f4").tobytes(),
            window_time=row.published_at or row.fetched_at,
            fetched_at=row.fetched_at,
            content_hash=row.content_hash,
            dup_group_id=row.dup_group_id,
            story_id=row.story_id,
        )
        if new:
            # A Core insert (the row depends only on the article row, flushed already): one
            # mapper fewer in the flush that follows, which costs more than the insert.
            session.connection().execute(_SIGNATURES.insert(), {"article_id": row.id, **values})
        elif existing is None:
            session.add(ArticleSignature(article_id=row.id, **values))
        else:
            for key, value in values.items():
                setattr(existing, key, value)
        write_band_keys(session, row.id, sig.minhash, s)

    # --- re-deriving text from raw HTML ------------------------------------------

    def extract_stored(self, row: Article) -> ExtractedArticle:
        extract = self.offload.extract or extract_stored_page
        return extract(row.raw_html, row.raw_encoding, row.url, self.extraction_options)

    def _sign(self, record: DocumentRecord) -> Signature:
        return self.offload.sign(record) if self.offload.sign is not None else self.deduper.signature(record)

    def reprocess_pending(self) -> int:
        """Finish re-cleaning that a killed run left undone.

        A site's boilerplate version grows in the transaction that stores the
        page crossing the threshold; the re-cleaning of older articles follows
        in their own transactions. Articles still cleaned with an older version
        are caught up here, at the start of the next run.

        Cost: one query per site with learned boilerplate, each a range of the
        (site, boilerplate_version) index: O(sites + articles behind), not
        O(stored articles).
        """
        changed = 0
        behind = []
        with Session(self.engine) as session:
            profiles = session.execute(
                select(SiteProfile.site, SiteProfile.boilerplate_version).where(SiteProfile.boilerplate_version > 0)
            ).all()
            for site, version in profiles:
                ids = session.scalars(
                    select(Article.id).where(Article.site == site, Article.boilerplate_version < version)
                ).all()
                for i in range(0, len(ids), 500):
                    behind += session.execute(
                        select(Article.id, Article.site, Article.block_hashes).where(Article.id.in_(ids[i:i + 500]))
                    ).all()
        behind.sort()
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

    def reprocess_site(self, site: str, blocks: Iterable[str], skip_id: int | None = None,
                     skip_ids: Iterable[int] = ()) -> int:
        """Re-clean the site's stored articles that contain any of ``blocks``, except
        ``skip_id`` and ``skip_ids`` (cleaned knowing them already)."""
        job = _SiteReprocess(None, site, set(blocks), {skip_id, *skip_ids})
        self._reprocess_job(job)
        return job.changed

    def _reprocess_job(self, job: _SiteReprocess) -> None:
        """Do ``job``, recording in it each article done (see :meth:`finish_batch`)."""
        with Session(self.engine) as session:
            candidates = [
                article_id
                for article_id, hashes in session.execute(
                    select(Article.id, Article.block_hashes).where(Article.site == job.site)
                )
                if article_id not in job.done and job.blocks.intersection(hashes or ())
            ]
        changed = 0
        for article_id in candidates:
            outcome = self.reprocess_article(article_id)
            job.done.add(article_id)
            changed += outcome == "changed"
            job.changed += outcome == "changed"
        if changed:
            logger.info("Re-cleaned %d stored articles of %s after learning %d boilerplate blocks",
                        changed, job.site, len(job.blocks))

    def reprocess_article(self, article_id: int) -> str:
        """Re-derive one article's text and metadata from its raw HTML with the
        current extractor and the site's current boilerplate. Groups are kept.
        Returns "changed", "unchanged" or "failed" (no text any more: kept as stored)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(Article, article_id)
            if row is None:
                return "failed"
            try:
                article, _ = sanitize_article(self.extract_stored(row), self.limits)
                cleaned = self.clean(article, self.boilerplate.learned(session, row.site))
            except ExtractionError as exc:
                logger.warning("Article %s (%s) no longer yields text (%s); kept as stored", row.id, row.canonical_url, exc)
                return "failed"
            digest = content_hash(cleaned.text)
            changed = digest != row.content_hash or row.extractor_version != EXTRACTOR_VERSION
            self._apply(row, article, cleaned, digest, self.boilerplate.version(session, row.site))
            if changed:
                new_sig = self._sign(self._record(row))
                self._store_signature(session, row, new_sig)
                group = row.dup_group_id or row.id
                story = row.story_id or group
        if changed:
            self._reindex(article_id, new_sig, group, story)
        return "changed" if changed else "unchanged"

    def _reindex(self, article_id: int, sig: Signature, group: int, story: int) -> None:
        """Point the dedupe index at an article's new signature.

        With workers sharing one index (Redis), the article may be another worker's,
        which this worker's in-memory part has never seen: ``replace`` raised KeyError,
        after the article was committed, and the run counted a storage error. It is
        learned here first (locally; it is in the shared index already). An article
        no index holds has nothing to replace."""
        if article_id not in self.deduper:
            if not self.deduper.shared:
                return
            self.deduper.load(article_id, sig, group, story, index=False)
        self.deduper.replace(article_id, sig)
