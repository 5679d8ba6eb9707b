"""Assign documents to near-duplicate groups and stories, incrementally.

For each new document only its LSH candidates are examined, never all stored
documents. Group and story ids are the keys of the documents that founded
them, so ids stay stable as later documents join.

- Near-duplicates: MinHash of word 5-shingles; a candidate joins when the
  verified Jaccard estimate reaches ``near_duplicate_threshold`` (a copy of the
  whole text), or when it is a partial copy: estimated containment of the
  shorter text in the longer at least ``containment_threshold``, Jaccard at
  least ``containment_min_jaccard``, published within
  ``containment_window_hours`` (see DedupeSettings). Exact copies are also
  found by content hash (which covers texts too short to shingle). Each group
  has a canonical representative: the earliest published, then the earliest
  fetched.
- Stories: MinHash LSH over the article's salient terms (dedupe.story) yields
  candidate members; a story is verified by the weighted Jaccard of terms
  against its best-matching member within the publication-time window, terms
  weighted down by their spread in the recent stream. A story never spans more
  than ``story_max_span_hours``, and the candidate must also reach
  ``story_core_fraction`` of the threshold against the story's *founding*
  article: the guard against chaining (A~B and B~C must not pull C into A's
  story unless C is about A's event too). See ``Deduper._same_story``.

Order of arrival: a document joins the best verified group at the time it
arrives, and groups never merge afterwards. The result can therefore depend on
order only for borderline documents: one that verifies against two existing
groups, or a founder that would not itself verify against later members.
Partial copies add one case: they are also verified against the group's
founder (see ``Deduper._partial_copy``), so a 3-paragraph cut joins a group
founded by a 6-paragraph cut but not one founded by the full text.
``cluster_records`` removes this for batches by processing in publication
order; the crawl processes in arrival order, and bench/dedupe_quality.py
measures the difference on shuffled input.

Assignment is two-phase: :meth:`Deduper.assign` decides, the caller stores the
result, and only then :meth:`Deduper.commit` indexes the document, so a failed
database write never leaves the index ahead of the store.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import struct
import zlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from dedupe.index import BandIndex, candidate_params, make_index
from dedupe.settings import DedupeSettings
from dedupe.signature import compare, content_hash, minhash_values, order_codes, shingle_hashes, tokens
from dedupe.story import (HEADLINE_TERMS, headline_phrases, headline_terms, numbers_among, story_terms_and_names,
                          weighted_jaccard_scaled)


@dataclass(frozen=True)
class DocumentRecord:
    key: Hashable
    text: str
    published_at: dt.datetime | None = None
    fetched_at: dt.datetime | None = None
    title: str | None = None
    language: str | None = None


@dataclass(frozen=True, eq=False)
class Signature:
    """What the index keeps of a document (and the database stores).

    Like datasketch's ``LeanMinHash``, it owns its byte form (``to_bytes``/``from_bytes``,
    also its pickled form: a process pool sends one flat buffer, not six numpy arrays)
    and compares by value."""

    minhash: np.ndarray | None  # uint32[num_perm]; None when the text is too short to shingle
    terms: np.ndarray  # uint32 story-term hashes, sorted
    weights: np.ndarray  # float32 weights of those terms
    content_hash: str
    time: float | None  # publication time (else fetch time) as a UNIX timestamp
    fetched: float | None
    story_minhash: np.ndarray | None = None  # MinHash of ``terms`` (before time salting), computed once
    headline: np.ndarray | None = None  # salient headline terms (dedupe.story.headline_terms); None: no title
    # Known for a new document only (not stored): the story decision needs them on the candidate's side.
    names: np.ndarray | None = None  # the story terms the text writes as names (sorted hashes)
    headline_phrases: np.ndarray | None = None  # phrase number of each headline term (dedupe.story.headline_phrases)

    # The byte form: a header (version, which optional arrays are present, the length of
    # each array and of content_hash, time, fetched), then the arrays in _ARRAYS order and
    # content_hash, little-endian. ``terms`` and ``weights`` are always present.
    _ARRAYS = (("minhash", "<u4"), ("terms", "<u4"), ("weights", "<f4"), ("story_minhash", "<u4"),
               ("headline", "<u4"), ("names", "<u4"), ("headline_phrases", "<i4"))
    _OPTIONAL = {"minhash": 1, "story_minhash": 2, "headline": 4, "names": 8, "headline_phrases": 16,
                 "time": 32, "fetched": 64}
    _HEADER = struct.Struct("<BB7IHdd")
    _VERSION = 2

    def to_bytes(self) -> bytes:
        flags = sum(bit for name, bit in self._OPTIONAL.items() if getattr(self, name) is not None)
        arrays = [np.zeros(0) if getattr(self, name) is None else getattr(self, name).astype(dtype)
                  for name, dtype in self._ARRAYS]
        digest = self.content_hash.encode("utf-8")
        header = self._HEADER.pack(self._VERSION, flags, *(len(a) for a in arrays), len(digest),
                                   self.time or 0.0, self.fetched or 0.0)
        return b"".join([header, *(a.tobytes() for a in arrays), digest])

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        try:
            version, flags, *lengths = cls._HEADER.unpack_from(data)
        except struct.error as exc:
            raise ValueError(f"not a Signature: {exc}") from None
        if version != cls._VERSION:
            raise ValueError(f"unsupported Signature version {version}")
        *counts, n_digest, time, fetched = lengths
        if len(data) != cls._HEADER.size + 4 * sum(counts) + n_digest:
            raise ValueError(f"Signature of {len(data)} bytes, not what its header says")
        offset = cls._HEADER.size
        values = {}
        for (name, dtype), count in zip(cls._ARRAYS, counts):
            array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
            offset += 4 * count
            present = name not in cls._OPTIONAL or flags & cls._OPTIONAL[name]
            values[name] = array.astype(np.dtype(dtype).newbyteorder("=")) if present else None
        return cls(**values, content_hash=data[offset:].decode("utf-8"),
                   time=time if flags & cls._OPTIONAL["time"] else None,
                   fetched=fetched if flags & cls._OPTIONAL["fetched"] else None)

    def __eq__(self, other) -> bool:
        return isinstance(other, Signature) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __reduce__(self):
        return Signature.from_bytes, (self.to_bytes(),)


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
    # One-article stories (an article and its copies) this document shows to be its story's
    # (see ``Deduper._same_story``): the caller moves all their rows into ``story_id`` with it.
    adopted: tuple = ()

    @property
    def minhash(self) -> np.ndarray | None:
        return self.signature.minhash


def _timestamp(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


_STREAM_BUCKETS = 8  # time buckets of stream term counts kept (the newest; about a month at 96 h)
_CHUNK_BITS = 12
_CHUNK = 1 << _CHUNK_BITS  # rows per chunk
_IN_CHUNK = _CHUNK - 1


class _Column:
    """A numpy column that grows in fixed chunks of 4,096 rows.

    No Python object per row, nothing copied as it grows, and at most one
    partly filled chunk: a column grown by a factor instead carries up to a
    third of unused rows (measured: ~100 bytes per article at 100k)."""

    def __init__(self, dtype, width: int | None = None, fill=0) -> None:
        self.shape = (_CHUNK, width) if width else (_CHUNK,)
        self.dtype, self.fill = dtype, fill
        self.chunks: list[np.ndarray] = []
        self.size = 0

    def append(self, value) -> None:
        if self.size == len(self.chunks) * _CHUNK:
            self.chunks.append(np.full(self.shape, self.fill, dtype=self.dtype))
        self.chunks[-1][self.size & _IN_CHUNK] = value
        self.size += 1

    def extend(self, rows: np.ndarray) -> None:
        """Append many rows at once (``rows[i]`` as ``append`` takes it)."""
        done = 0
        while done < len(rows):
            if self.size == len(self.chunks) * _CHUNK:
                self.chunks.append(np.full(self.shape, self.fill, dtype=self.dtype))
            at = self.size & _IN_CHUNK
            take = min(_CHUNK - at, len(rows) - done)
            self.chunks[-1][at:at + take] = rows[done:done + take]
            self.size += take
            done += take

    def append_prefix(self, values: np.ndarray) -> None:
        """Append a row of a wide column given by its first ``len(values)`` entries (the rest stay ``fill``)."""
        if self.size == len(self.chunks) * _CHUNK:
            self.chunks.append(np.full(self.shape, self.fill, dtype=self.dtype))
        self.chunks[-1][self.size & _IN_CHUNK, : len(values)] = values
        self.size += 1

    def __getitem__(self, number: int):
        """The row (a view, for a column of width > 1)."""
        return self.chunks[number >> _CHUNK_BITS][number & _IN_CHUNK]

    def __setitem__(self, number: int, value) -> None:
        self.chunks[number >> _CHUNK_BITS][number & _IN_CHUNK] = value

    def take(self, numbers: np.ndarray) -> np.ndarray:
        """Rows ``numbers`` (an int array) as one array."""
        first, last = int(numbers[0]) >> _CHUNK_BITS, int(numbers[-1]) >> _CHUNK_BITS
        if first == last:  # candidates from one chunk (numbers come sorted)
            return self.chunks[first][numbers & _IN_CHUNK]
        if len(numbers) <= 8:  # a few rows: one by one is cheaper than grouping by chunk
            out = np.empty((len(numbers),) + self.shape[1:], dtype=self.dtype)
            for j, n in enumerate(numbers.tolist()):
                out[j] = self.chunks[n >> _CHUNK_BITS][n & _IN_CHUNK]
            return out
        # Sorted numbers: each chunk's rows are one contiguous run.
        bounds = np.searchsorted(numbers, np.arange(first, last + 2, dtype=np.int64) << _CHUNK_BITS).tolist()
        within = numbers & _IN_CHUNK
        return np.concatenate([self.chunks[first + i][within[lo:hi]]
                               for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])) if hi > lo])

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.chunks)


_MASK64 = (1 << 64) - 1
_FIBONACCI = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd


class _Slots:
    """Document numbers by a hash, in open addressing (linear probing) on an int32
    table kept at most 5/8 full: 6.4-12.8 bytes per document, where a dict entry
    with its int objects takes ~100. Several numbers may share a hash: lookups
    walk the probe run and the caller checks each number."""

    def __init__(self) -> None:
        self.table = np.full(1024, -1, dtype=np.int32)
        self.count = 0

    def add(self, h: int, number: int, rehash) -> None:
        """``rehash()`` yields (hash, number) of everything added so far, for growing."""
        self.count += 1
        if self.count * 8 > len(self.table) * 5:
            self.table = np.full(len(self.table) * 2, -1, dtype=np.int32)
            for old_hash, old_number in rehash():
                self._place(old_hash, old_number)
        self._place(h, number)

    def _slot(self, h: int) -> int:
        """Fibonacci hashing: the top bits of ``h`` times 2**64/φ. Taking ``h``'s low bits
        instead (h & mask) puts consecutive integer keys (article ids) in consecutive
        slots: loaded out of order, as the dedupe window is, they form one long run,
        and every lookup of a key not in the table walks it to its end."""
        return (((h & _MASK64) * _FIBONACCI) & _MASK64) >> (65 - len(self.table).bit_length())

    def _place(self, h: int, number: int) -> None:
        table, mask = self.table, len(self.table) - 1
        i = self._slot(h)
        while table[i] >= 0:
            i = (i + 1) & mask
        table[i] = number

    def probe(self, h: int):
        """The numbers in ``h``'s probe run (a superset of those added with ``h``)."""
        table, mask = self.table, len(self.table) - 1
        i = self._slot(h)
        while (number := int(table[i])) >= 0:
            yield number
            i = (i + 1) & mask


