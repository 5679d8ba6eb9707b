"""Assign documents to near-duplicate groups and stories, incrementally.

For each new document only its LSH candidates are examined, never all stored
documents. Group and story ids are the keys of the documents that founded
them, so ids stay stable as later documents join.

- Near-duplicates: MinHash of word 5-shingles; a candidate joins when the
  verified Jaccard estimate reaches the threshold. Exact copies are also found
  by content hash (which covers texts too short to shingle). Each group has a
  canonical representative: the earliest published, then the earliest fetched.
- Stories: MinHash LSH over the article's salient terms (dedupe.story) yields
  candidate stories; a candidate is verified by the weighted Jaccard of terms
  against the story's *founding* article, within a publication-time window,
  and a story never spans more than ``story_max_span_hours``. Verifying
  against the founder, not against whichever member is closest, is the guard
  against chaining: A~B and B~C must not pull C into A's story unless C is
  about A's event too.

Order of arrival: a document joins the best verified group at the time it
arrives, and groups never merge afterwards. The result can therefore depend on
order only for borderline documents: one that verifies against two existing
groups, or a founder that would not itself verify against later members.
``cluster_records`` removes this for batches by processing in publication
order; the crawl processes in arrival order, and bench/dedupe_quality.py
measures the difference on shuffled input.

Assignment is two-phase: :meth:`Deduper.assign` decides, the caller stores the
result, and only then :meth:`Deduper.commit` indexes the document, so a failed
database write never leaves the index ahead of the store.
"""
from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from dedupe.index import BandIndex, make_index, optimal_params
from dedupe.settings import DedupeSettings
from dedupe.signature import content_hash, jaccard, minhash_values, shingle_hashes, tokens
from dedupe.story import story_terms, weighted_jaccard


@dataclass(frozen=True)
class DocumentRecord:
    key: Hashable
    text: str
    published_at: dt.datetime | None = None
    fetched_at: dt.datetime | None = None
    title: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Signature:
    """What the index keeps of a document (and the database stores)."""

    minhash: np.ndarray | None  # uint32[num_perm]; None when the text is too short to shingle
    terms: np.ndarray  # uint32 story-term hashes, sorted
    weights: np.ndarray  # float32 weights of those terms
    content_hash: str
    time: float | None  # publication time (else fetch time) as a UNIX timestamp
    fetched: float | None
    story_minhash: np.ndarray | None = None  # MinHash of ``terms`` (before time salting), computed once


@dataclass(frozen=True)
class Assignment:
    key: Hashable
    dup_group_id: Hashable
    story_id: Hashable
    similarity: float | None  # verified Jaccard estimate to the matched copy; None when founding a group
    story_similarity: float | None  # weighted term Jaccard to the story's founder; None when founding a story
    representative: Hashable  # the group's canonical representative once this document is in
    previous_representative: Hashable | None  # set when this document displaced the representative
    signature: Signature

    @property
    def minhash(self) -> np.ndarray | None:
        return self.signature.minhash


