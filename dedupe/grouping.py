"""Assign documents to near-duplicate groups and stories, incrementally.

Each new document is compared only with the LSH candidates of its signature,
never with all stored documents. A group's id is the key of the document that
founded it, so ids stay stable as later copies join.

Assignment is two-phase: :meth:`Deduper.assign` decides, the caller stores the
result, and only then :meth:`Deduper.commit` adds the document to the index.
A failed database write therefore never leaves the index ahead of the store.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from datasketch import LeanMinHash, MinHashLSH

from dedupe.settings import DedupeSettings
from dedupe.signature import content_hash, make_minhash, tokens


@dataclass(frozen=True)
class DocumentRecord:
    key: Hashable
    text: str
    published_at: dt.datetime | None = None
    fetched_at: dt.datetime | None = None


@dataclass(frozen=True)
class Assignment:
    key: Hashable
    dup_group_id: Hashable
    story_id: Hashable
    similarity: float | None  # verified Jaccard estimate to the matched copy; None for a new group
    minhash: LeanMinHash | None  # None when the text is too short to shingle meaningfully
    content_hash: str


@dataclass
class _Indexed:
    minhash: LeanMinHash | None
    digest: str
    dup_group_id: Hashable
    story_id: Hashable


class Deduper:
    def __init__(self, settings: DedupeSettings | None = None) -> None:
        self.settings = settings or DedupeSettings()
        self._lsh = MinHashLSH(
            threshold=self.settings.near_duplicate_threshold,
            num_perm=self.settings.num_perm,
            storage_config=self.settings.storage,
        )
        self._docs: dict[Hashable, _Indexed] = {}
        self._by_hash: dict[str, Hashable] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._docs

    def signature(self, text: str) -> LeanMinHash | None:
        if len(tokens(text)) < self.settings.min_tokens:
            return None
        return make_minhash(text, self.settings)

    def assign(self, record: DocumentRecord, minhash: LeanMinHash | None = None) -> Assignment:
        """Decide the groups of ``record`` without changing the index."""
        digest = content_hash(record.text)
        if minhash is None:
            minhash = self.signature(record.text)
        exact = self._by_hash.get(digest)
        if exact is not None:
            match = self._docs[exact]
            return Assignment(record.key, match.dup_group_id, match.story_id, 1.0, minhash, digest)
        best_key, best_sim = None, 0.0
        if minhash is not None:
            for candidate in self._lsh.query(minhash):
                indexed = self._docs.get(candidate)
                if indexed is None or indexed.minhash is None:
                    continue
                # LSH candidates include false positives; verify the estimate.
                sim = minhash.jaccard(indexed.minhash)
                if sim >= self.settings.near_duplicate_threshold and (
                    sim > best_sim or (sim == best_sim and _sort_key(candidate) < _sort_key(best_key))
                ):
                    best_key, best_sim = candidate, sim
        if best_key is None:
            return Assignment(record.key, record.key, record.key, None, minhash, digest)
        match = self._docs[best_key]
        return Assignment(record.key, match.dup_group_id, match.story_id, best_sim, minhash, digest)

    def commit(self, assignment: Assignment) -> None:
        """Add an assigned (and stored) document to the index."""
        self.load(
            assignment.key,
            assignment.minhash,
            assignment.content_hash,
            assignment.dup_group_id,
            assignment.story_id,
        )

    def load(
        self,
        key: Hashable,
        minhash: LeanMinHash | None,
        digest: str,
        dup_group_id: Hashable,
        story_id: Hashable,
    ) -> None:
        """Index a document whose groups are already known (e.g. from the database)."""
        if key in self._docs:
            return
        self._docs[key] = _Indexed(minhash, digest, dup_group_id, story_id)
        self._by_hash.setdefault(digest, key)
        if minhash is not None:
            self._lsh.insert(key, minhash, check_duplication=False)

    def replace(
        self,
        key: Hashable,
        minhash: LeanMinHash | None,
        digest: str,
        dup_group_id: Hashable,
        story_id: Hashable,
    ) -> None:
        """Re-index a document whose text changed (its groups are kept)."""
        old = self._docs.pop(key, None)
        if old is not None:
            if old.minhash is not None:
                self._lsh.remove(key)
            if self._by_hash.get(old.digest) == key:
                del self._by_hash[old.digest]
        self.load(key, minhash, digest, dup_group_id, story_id)

    def add(self, record: DocumentRecord) -> Assignment:
        assignment = self.assign(record)
        self.commit(assignment)
        return assignment


def _sort_key(key: Hashable | None) -> tuple:
    return (str(type(key)), key) if key is not None else ("", "")


def cluster_records(records: Iterable[DocumentRecord], settings: DedupeSettings | None = None) -> list[Assignment]:
    """Group a batch of documents; used by ``newscrawl cluster``.

    Documents are processed in publication order (then fetch order, then
    input order), so the earliest copy founds its group, as in a crawl.
    """
    deduper = Deduper(settings)
    records = list(records)
    far_future = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    order = sorted(
        range(len(records)),
        key=lambda i: (records[i].published_at or far_future, records[i].fetched_at or far_future, i),
    )
    by_index: dict[int, Assignment] = {}
    for i in order:
        by_index[i] = deduper.add(records[i])
    return [by_index[i] for i in range(len(records))]