class _Keys:
    """Document keys by number, and numbers by key, without a Python dict.

    A dict and a list of keys cost ~100 bytes per document at 100k, a tenth of
    the budget. Integer keys (article ids) are kept in an int64 column and
    string keys as UTF-8 in one buffer with end offsets; other keys fall back
    to a list. Numbers are found through :class:`_Slots` by ``hash(key)``."""

    def __init__(self) -> None:
        self._mode: str | None = None  # "int", "str" or "object"
        self._ints = _Column(np.int64)
        self._blob = bytearray()
        self._ends = _Column(np.uint64)
        self._objects: list[Hashable] = []
        self._slots = _Slots()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def key(self, number: int) -> Hashable:
        if self._mode == "int":
            return int(self._ints[number])
        if self._mode == "str":
            start = int(self._ends[number - 1]) if number else 0
            return self._blob[start : int(self._ends[number])].decode()
        return self._objects[number]

    def get(self, key: Hashable, default=None):
        for number in self._slots.probe(hash(key)):
            if self.key(number) == key:
                return number
        return default

    def __contains__(self, key: Hashable) -> bool:
        return self.get(key) is not None

    def append(self, key: Hashable) -> int:
        """Number the new ``key`` (the caller checks it is new)."""
        kind = "int" if type(key) is int and -(2**63) <= key < 2**63 else "str" if type(key) is str else "object"
        if self._mode is None:
            self._mode = kind
        elif kind != self._mode and self._mode != "object":
            self._objects = [self.key(n) for n in range(self._count)]  # mixed key types: keep objects
            self._mode, self._ints, self._blob, self._ends = "object", _Column(np.int64), bytearray(), _Column(np.uint64)
        number = self._count
        if self._mode == "int":
            self._ints.append(key)
        elif self._mode == "str":
            self._blob += key.encode()
            self._ends.append(len(self._blob))
        else:
            self._objects.append(key)
        self._slots.add(hash(key), number, lambda: ((hash(self.key(n)), n) for n in range(number)))
        self._count += 1
        return number

    @property
    def nbytes(self) -> int:
        return self._slots.table.nbytes + self._ints.nbytes + len(self._blob) + self._ends.nbytes