def _timestamp(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class _Column:
    """A growable numpy column (amortised O(1) append, no Python object per row)."""

    def __init__(self, dtype, width: int | None = None, fill=0) -> None:
        self.width, self.fill = width, fill
        shape = (1024, width) if width else (1024,)
        self.data = np.full(shape, fill, dtype=dtype)
        self.size = 0

    def append(self, value) -> None:
        if self.size == len(self.data):
            grown = np.full((len(self.data) * 3 // 2,) + self.data.shape[1:], self.fill, dtype=self.data.dtype)
            grown[: self.size] = self.data
            self.data = grown
        self.data[self.size] = value
        self.size += 1

    @property
    def nbytes(self) -> int:
        return self.data[: self.size].nbytes


class Deduper:
    def __init__(
        self,
        settings: DedupeSettings | None = None,
        lookup: Callable[[list[Hashable]], Iterable[tuple[Hashable, Signature, Hashable, Hashable]]] | None = None,
    ) -> None:
        """``lookup`` fetches documents the shared (Redis) index knows but this
        process has not loaded: ``keys -> [(key, signature, dup_group_id, story_id)]``."""
        self.settings = s = settings or DedupeSettings()
        self._lookup = lookup
        self.shared = s.storage.get("type") == "redis"  # the index is shared with other processes
        bands, rows = optimal_params(s.near_duplicate_threshold, s.num_perm)
        self._dup_index = make_index(s.storage, bands, rows, s.num_perm, s.seed, "dup")
        self._story_index = make_index(
            s.storage, s.story_bands, s.story_num_perm // s.story_bands, s.story_num_perm, s.seed, "story"
        )
        self._keys: list[Hashable] = []
        self._number: dict[Hashable, int] = {}
        # Verification needs only equality of MinHash values: their low 16 bits
        # suffice (a chance collision per value is 1/65536) at half the memory.
        self._sig = _Column(np.uint16, s.num_perm)
        self._has_sig = _Column(np.bool_)
        self._terms = _Column(np.uint32, s.story_features)
        self._weights = _Column(np.float16, s.story_features)
        self._nterms = _Column(np.uint8)
        self._time = _Column(np.float64, fill=np.nan)
        self._fetched = _Column(np.float64, fill=np.nan)
        self._group = _Column(np.int32)  # number of the group's founder
        self._story = _Column(np.int32)  # number of the story's founder
        self._rep = _Column(np.int32)  # for a founder: number of its group's representative
        self._span = _Column(np.float64, 2, fill=np.nan)  # for a story founder: first and last time
        self._prefix = _Column(np.uint64)  # content-hash prefix of each document
        # Exact copies: documents by content-hash prefix, in a one-band index (12 bytes per
        # document, where a dict would take ~100).
        self._by_hash = BandIndex(bands=1, rows=2)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._number

    def index_nbytes(self) -> int:
        """Bytes held by the index's arrays (excluding Python dict/list overhead)."""
        columns = (self._sig, self._has_sig, self._terms, self._weights, self._nterms, self._time,
                   self._fetched, self._group, self._story, self._rep, self._span, self._prefix)
        total = sum(c.nbytes for c in columns)
        for index in (self._dup_index, self._story_index, self._by_hash):
            if isinstance(index, BandIndex):
                total += index.nbytes()
        return total

    # --- signatures ------------------------------------------------------------

    def signature(self, record: DocumentRecord) -> Signature:
        s = self.settings
        words = tokens(record.text)
        minhash = None
        if len(words) >= s.min_tokens:
            minhash = minhash_values(shingle_hashes(words, s.shingle_size), s.num_perm, s.seed)
        terms, weights = story_terms(record.title, record.text, record.language, s.story_features, words)
        fetched = _timestamp(record.fetched_at)
        published = _timestamp(record.published_at)
        story_minhash = minhash_values(terms.astype(np.uint64), s.story_num_perm, s.seed + 1) if len(terms) else None
        return Signature(minhash, terms, weights, content_hash(record.text, words),
                         published if published is not None else fetched, fetched, story_minhash)

    def _story_values(self, sig: Signature) -> np.ndarray:
        """MinHash of the story terms: computed with the signature, or here for old ones."""
        if sig.story_minhash is not None:
            return sig.story_minhash
        return minhash_values(sig.terms.astype(np.uint64), self.settings.story_num_perm, self.settings.seed + 1)

    @staticmethod
    def _salted(values: np.ndarray, bucket: int) -> np.ndarray:
        """Story MinHash salted with a time bucket, so that the LSH returns only
        articles from the same or a neighbouring window."""
        return values ^ np.uint32(zlib.crc32(b"t%d" % bucket))

    def _bucket(self, time: float | None) -> int:
        if time is None or math.isnan(time):
            return -1  # articles without a time share one bucket
        return int(time // (self.settings.story_window_hours * 3600))

    def _story_query(self, sig: Signature) -> set:
        bucket = self._bucket(sig.time)
        buckets = (bucket,) if bucket == -1 else (bucket - 1, bucket, bucket + 1)
        values = self._story_values(sig)
        found: set = set()
        for b in buckets:
            found |= self._story_index.query(self._salted(values, b))
        return found

    # --- assignment ------------------------------------------------------------

    def assign(self, record: DocumentRecord, signature: Signature | None = None) -> Assignment:
        """Decide the groups of ``record`` without changing the index."""
        sig = signature or self.signature(record)
        match, similarity = self._near_duplicate(sig)
        if match is not None:
            group = int(self._group.data[match])
            story = int(self._story.data[match])
            rep = int(self._rep.data[group])
            new_rep = record.key if self._earlier(sig, rep) else self._keys[rep]
            previous = self._keys[rep] if new_rep == record.key else None
            return Assignment(record.key, self._keys[group], self._keys[story], similarity, None,
                              new_rep, previous, sig)
        story, story_similarity = self._same_story(sig)
        story_key = self._keys[story] if story is not None else record.key
        return Assignment(record.key, record.key, story_key, None, story_similarity, record.key, None, sig)

    def _near_duplicate(self, sig: Signature) -> tuple[int | None, float | None]:
        prefix = int(sig.content_hash[:15], 16)
        exact = [n for n in self._by_hash.query(_prefix_values(prefix)) if int(self._prefix.data[n]) == prefix]
        if exact:
            return min(exact), 1.0
        if sig.minhash is None:
            return None, None
        s = self.settings
        low = (sig.minhash & 0xFFFF).astype(np.uint16)
        best, best_sim = None, 0.0
        for number in self._resolve(self._dup_index.query(sig.minhash)):
            if not self._has_sig.data[number]:
                continue
            sim = jaccard(low, self._sig.data[number])
            if sim < s.near_duplicate_threshold:
                continue
            if sim > best_sim or (sim == best_sim and number < best):
                best, best_sim = number, sim
        return best, (best_sim if best is not None else None)

    def _same_story(self, sig: Signature) -> tuple[int | None, float | None]:
        s = self.settings
        if not len(sig.terms):
            return None, None
        candidates = self._resolve(self._story_query(sig))
        window, span = s.story_window_hours * 3600, s.story_max_span_hours * 3600
        best, best_score = None, 0.0
        for founder in sorted({int(self._story.data[c]) for c in candidates}):
            first, last = self._span.data[founder]
            founder_time = self._time.data[founder]
            threshold = s.story_threshold
            if sig.time is None or math.isnan(founder_time):
                # No time to check against. Same-topic stories from different weeks reach
                # 0.3 on terms alone (seeds 003 and 004), same-event reports about 0.2.
                threshold *= 3
            elif abs(sig.time - founder_time) > window or max(last, sig.time) - min(first, sig.time) > span:
                continue
            score = weighted_jaccard(sig.terms, sig.weights, *self._doc_terms(founder))
            if score >= threshold and score > best_score:
                best, best_score = founder, score
        return best, (best_score if best is not None else None)

    def _doc_terms(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        n = int(self._nterms.data[number])
        return self._terms.data[number, :n], self._weights.data[number, :n].astype(np.float32)

    def _earlier(self, sig: Signature, number: int) -> bool:
        """Is the new document published (then fetched) before document ``number``?"""
        mine = (_or_inf(sig.time), _or_inf(sig.fetched))
        theirs = (_or_inf(self._time.data[number]), _or_inf(self._fetched.data[number]))
        return mine < theirs

    def _resolve(self, found: set) -> list[int]:
        """Index results as document numbers, loading unknown shared-index keys via ``lookup``."""
        if not self.shared:
            return sorted(found)
        missing = [key for key in found if key not in self._number]
        if missing and self._lookup is not None:
            for key, signature, group, story in self._lookup(missing):
                self.load(key, signature, group, story, index=False)
        return sorted(self._number[key] for key in found if key in self._number)

    # --- indexing --------------------------------------------------------------

    def commit(self, assignment: Assignment) -> None:
        """Index an assigned (and stored) document."""
        self.load(assignment.key, assignment.signature, assignment.dup_group_id, assignment.story_id)
        if assignment.previous_representative is not None:
            group = self._number[assignment.dup_group_id]
            self._rep.data[group] = self._number[assignment.key]

    def load(self, key: Hashable, sig: Signature, dup_group_id: Hashable, story_id: Hashable,
             representative: Hashable | None = None, index: bool = True) -> None:
        """Index a document whose groups are already known (e.g. read back from the database)."""
        if key in self._number:
            return
        number = len(self._keys)
        self._keys.append(key)
        self._number[key] = number
        s = self.settings
        self._sig.append((sig.minhash & 0xFFFF).astype(np.uint16) if sig.minhash is not None else 0)
        self._has_sig.append(sig.minhash is not None)
        n = min(len(sig.terms), s.story_features)
        row_terms = np.zeros(s.story_features, dtype=np.uint32)
        row_weights = np.zeros(s.story_features, dtype=np.float16)
        row_terms[:n], row_weights[:n] = sig.terms[:n], sig.weights[:n]
        self._terms.append(row_terms)
        self._weights.append(row_weights)
        self._nterms.append(n)
        self._time.append(np.nan if sig.time is None else sig.time)
        self._fetched.append(np.nan if sig.fetched is None else sig.fetched)
        group = self._number.get(dup_group_id, number)
        story = self._number.get(story_id, number)
        self._group.append(group)
        self._story.append(story)
        self._rep.append(number)
        self._span.append((np.nan, np.nan))
        if representative is not None and representative in self._number:
            self._rep.data[group] = self._number[representative]
        if sig.time is not None:
            first, last = self._span.data[story]
            self._span.data[story] = (np.fmin(first, sig.time), np.fmax(last, sig.time))
        prefix = int(sig.content_hash[:15], 16)
        self._prefix.append(prefix)
        self._by_hash.insert(number, _prefix_values(prefix))
        if index:
            index_key = key if self.shared else number
            if sig.minhash is not None:
                self._dup_index.insert(index_key, sig.minhash)
            if n:
                self._story_index.insert(index_key, self._salted(self._story_values(sig), self._bucket(sig.time)))

    def set_representative(self, dup_group_id: Hashable, key: Hashable) -> None:
        """Record a group's representative read back from storage."""
        if dup_group_id in self._number and key in self._number:
            self._rep.data[self._number[dup_group_id]] = self._number[key]

    def replace(self, key: Hashable, sig: Signature) -> None:
        """Re-index a document whose text changed; its groups are kept.

        In the in-memory index the old band entries stay behind: they can only
        make the document a candidate where it no longer belongs, and every
        candidate is verified against its current signature.
        """
        number = self._number[key]
        s = self.settings
        if self.shared:
            self._dup_index.remove(key)
            self._story_index.remove(key)
        prefix = int(sig.content_hash[:15], 16)
        self._prefix.data[number] = prefix  # the old entry in _by_hash no longer verifies
        self._by_hash.insert(number, _prefix_values(prefix))
        self._sig.data[number] = (sig.minhash & 0xFFFF).astype(np.uint16) if sig.minhash is not None else 0
        self._has_sig.data[number] = sig.minhash is not None
        n = min(len(sig.terms), s.story_features)
        self._terms.data[number] = 0
        self._weights.data[number] = 0
        self._terms.data[number, :n] = sig.terms[:n]
        self._weights.data[number, :n] = sig.weights[:n]
        self._nterms.data[number] = n
        index_key = key if self.shared else number
        if sig.minhash is not None:
            self._dup_index.insert(index_key, sig.minhash)
        if n:
            self._story_index.insert(index_key, self._salted(self._story_values(sig), self._bucket(self._time.data[number])))

    def add(self, record: DocumentRecord) -> Assignment:
        assignment = self.assign(record)
        self.commit(assignment)
        return assignment


def _prefix_values(prefix: int) -> np.ndarray:
    return np.array([prefix & 0xFFFFFFFF, prefix >> 32], dtype=np.uint32)


def _or_inf(value) -> float:
    return math.inf if value is None or (isinstance(value, float) and math.isnan(value)) else value


def cluster_records(records: Iterable[DocumentRecord], settings: DedupeSettings | None = None) -> list[Assignment]:
    """Group a batch of documents; used by ``newscrawl cluster``.

    Documents are processed in publication order (then fetch order, then
    input order), so the earliest copy founds its group, as it would in a
    crawl that saw the stories as they broke.
    """
    deduper = Deduper(settings)
    records = list(records)
    order = sorted(
        range(len(records)),
        key=lambda i: (_or_inf(_timestamp(records[i].published_at)), _or_inf(_timestamp(records[i].fetched_at)), i),
    )
    by_index: dict[int, Assignment] = {}
    for i in order:
        by_index[i] = deduper.add(records[i])
    return [by_index[i] for i in range(len(records))]
