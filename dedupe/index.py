"""LSH band indexes behind one factory: compact in-memory, or datasketch on Redis.

datasketch's in-memory ``MinHashLSH`` keeps Python sets per bucket: about
3.5 KB per document at threshold 0.8. ``BandIndex`` keeps the same bands as
one sorted numpy array of 32-bit band keys with a 32-bit document number
beside each (8 bytes per band per document). For several workers sharing one index,
``RedisBandIndex`` wraps datasketch's ``MinHashLSH`` with its Redis storage and
a fixed basename.
"""
from __future__ import annotations

from collections.abc import Hashable
from functools import lru_cache
from typing import Protocol

import numpy as np

from dedupe.signature import to_lean


class LSHIndex(Protocol):
    def insert(self, key: int, values: np.ndarray) -> None: ...
    def query(self, values: np.ndarray) -> set[int]: ...
    def remove(self, key: int) -> None: ...


_MIX = np.uint64(0x9E3779B97F4A7C15)
_NONE = np.zeros(0, dtype=np.uint32)
_LOW32 = np.uint64(0xFFFFFFFF)


def band_keys(values: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 32-bit key per band: the band number in the high bits, a hash of the band's
    rows below (multiply-xor mixing, vectorised over all bands at once). ``values``
    may be one signature or a matrix of them (one row each).

    With 32 bands the hash keeps 27 bits: a document then shares a band key with
    an unrelated one by chance with probability 2**-27 per band and document, so
    at 100k documents about one query in 40 gets one spurious candidate. Every
    candidate is verified on the signature anyway, and 4 bytes a key instead of 8
    is part of what keeps the index under a kilobyte per article."""
    prefix, band_bits = _band_prefix(bands)
    matrix = values[..., : bands * rows].astype(np.uint64).reshape(values.shape[:-1] + (bands, rows))
    with np.errstate(over="ignore"):  # arithmetic mod 2**64 is the mixing
        key = matrix[..., 0] * _MIX
        for column in range(1, rows):
            key = (key ^ matrix[..., column]) * _MIX
    # The high half of the mixed value, then the top (32 - band_bits) bits of that.
    return prefix | (key >> band_bits).astype(np.uint32)


@lru_cache(maxsize=16)
def _band_prefix(bands: int) -> tuple[np.ndarray, np.uint64]:
    band_bits = max(1, int(bands - 1).bit_length())
    prefix = (np.arange(bands, dtype=np.uint64) << np.uint64(32 - band_bits)).astype(np.uint32)
    return prefix, np.uint64(32 + band_bits)


class _Sorted:
    """Sorted uint32 keys with a uint32 value beside each; merges copy (no growth slack)."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.uint32)
        self.ids = np.zeros(0, dtype=np.uint32)

    def merge(self, keys: np.ndarray, ids: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        keys, ids = keys[order], ids[order]
        positions = np.searchsorted(self.keys, keys, side="right")
        self.keys = np.insert(self.keys, positions, keys)
        self.ids = np.insert(self.ids, positions, ids)

    def drop(self, removed: np.ndarray) -> None:
        keep = ~np.isin(self.ids, removed)
        self.keys, self.ids = self.keys[keep], self.ids[keep]

    def find(self, wanted: np.ndarray) -> np.ndarray:
        """Ids under any of the keys ``wanted`` (with repeats)."""
        if not len(self.keys):
            return _NONE
        left = np.searchsorted(self.keys, wanted)
        hit = self.keys[np.minimum(left, len(self.keys) - 1)] == wanted
        if not hit.any():  # most queries: no band shared with anything
            return _NONE
        starts = left[hit]
        lengths = np.searchsorted(self.keys, wanted[hit], side="right") - starts
        if len(starts) == 1:
            return self.ids[starts[0] : starts[0] + lengths[0]]
        # All the ranges at once: position j of range r is starts[r] + j.
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        return self.ids[offsets + np.arange(len(offsets))]

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.ids.nbytes


class BandIndex:
    """Compact in-memory LSH over integer keys (the Deduper's dense document numbers).

    Three levels: the last ``FLUSH_EVERY`` documents' band keys as rows of a small
    matrix (a query compares it whole, one numpy operation), merged into a
    "young" sorted array, merged every ``MERGE_EVERY`` documents into the main
    one. A merge copies the array it grows: the levels keep the copying to
    about one pass over the index per ``MERGE_EVERY`` documents, and no level
    holds a Python object per entry."""

    FLUSH_EVERY = 128
    MERGE_EVERY = 4096

    def __init__(self, bands: int, rows: int) -> None:
        if bands > 2**16:
            raise ValueError("too many bands for 32-bit band keys")
        self.bands = bands
        self.rows = rows
        self._main = _Sorted()
        self._young = _Sorted()
        self._young_docs = 0
        self._pending = np.zeros((self.FLUSH_EVERY, bands), dtype=np.uint32)
        self._pending_ids = np.zeros(self.FLUSH_EVERY, dtype=np.uint32)
        self._pending_docs = 0
        self._removed: set[int] = set()
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # (values, their band keys)

    def _keys_of(self, values: np.ndarray) -> np.ndarray:
        # The Deduper queries a signature and then inserts the same one: hash it once.
        if self._last is not None and np.array_equal(self._last[0], values):
            return self._last[1]
        keys = band_keys(values, self.bands, self.rows)
        self._last = (values.copy(), keys)
        return keys

    def insert(self, key: int, values: np.ndarray) -> None:
        self._removed.discard(key)
        self._pending[self._pending_docs] = self._keys_of(values)
        self._pending_ids[self._pending_docs] = key
        self._pending_docs += 1
        if self._pending_docs == self.FLUSH_EVERY:
            self._flush()

    def insert_many(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Insert documents ``keys`` with the signatures ``values`` (one row each) at once."""
        if not len(keys):
            return
        self._removed.difference_update(keys.tolist())
        self._flush()  # what is pending goes first
        self._young.merge(band_keys(values, self.bands, self.rows).ravel(),
                          np.repeat(keys.astype(np.uint32), self.bands))
        self._young_docs += len(keys)
        self._flush()  # merges into the main level when the young one is full

    def query(self, values: np.ndarray) -> set[int]:
        return set(self.query_array(values).tolist())

    def query_array(self, values: np.ndarray) -> np.ndarray:
        """Documents sharing a band with ``values``, or with any row of a matrix
        ``values``: a sorted array of distinct document numbers."""
        if values.ndim == 1:
            wanted = self._keys_of(values)
        else:
            wanted = band_keys(values, self.bands, self.rows)
        parts = [self._main.find(wanted.ravel()), self._young.find(wanted.ravel())]
        if self._pending_docs:
            pending = self._pending[: self._pending_docs]
            if wanted.ndim == 1:
                hit = (pending == wanted).any(axis=1)
            else:
                hit = (pending[:, None, :] == wanted[None, :, :]).any(axis=(1, 2))
            parts.append(self._pending_ids[: self._pending_docs][hit])
        found = np.unique(np.concatenate(parts))
        if self._removed:
            found = found[~np.isin(found, np.fromiter(self._removed, dtype=np.uint32, count=len(self._removed)))]
        return found

    def remove(self, key: int) -> None:
        self._removed.add(key)

    def _flush(self) -> None:
        if self._pending_docs:
            m = self._pending_docs
            self._young.merge(self._pending[:m].ravel(), np.repeat(self._pending_ids[:m], self.bands))
            self._young_docs += m
            self._pending_docs = 0
        if self._young_docs >= self.MERGE_EVERY:
            if self._removed:  # compact: drop removed documents while we copy anyway
                removed = np.fromiter(self._removed, dtype=np.uint32, count=len(self._removed))
                self._main.drop(removed)
                self._young.drop(removed)
                self._removed.clear()
            self._main.merge(self._young.keys, self._young.ids)
            self._young = _Sorted()
            self._young_docs = 0

    def __len__(self) -> int:
        return (len(self._main.ids) + len(self._young.ids)) // self.bands + self._pending_docs

    def nbytes(self) -> int:
        return self._main.nbytes + self._young.nbytes + self._pending.nbytes + self._pending_ids.nbytes


class RedisBandIndex:
    """datasketch MinHashLSH on Redis, so that several crawl workers share one index.

    Keys are the documents' stable external keys (article ids), not process-local
    numbers, because every worker must read the same keys back. The band layout
    is part of the key prefix (``<basename>:<name>:<bands>x<rows>``): band tables
    of another layout cannot be queried with this one, and a new prefix is
    filled from the database when each worker loads the stored articles.
    """

    def __init__(self, bands: int, rows: int, num_perm: int, seed: int, storage: dict, name: str) -> None:
        from datasketch import MinHashLSH

        basename = storage.get("basename", b"newscrawl")
        if isinstance(basename, str):
            basename = basename.encode()
        config = {**storage, "basename": basename + b":" + f"{name}:{bands}x{rows}".encode()}
        self.seed = seed
        self._lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows), storage_config=config)

    def insert(self, key: Hashable, values: np.ndarray) -> None:
        if key not in self._lsh:
            self._lsh.insert(key, to_lean(values, self.seed), check_duplication=False)

    def query(self, values: np.ndarray) -> set:
        return set(self._lsh.query(to_lean(values, self.seed)))

    def remove(self, key: Hashable) -> None:
        if key in self._lsh:
            self._lsh.remove(key)


def make_index(storage: dict, bands: int, rows: int, num_perm: int, seed: int, name: str) -> LSHIndex:
    """The LSH index for ``storage`` (``{"type": "dict"}`` or ``{"type": "redis", ...}``)."""
    kind = storage.get("type", "dict")
    if kind == "dict":
        return BandIndex(bands, rows)
    if kind == "redis":
        return RedisBandIndex(bands, rows, num_perm, seed, storage, name)
    raise ValueError(f"unknown index storage type {kind!r}")


def optimal_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) as datasketch chooses them for ``threshold``, false positives and negatives weighed equally."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def candidate_params(jaccard: float, num_perm: int, recall: float = 0.85) -> tuple[int, int]:
    """(bands, rows) that make a pair of Jaccard ``jaccard`` a candidate with probability
    at least ``recall``, with as many rows per band as allow it (more rows: fewer
    low-similarity candidates to verify).

    Used where candidates are verified by a stricter test than the LSH's own
    S-curve: datasketch's optimum for a threshold t puts the curve's midpoint
    near t, so pairs just above t are missed about half the time."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - jaccard**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1
