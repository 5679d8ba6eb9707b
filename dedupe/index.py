"""LSH band indexes behind one factory: compact in-memory, or datasketch on Redis.

datasketch's in-memory ``MinHashLSH`` keeps Python sets per bucket: about
3.5 KB per document at threshold 0.8. ``BandIndex`` keeps the same bands as
one sorted numpy array of 32-bit band keys with a 32-bit document number
beside each (8 bytes per band per document). Recent inserts wait in a small
dict, are merged into a "young" sorted array every ``FLUSH_EVERY`` documents,
and that into the main array every ``MERGE_EVERY``: a merge copies the array
it grows, so two levels keep both the dict (Python objects, ~100 bytes an
entry) and the copying small. For several workers sharing one index,
``RedisBandIndex`` wraps datasketch's ``MinHashLSH`` with its Redis storage and
a fixed basename.
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

import numpy as np

from dedupe.signature import to_lean


class LSHIndex(Protocol):
    def insert(self, key: int, values: np.ndarray) -> None: ...
    def query(self, values: np.ndarray) -> set[int]: ...
    def remove(self, key: int) -> None: ...


_MIX = np.uint64(0x9E3779B97F4A7C15)
_LOW32 = np.uint64(0xFFFFFFFF)


def band_keys(values: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 32-bit key per band: the band number in the high bits, a hash of the band's
    rows below (multiply-xor mixing, vectorised over all bands at once).

    With 42 bands the hash keeps 26 bits: a document then shares a band key with
    an unrelated one by chance with probability 2**-26 per band and document, so
    at 100k documents about one query in 16 gets one spurious candidate. Every
    candidate is verified on the signature anyway, and 4 bytes a key instead of 8
    is part of what keeps the index under a kilobyte per article."""
    band_bits = max(1, int(bands - 1).bit_length())
    matrix = values[: bands * rows].astype(np.uint64).reshape(bands, rows)
    key = np.zeros(bands, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic mod 2**64 is the mixing
        for column in range(rows):
            key = (key ^ matrix[:, column]) * _MIX
        key ^= key >> np.uint64(32)
    hash_bits = np.uint64(32 - band_bits)
    return ((np.arange(bands, dtype=np.uint64) << hash_bits) | ((key & _LOW32) >> np.uint64(band_bits))).astype(np.uint32)


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

    def find(self, wanted: np.ndarray, found: set[int]) -> None:
        if not len(self.keys):
            return
        left = np.searchsorted(self.keys, wanted, side="left")
        right = np.searchsorted(self.keys, wanted, side="right")
        hit = np.flatnonzero(right > left)
        for i in hit.tolist():
            found.update(self.ids[left[i] : right[i]].tolist())

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.ids.nbytes


class BandIndex:
    """Compact in-memory LSH over integer keys (the Deduper's dense document numbers)."""

    FLUSH_EVERY = 64  # documents buffered in the dict before merging into the young array
    MERGE_EVERY = 4096  # documents in the young array before merging it into the main one

    def __init__(self, bands: int, rows: int) -> None:
        if bands > 2**16:
            raise ValueError("too many bands for 32-bit band keys")
        self.bands = bands
        self.rows = rows
        self._main = _Sorted()
        self._young = _Sorted()
        self._young_docs = 0
        self._pending: dict[int, list[int]] = {}
        self._pending_docs = 0
        self._removed: set[int] = set()

    def insert(self, key: int, values: np.ndarray) -> None:
        self._removed.discard(key)
        for band_key in band_keys(values, self.bands, self.rows).tolist():
            bucket = self._pending.get(band_key)
            if bucket is None:
                self._pending[band_key] = [key]
            else:
                bucket.append(key)
        self._pending_docs += 1
        if self._pending_docs >= self.FLUSH_EVERY:
            self._flush()

    def query(self, values: np.ndarray) -> set[int]:
        wanted = band_keys(values, self.bands, self.rows)
        found: set[int] = set()
        self._main.find(wanted, found)
        self._young.find(wanted, found)
        if self._pending:
            for band_key in wanted.tolist():
                found.update(self._pending.get(band_key, ()))
        return found - self._removed if self._removed else found

    def remove(self, key: int) -> None:
        self._removed.add(key)

    def _flush(self) -> None:
        if self._pending:
            count = sum(map(len, self._pending.values()))
            new_keys = np.fromiter((k for k, ids in self._pending.items() for _ in ids), dtype=np.uint32, count=count)
            new_ids = np.fromiter((i for ids in self._pending.values() for i in ids), dtype=np.uint32, count=count)
            self._young.merge(new_keys, new_ids)
            self._young_docs += self._pending_docs
            self._pending.clear()
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
        return self._main.nbytes + self._young.nbytes


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


def candidate_params(jaccard: float, num_perm: int, recall: float = 0.9) -> tuple[int, int]:
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