class Deduper:
    def __init__(
        self,
        settings: DedupeSettings | None = None,
        lookup: Callable[[list[Hashable]], Iterable[tuple[Hashable, Signature, Hashable, Hashable]]] | None = None,
        text_of: Callable[[Hashable], str | None] | None = None,
    ) -> None:
        """``lookup`` fetches documents the shared (Redis) index knows but this
        process has not loaded: ``keys -> [(key, signature, dup_group_id, story_id)]``.
        ``text_of`` fetches an indexed document's stored text by key (None when
        gone): with it, a partial copy whose MinHash containment estimate is
        within its error of the threshold is decided on the exact containment
        (the crawl's store reads it from the database; ``cluster_records`` has
        the batch's texts). Without it the estimate decides."""
        self.settings = s = settings or DedupeSettings()
        self._lookup = lookup
        self._text_of = text_of
        self.shared = s.storage.get("type") == "redis"  # the index is shared with other processes
        # Candidates well below the whole-text threshold (partial copies), verified below.
        bands, rows = candidate_params(s.candidate_jaccard, s.num_perm)
        self._dup_index = make_index(s.storage, bands, rows, s.num_perm, s.seed, "dup")
        self._story_index = make_index(
            s.storage, s.story_bands, s.story_num_perm // s.story_bands, s.story_num_perm, s.seed, "story"
        )
        self._keys = _Keys()
        # MinHash values as 16-bit order-preserving codes: verification compares them
        # for equality (Jaccard) and order (containment), at half the memory.
        self._sig = _Column(np.uint16, s.num_perm)
        self._has_sig = _Column(np.bool_)
        self._terms = _Column(np.uint32, s.story_features)
        self._weights = _Column(np.float16, s.story_features)
        self._nterms = _Column(np.uint8)
        self._heads = _Column(np.uint32, HEADLINE_TERMS)
        self._nheads = _Column(np.uint8)  # 0: no title (the headline test does not apply)
        self._time = _Column(np.float64, fill=np.nan)
        self._fetched = _Column(np.float64, fill=np.nan)
        self._group = _Column(np.int32)  # number of the group's founder
        self._story = _Column(np.int32)  # number of the story's founder
        self._size = _Column(np.int32)  # for a story founder: documents in the story
        self._group_size = _Column(np.int32)  # for a dup group founder: documents in the group
        self._rep = _Column(np.int32)  # for a founder: number of its group's representative
        self._span = _Column(np.float64, 2, fill=np.nan)  # for a story founder: first and last time
        self._prefix = _Column(np.uint64)  # content-hash prefix of each document
        # Exact copies: documents by content-hash prefix (where a dict would take ~100 bytes each).
        self._by_hash = _Slots()
        # Salient-term counts of the recent stream, per story time bucket: {bucket: {term: documents}}.
        self._stream: dict[int, dict[int, int]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def index_nbytes(self) -> int:
        """Bytes allocated for the index's arrays (excluding Python object overhead)."""
        columns = (self._sig, self._has_sig, self._terms, self._weights, self._nterms, self._heads, self._nheads,
                   self._time, self._size, self._group_size,
                   self._fetched, self._group, self._story, self._rep, self._span, self._prefix)
        total = sum(c.nbytes for c in columns) + self._keys.nbytes + self._by_hash.table.nbytes
        for index in (self._dup_index, self._story_index):
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
        terms, weights, is_name = story_terms_and_names(record.title, record.text, record.language,
                                                        s.story_features, words)
        fetched = _timestamp(record.fetched_at)
        published = _timestamp(record.published_at)
        story_minhash = minhash_values(terms.astype(np.uint64), s.story_num_perm, s.seed + 1) if len(terms) else None
        heads = headline_terms(record.title, record.language)
        phrases = headline_phrases(record.title, heads, words) if heads is not None else None
        return Signature(minhash, terms, weights, content_hash(record.text, words),
                         published if published is not None else fetched, fetched, story_minhash,
                         heads, terms[is_name], phrases)

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

    def _story_query(self, sig: Signature) -> np.ndarray:
        bucket = self._bucket(sig.time)
        buckets = (bucket,) if bucket == -1 else (bucket - 1, bucket, bucket + 1)
        values = self._story_values(sig)
        salts = np.array([zlib.crc32(b"t%d" % b) for b in buckets], dtype=np.uint32)
        return self._candidates(self._story_index, values[None, :] ^ salts[:, None])

    def _candidates(self, index, values: np.ndarray) -> np.ndarray:
        """Document numbers (sorted int64) sharing a band with ``values`` (one signature,
        or a matrix of them) in ``index``."""
        if isinstance(index, BandIndex):
            return index.query_array(values).astype(np.int64)
        found: set = set()
        for row in np.atleast_2d(values):
            found |= index.query(row)
        return np.array(self._resolve(found), dtype=np.int64)

    # --- assignment ------------------------------------------------------------

    def assign(self, record: DocumentRecord, signature: Signature | None = None) -> Assignment:
        """Decide the groups of ``record`` without changing the index."""
        sig = signature or self.signature(record)
        match, similarity = self._near_duplicate(sig, record.text)
        if match is not None:
            group = int(self._group[match])
            story = int(self._story[match])
            rep = int(self._rep[group])
            new_rep = record.key if self._earlier(sig, rep) else self._keys.key(rep)
            previous = self._keys.key(rep) if new_rep == record.key else None
            return Assignment(record.key, self._keys.key(group), self._keys.key(story), similarity, None,
                              new_rep, previous, sig)
        story, story_similarity, adopted = self._same_story(sig)
        story_key = self._keys.key(story) if story is not None else record.key
        return Assignment(record.key, record.key, story_key, None, story_similarity, record.key, None, sig,
                          tuple(self._keys.key(n) for n in adopted))

    def story_of(self, key: Hashable) -> Hashable:
        """The story id of an indexed document, as it is now."""
        return self._keys.key(int(self._story[self._keys.get(key)]))

    def copy_of(self, sig: Signature) -> Hashable | None:
        """The key of an indexed document that ``sig``'s text is an exact, near or
        partial copy of; None when it is new."""
        match, _ = self._near_duplicate(sig)
        return None if match is None else self._keys.key(match)

    def _near_duplicate(self, sig: Signature, text: str | None = None) -> tuple[int | None, float | None]:
        prefix = int(sig.content_hash[:15], 16)
        exact = [n for n in self._by_hash.probe(prefix) if int(self._prefix[n]) == prefix]
        if exact:
            return min(exact), 1.0
        if sig.minhash is None:
            return None, None
        s = self.settings
        numbers = self._candidates(self._dup_index, sig.minhash)
        if len(numbers):
            numbers = numbers[self._has_sig.take(numbers)]
        if not len(numbers):
            return None, None
        codes = order_codes(sig.minhash)
        similarity, containment = compare(codes, self._sig.take(numbers))
        verified = similarity >= s.near_duplicate_threshold
        exact = self._exact_shingles(text)
        if exact is not None:
            similarity, containment = self._refine(exact, numbers, similarity, containment, verified)
        partial = np.flatnonzero(
            (containment >= s.containment_threshold) & (similarity >= s.containment_min_jaccard) & ~verified)
        if sig.time is not None and len(partial):
            partial = partial[self._partial_copy(sig, codes, numbers[partial], exact)]
            verified[partial] = True
        if not verified.any():
            return None, None
        # The most similar; numbers are sorted, so argmax breaks ties by the earliest indexed.
        best = int(np.argmax(np.where(verified, similarity, -1.0)))
        return int(numbers[best]), float(similarity[best])

    def _exact_shingles(self, text: str | None) -> np.ndarray | None:
        """The shingle hashes of ``text`` when exact containment can be checked (a text source is set)."""
        if self._text_of is None or text is None or self.settings.containment_margin <= 0:
            return None
        return shingle_hashes(tokens(text), self.settings.shingle_size)

    def _refine(self, shingles: np.ndarray, numbers: np.ndarray, similarity: np.ndarray, containment: np.ndarray,
                verified: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact Jaccard and containment for the candidates whose containment estimate is
        within ``containment_margin`` under the threshold (and not already whole copies).

        With 128 permutations the containment estimate's standard error near 0.8 is
        about 0.04: a trim measured at 0.84 can be estimated at 0.79 and missed, or the
        reverse. Only those few candidates need their stored texts, which the text
        source (the database, in a crawl) provides; a text it cannot give keeps the estimate."""
        s = self.settings
        near = np.flatnonzero((containment < s.containment_threshold)
                              & (containment >= s.containment_threshold - s.containment_margin)
                              & (similarity >= s.containment_min_jaccard - s.containment_margin) & ~verified)
        if not len(near):
            return similarity, containment
        similarity, containment = similarity.astype(np.float64), containment.astype(np.float64)
        for i in near.tolist():
            other = self._text_of(self._keys.key(int(numbers[i])))
            if other is None:
                continue
            theirs = shingle_hashes(tokens(other), s.shingle_size)
            if not len(theirs) or not len(shingles):
                continue
            shared = len(np.intersect1d(shingles, theirs, assume_unique=True))
            similarity[i] = shared / (len(shingles) + len(theirs) - shared)
            containment[i] = shared / min(len(shingles), len(theirs))
        return similarity, containment

    def _partial_copy(self, sig: Signature, codes: np.ndarray, numbers: np.ndarray,
                      exact: np.ndarray | None = None) -> np.ndarray:
        """Which of ``numbers`` (already past the containment and Jaccard tests) are
        partial copies: published within the window, and with the group's founder
        passing the same tests. A partial copy only within the window: beyond it,
        shared paragraphs under a new lead are a follow-up reusing background (see
        DedupeSettings). And against the founder too, because partial copies chain
        where whole copies do not: a 3-paragraph excerpt of a 6-paragraph cut of a
        10-paragraph text would join the 10's group through the 6 alone."""
        s = self.settings
        window = s.containment_window_hours * 3600
        ok = np.abs(self._time.take(numbers) - sig.time) <= window  # NaN (no time) compares False
        founders = self._group.take(numbers).astype(np.int64)
        other = np.flatnonzero(ok & (founders != numbers))
        if len(other):
            f = founders[other]
            order = np.argsort(f, kind="stable")  # take wants sorted numbers
            f_sorted = f[order]
            similarity, containment = compare(codes, self._sig.take(f_sorted))
            if exact is not None:
                similarity, containment = self._refine(exact, f_sorted, similarity, containment,
                                                       similarity >= s.near_duplicate_threshold)
            close = np.abs(self._time.take(f_sorted) - sig.time) <= window
            passes = (similarity >= s.near_duplicate_threshold) | (
                (containment >= s.containment_threshold) & (similarity >= s.containment_min_jaccard) & close)
            ok[other[order]] = passes
        return ok

    def _same_story(self, sig: Signature) -> tuple[int | None, float | None, list[int]]:
        """The story ``sig`` belongs to, judged against the story's members, not its founder.

        Candidates are the members the story LSH returns (those sharing salient
        terms). A story's score is its best-matching member's weighted Jaccard,
        with every term weighted down by how common it is in the recent stream
        (:meth:`_stream_factors`): names everyone uses this week are topic, not
        event, evidence. Two guards keep a story from drifting into a topic
        (A~B, B~C pulling in C about something else): the best member must be
        close in time, and the candidate must also reach ``story_core_fraction``
        of the threshold against the story's founder, its core. An article later
        than every member by more than the window is a follow-up, which needs
        ``story_followup_factor`` times the threshold and must come within
        ``story_followup_span_hours`` of the story's first report; nothing joins a
        story beyond ``story_max_span_hours``.
        """
        s = self.settings
        if not len(sig.terms):
            return None, None, []
        candidates = self._story_query(sig)
        if not len(candidates):
            return None, None, []
        window, span = s.story_window_hours * 3600, s.story_max_span_hours * 3600
        factors = None  # computed once, when a story passes the time tests
        heads = set(sig.headline.tolist()) if sig.headline is not None and s.story_headline_overlap else None
        phrase_of = (dict(zip(sig.headline.tolist(), sig.headline_phrases.tolist()))
                     if heads and sig.headline_phrases is not None and s.story_one_phrase_factor > 1 else None)
        names = sig.names if s.story_specific_share > 0 and sig.names is not None else None
        head_numbers = set(numbers_among(sig.headline).tolist()) if heads and s.story_one_phrase_factor > 1 else None
        stories = self._story.take(candidates)
        times = self._time.take(candidates)
        verified: list[tuple[float, int]] = []  # (score, founder) of the stories that pass every test
        for founder in np.unique(stories).tolist():
            mine = stories == founder
            members = candidates[mine]
            member_times = times[mine]
            first, last = self._span[founder]
            threshold = s.story_threshold
            if sig.time is None or math.isnan(self._time[founder]):
                # No time to check against. Same-topic stories from different weeks reach
                # 0.3 on terms alone (seeds 003 and 004), same-event reports about 0.2.
                threshold *= 3
                if sig.time is not None:
                    continue
                close = np.isnan(member_times)
            else:
                if max(last, sig.time) - min(first, sig.time) > span:
                    continue
                close = np.abs(member_times - sig.time) <= window
                if not close.any():
                    if sig.time <= last or not s.story_followup_factor:
                        continue
                    if sig.time - first > s.story_followup_span_hours * 3600:
                        continue  # a follow-up reports on the event's next days, not on the topic's next weeks
                    threshold *= s.story_followup_factor  # after the story's window: a follow-up
                    close[:] = True
            score = margin = 0.0  # best similarity; best similarity over what its link needed
            strong = False  # matched a member on more than a weak headline link
            for member in members[close][-s.story_max_members:].tolist():
                needed, specific = threshold, s.story_specific_share
                if heads:
                    shared_heads = self._shared_headline(heads, member)
                    if shared_heads is not None:
                        if not shared_heads:
                            continue  # both have a headline and they share nothing: other events
                        if self._weak_headline_link(shared_heads, phrase_of, head_numbers, member):
                            # Topic evidence: the member must share more, and more of what happened.
                            needed = threshold * s.story_one_phrase_factor
                            specific = s.story_specific_share * s.story_one_phrase_factor
                member_terms, member_weights = self._doc_terms(member)
                if factors is None:
                    factors = self._stream_factors(sig)
                if names is not None:
                    share = self._specific_share(sig.terms, sig.weights, factors, member_terms, member_weights, names)
                    if share < specific:
                        continue  # they share who and where, not what happened
                similarity = weighted_jaccard_scaled(sig.terms, sig.weights, factors, member_terms, member_weights)
                if similarity >= needed > threshold and weighted_jaccard_scaled(
                        sig.terms, sig.weights, factors, member_terms, member_weights,
                        not_evidence=np.fromiter(shared_heads, dtype=np.uint32, count=len(shared_heads))) < threshold:
                    # A weak link's shared headline name (WeWork, Ascom) is the topic, and a company's or
                    # a person's name is the heaviest term of every report on it (a name, repeated, and
                    # in the title): it alone can lift two events of one topic over the stronger bar.
                    # Without it the texts must still be as close as a strong link needs.
                    continue
                if similarity >= needed:
                    score, margin = max(score, similarity), max(margin, similarity / needed)
                    strong = strong or needed == threshold
            if score < threshold:
                continue
            core = weighted_jaccard_scaled(sig.terms, sig.weights, factors, *self._doc_terms(founder))
            if core >= threshold * s.story_core_fraction:
                verified.append((margin, score, founder, strong))
        if not verified:
            return None, None, []
        # The story matched with the most to spare: a member reached on one shared name must
        # clear 2.5 times the threshold, so its raw similarity is not comparable with a strong link's.
        _, best_score, best, _ = max(verified, key=lambda v: (v[0], v[1], -v[2]))
        return best, best_score, self._adoptable(best, [(f, strong) for _, _, f, strong in verified if f != best])

    def _adoptable(self, story: int, others: list[tuple[int, bool]]) -> list[int]:
        """Of the other stories the new document verified against (``others``: founder, and
        whether the link was strong), the single-article ones whose article also passes the
        core guard against ``story``'s founder.

        Stories never merge, so which article arrives first decides: "Doobie Brothers
        to reunite ... Blossom show" arrives, then "Doobie Brothers set 50th anniversary
        tour" shares only the band's name in its headline and does not join it; a third
        report matches both. The first, still alone, is then moved into the story the
        third joins. Only a story of one article moves, with its republished copies (never a
        story of two reports into a story: that would chain topics), and only when it also
        holds against the core. (Counting the copies as articles kept a report syndicated
        twice out of its story: synthetic BCubed F1 on seeds 0-3 0.9730/0.9727/0.9681/0.9717
        -> 0.9746/0.9727/0.9696/0.9721, hard negatives merged 0 before and after.)

        A story reached on a weak headline link (one shared name, or numbers none shared)
        passed the stronger evidence such a link needs, as it would had its article arrived
        after the new one; only the order of arrival keeps it out. But the new article is then
        the only bridge, and one name is what two events of a topic share: the single is
        adopted only when it also stands against the core on its own, at the full threshold
        with a salient headline word in common. (Never adopting on a weak link left the three
        reports of one visit in two stories whenever the report sharing only "Syria" with
        the first arrived before the one that matched both.)"""
        s = self.settings
        if not s.story_adopt_singles:
            return []
        founder_terms = self._doc_terms(story)
        adopted = []
        for other, strong in others:
            if not self._one_text(other):
                continue
            terms, weights = self._doc_terms(other)
            factors = self._stream_factors_of(terms, self._time[other])
            core = weighted_jaccard_scaled(terms, weights, factors, *founder_terms)
            if strong:
                if core >= s.story_threshold * s.story_core_fraction:
                    adopted.append(other)
            elif core >= s.story_threshold and self._shared_headline(self._headline_of(other), story) != set():
                adopted.append(other)  # None: one of the two has no title, the headline test does not apply
        return adopted

    def _one_text(self, story: int) -> bool:
        """Is ``story`` one article and its republished copies (its founder's dup group alone)?"""
        return int(self._story[story]) == story and int(self._size[story]) == int(self._group_size[story])

    def _story_members(self, story: int) -> list[int]:
        """The indexed documents of ``story`` (a scan of the story column: adoption is rare)."""
        found = []
        for i, chunk in enumerate(self._story.chunks):
            rows = chunk[: max(0, min(_CHUNK, self._story.size - i * _CHUNK))]
            found.extend((np.flatnonzero(rows == story) + i * _CHUNK).tolist())
        return found

    def _headline_of(self, number: int) -> set[int]:
        return set(self._heads[number][:int(self._nheads[number])].tolist())

    def _weak_headline_link(self, shared_heads: set[int], phrase_of: dict[int, int] | None,
                            head_numbers: set[int] | None, member: int) -> bool:
        """Do two headlines that share salient words share only topic evidence?

        - One phrase: a single name ("WeWork", "Hong Kong", "Jang Noksu"), which reports
          on one topic share; reports of one event also share what happened to it.
        - Numbers, none shared: both headlines carry a number and they differ, so the words
          they do share name a kind of thing and the numbers pick different ones ("13-Inch
          MacBook Pro ... Expected" and "16-inch MacBook Pro review", week 11 and week 12).
          Updates of one event whose count changed (12 dead, then 20) still join on
          stronger evidence.

        Either way the member must reach ``story_one_phrase_factor`` times the threshold
        and the specific share (see ``_same_story``)."""
        if phrase_of and len({phrase_of[h] for h in shared_heads}) < 2:
            return True
        if head_numbers:
            n = int(self._nheads[member])
            theirs = numbers_among(self._heads[member][:n])
            return len(theirs) > 0 and head_numbers.isdisjoint(theirs.tolist())
        return False

    def _shared_headline(self, heads: set[int], number: int) -> set[int] | None:
        """The salient ``heads`` that document ``number``'s headline shares; None when it has
        no title (the headline tests do not apply). Sharing none, the two report different
        events (see ``story_headline_overlap``); sharing one phrase, they may share only a
        name (see ``story_one_phrase_factor``)."""
        n = int(self._nheads[number])
        return heads.intersection(self._heads[number][:n].tolist()) if n and heads else None

    @staticmethod
    def _specific_share(terms: np.ndarray, weights: np.ndarray, factors: np.ndarray, member_terms: np.ndarray,
                        member_weights: np.ndarray, names: np.ndarray) -> float:
        """The share of the evidence two documents share (Σ min weight over shared terms,
        stream factors applied) carried by terms that are not names: what happened (see
        ``story_specific_share``). 1 when they share nothing (the similarity decides)."""
        shared, ia, ib = np.intersect1d(terms, member_terms, assume_unique=True, return_indices=True)
        if not len(shared):
            return 1.0
        mins = np.minimum(weights[ia], member_weights[ib]) * factors[ia]
        total = float(mins.sum())
        return float(mins[~np.isin(shared, names)].sum()) / total if total > 0 else 1.0

    def _stream_factors(self, sig: Signature) -> np.ndarray:
        return self._stream_factors_of(sig.terms, np.nan if sig.time is None else sig.time)

    def _stream_factors_of(self, terms: np.ndarray, time: float) -> np.ndarray:
        """Per term: 1 for a term at most ``story_topic_df`` recent documents
        carry among their salient terms, falling as 1 / (1 + extra / story_topic_df) above.

        The recent stream is the documents indexed in the same or neighbouring time
        buckets (copies counted once). A term every third report carries this week
        (Trump, tariffs, Hong Kong) is topic vocabulary, whatever wordfreq says of
        it; the event's own names stay rare in the stream."""
        bucket = self._bucket(time)
        counts = [self._stream.get(b) for b in ((bucket - 1, bucket, bucket + 1) if bucket != -1 else (-1,))]
        counts = [c for c in counts if c]
        if not counts:
            return np.ones(len(terms), dtype=np.float32)
        limit = float(self.settings.story_topic_df)
        df = np.array([sum(c.get(t, 0) for c in counts) for t in terms.tolist()], dtype=np.float32)
        return (1.0 / (1.0 + np.maximum(df - limit, 0.0) / limit)).astype(np.float32)

    def _count_stream(self, sig: Signature) -> None:
        """Count a dup group founder's salient terms in its time bucket; keep the newest buckets only."""
        bucket = self._bucket(sig.time)
        counter = self._stream.get(bucket)
        if counter is None:
            if len(self._stream) >= _STREAM_BUCKETS and bucket < min(self._stream):
                return  # an old article arriving late: it must not push a recent bucket out
            counter = self._stream[bucket] = {}
            if len(self._stream) > _STREAM_BUCKETS:
                del self._stream[min(self._stream)]
        for term in sig.terms.tolist():
            counter[term] = counter.get(term, 0) + 1

    def _doc_terms(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        n = int(self._nterms[number])
        return self._terms[number][:n], self._weights[number][:n].astype(np.float32)

    def _earlier(self, sig: Signature, number: int) -> bool:
        """Is the new document published (then fetched) before document ``number``?"""
        mine = (_or_inf(sig.time), _or_inf(sig.fetched))
        theirs = (_or_inf(self._time[number]), _or_inf(self._fetched[number]))
        return mine < theirs

    def _resolve(self, found: set) -> list[int]:
        """Index results as document numbers, loading unknown shared-index keys via ``lookup``."""
        if not self.shared:
            return sorted(found)
        missing = [key for key in found if key not in self._keys]
        if missing and self._lookup is not None:
            for key, signature, group, story in self._lookup(missing):
                self.load(key, signature, group, story, index=False)
        numbers = (self._keys.get(key) for key in found)
        return sorted(n for n in numbers if n is not None)

    # --- indexing --------------------------------------------------------------

    def commit(self, assignment: Assignment) -> None:
        """Index an assigned (and stored) document."""
        self.load(assignment.key, assignment.signature, assignment.dup_group_id, assignment.story_id)
        if assignment.previous_representative is not None:
            group = self._keys.get(assignment.dup_group_id)
            self._rep[group] = self._keys.get(assignment.key)
        story = self._keys.get(assignment.story_id)
        for key in assignment.adopted:
            number = self._keys.get(key)
            if number is None or not self._one_text(number):
                continue  # no longer a story of its own
            for member in self._story_members(number) if int(self._size[number]) > 1 else (number,):
                if int(self._group[member]) == number:  # as the store moves them (crawler/store/articles.py)
                    self._story[member] = story
            self._size[story] += int(self._size[number])
            self._size[number] = 0
            (first, last), (their_first, their_last) = self._span[story], self._span[number]
            self._span[story] = (np.fmin(first, their_first), np.fmax(last, their_last))

    def load(self, key: Hashable, sig: Signature, dup_group_id: Hashable, story_id: Hashable,
             representative: Hashable | None = None, index: bool = True) -> None:
        """Index a document whose groups are already known (e.g. read back from the database)."""
        if key in self._keys:
            return
        number = self._keys.append(key)
        s = self.settings
        self._sig.append(order_codes(sig.minhash) if sig.minhash is not None else 0)
        self._has_sig.append(sig.minhash is not None)
        n = min(len(sig.terms), s.story_features)
        self._terms.append_prefix(sig.terms[:n])
        self._weights.append_prefix(sig.weights[:n])
        self._nterms.append(n)
        heads = sig.headline[:HEADLINE_TERMS] if sig.headline is not None else np.zeros(0, dtype=np.uint32)
        self._heads.append_prefix(heads)
        self._nheads.append(len(heads))
        self._time.append(np.nan if sig.time is None else sig.time)
        self._fetched.append(np.nan if sig.fetched is None else sig.fetched)
        group = self._keys.get(dup_group_id, number)
        story = self._keys.get(story_id, number)
        self._group.append(group)
        self._story.append(story)
        self._size.append(0)
        self._size[story] += 1
        self._group_size.append(0)
        self._group_size[group] += 1
        self._rep.append(number)
        self._span.append((np.nan, np.nan))
        if representative is not None and representative in self._keys:
            self._rep[group] = self._keys.get(representative)
        if sig.time is not None:
            first, last = self._span[story]
            self._span[story] = (np.fmin(first, sig.time), np.fmax(last, sig.time))
        prefix = int(sig.content_hash[:15], 16)
        self._prefix.append(prefix)
        self._by_hash.add(prefix, number, self._prefixes)
        if index:
            if group == number and n:
                self._count_stream(sig)
            index_key = key if self.shared else number
            if sig.minhash is not None:
                self._dup_index.insert(index_key, sig.minhash)
            if n:
                self._story_index.insert(index_key, self._salted(self._story_values(sig), self._bucket(sig.time)))

    def load_many(self, keys: list, sigs: list[Signature], dup_group_ids: list, story_ids: list,
                  index: bool = True) -> None:
        """``load`` for many documents, in order, with the numpy work (order codes, band
        keys, column writes) done once for all: loading the dedupe window at start
        costs a few µs per document instead of ~100 (crawler/store/history.py)."""
        s = self.settings
        chosen: dict = {}
        for i, key in enumerate(keys):
            if key not in chosen and key not in self._keys:
                chosen[key] = i
        if not chosen:
            return
        order = list(chosen.values())
        keys = [keys[i] for i in order]
        sigs = [sigs[i] for i in order]
        n, first = len(keys), len(self._keys)
        numbers = np.arange(first, first + n, dtype=np.int64)
        for key in keys:
            self._keys.append(key)
        has = np.array([sig.minhash is not None for sig in sigs], dtype=bool)
        minhashes = np.zeros((n, s.num_perm), dtype=np.uint32)
        for i in np.flatnonzero(has).tolist():
            minhashes[i] = sigs[i].minhash
        codes = order_codes(minhashes)
        codes[~has] = 0
        self._sig.extend(codes)
        self._has_sig.extend(has)
        terms = np.zeros((n, s.story_features), dtype=np.uint32)
        weights = np.zeros((n, s.story_features), dtype=np.float16)
        counts = np.zeros(n, dtype=np.uint8)
        for i, sig in enumerate(sigs):
            k = min(len(sig.terms), s.story_features)
            terms[i, :k], weights[i, :k], counts[i] = sig.terms[:k], sig.weights[:k], k
        self._terms.extend(terms)
        self._weights.extend(weights)
        self._nterms.extend(counts)
        heads = np.zeros((n, HEADLINE_TERMS), dtype=np.uint32)
        nheads = np.zeros(n, dtype=np.uint8)
        for i, sig in enumerate(sigs):
            if sig.headline is not None:
                k = min(len(sig.headline), HEADLINE_TERMS)
                heads[i, :k], nheads[i] = sig.headline[:k], k
        self._heads.extend(heads)
        self._nheads.extend(nheads)
        times = np.array([np.nan if sig.time is None else sig.time for sig in sigs], dtype=np.float64)
        self._time.extend(times)
        self._fetched.extend(np.array([np.nan if sig.fetched is None else sig.fetched for sig in sigs]))
        # As ``load`` one by one: a group or story whose founder comes later is the document's own.
        groups = np.array([min(self._keys.get(dup_group_ids[i], first + j), first + j) for j, i in enumerate(order)])
        stories = np.array([min(self._keys.get(story_ids[i], first + j), first + j) for j, i in enumerate(order)])
        self._group.extend(groups)
        self._story.extend(stories)
        self._size.extend(np.zeros(n, dtype=np.int32))
        for story in stories.tolist():
            self._size[story] += 1
        self._group_size.extend(np.zeros(n, dtype=np.int32))
        for group in groups.tolist():
            self._group_size[group] += 1
        self._rep.extend(numbers)
        self._span.extend(np.full((n, 2), np.nan))
        for j in np.flatnonzero(~np.isnan(times)).tolist():
            story, time = int(stories[j]), times[j]
            low, high = self._span[story]
            self._span[story] = (np.fmin(low, time), np.fmax(high, time))
        prefixes = [int(sig.content_hash[:15], 16) for sig in sigs]
        self._prefix.extend(np.array(prefixes, dtype=np.uint64))
        for j, prefix in enumerate(prefixes):
            # Growing the table re-adds the documents added before this one (not the whole batch).
            self._by_hash.add(prefix, first + j,
                              lambda upto=first + j: ((int(self._prefix[m]), m) for m in range(upto)))
        if not index:
            return
        for j in np.flatnonzero((groups == numbers) & (counts > 0)).tolist():
            self._count_stream(sigs[j])  # as ``load``: each group's founder counts in the stream
        with_terms = np.flatnonzero(counts > 0)
        story_values = [self._salted(self._story_values(sigs[j]), self._bucket(sigs[j].time)) for j in with_terms.tolist()]
        if isinstance(self._dup_index, BandIndex) and isinstance(self._story_index, BandIndex):
            self._dup_index.insert_many(numbers[has], minhashes[has])
            if len(with_terms):
                self._story_index.insert_many(numbers[with_terms], np.stack(story_values))
            return
        for j in np.flatnonzero(has).tolist():  # a shared (Redis) index: by stable key, one by one
            self._dup_index.insert(keys[j] if self.shared else first + j, minhashes[j])
        for j, values in zip(with_terms.tolist(), story_values):
            self._story_index.insert(keys[j] if self.shared else first + j, values)

    def _prefixes(self):
        """(prefix, number) of every indexed document, for growing ``_by_hash``.
        A replaced document is listed once, under its current prefix."""
        for number in range(len(self._keys)):
            yield int(self._prefix[number]), number

    def set_representative(self, dup_group_id: Hashable, key: Hashable) -> None:
        """Record a group's representative read back from storage."""
        group, number = self._keys.get(dup_group_id), self._keys.get(key)
        if group is not None and number is not None:
            self._rep[group] = number

    def replace(self, key: Hashable, sig: Signature) -> None:
        """Re-index a document whose text changed; its groups are kept.

        In the in-memory index the old band entries stay behind: they can only
        make the document a candidate where it no longer belongs, and every
        candidate is verified against its current signature.
        """
        number = self._keys.get(key)
        if number is None:
            raise KeyError(key)
        s = self.settings
        if self.shared:
            self._dup_index.remove(key)
            self._story_index.remove(key)
        prefix = int(sig.content_hash[:15], 16)
        self._prefix[number] = prefix  # the old entry in _by_hash no longer verifies
        self._by_hash.add(prefix, number, self._prefixes)
        self._sig[number] = order_codes(sig.minhash) if sig.minhash is not None else 0
        self._has_sig[number] = sig.minhash is not None
        n = min(len(sig.terms), s.story_features)
        self._terms[number] = 0
        self._weights[number] = 0
        self._terms[number][:n] = sig.terms[:n]
        self._weights[number][:n] = sig.weights[:n]
        self._nterms[number] = n
        heads = sig.headline[:HEADLINE_TERMS] if sig.headline is not None else np.zeros(0, dtype=np.uint32)
        self._heads[number] = 0
        self._heads[number][: len(heads)] = heads
        self._nheads[number] = len(heads)
        index_key = key if self.shared else number
        if sig.minhash is not None:
            self._dup_index.insert(index_key, sig.minhash)
        if n:
            self._story_index.insert(index_key, self._salted(self._story_values(sig), self._bucket(self._time[number])))

    def add(self, record: DocumentRecord) -> Assignment:
        assignment = self.assign(record)
        self.commit(assignment)
        return assignment




def _or_inf(value) -> float:
    return math.inf if value is None or (isinstance(value, float) and math.isnan(value)) else value


def cluster_records(records: Iterable[DocumentRecord], settings: DedupeSettings | None = None) -> list[Assignment]:
    """Group a batch of documents; used by ``newscrawl cluster``.

    Documents are processed in publication order (then fetch order, then
    input order), so the earliest copy founds its group, as it would in a
    crawl that saw the stories as they broke.
    """
    records = list(records)
    texts = {record.key: record.text for record in records}
    deduper = Deduper(settings, text_of=texts.get)
    order = sorted(
        range(len(records)),
        key=lambda i: (_or_inf(_timestamp(records[i].published_at)), _or_inf(_timestamp(records[i].fetched_at)), i),
    )
    by_index: dict[int, Assignment] = {}
    for i in order:
        by_index[i] = deduper.add(records[i])
    # A story adopted later (Assignment.adopted) has moved: report every document's final story.
    return [dataclasses.replace(a, story_id=deduper.story_of(a.key)) if a.story_id != deduper.story_of(a.key) else a
            for a in (by_index[i] for i in range(len(records)))]
