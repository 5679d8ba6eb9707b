"""LSH band indexes behind one factory: compact in-memory, or datasketch on Redis.

datasketch's in-memory ``MinHashLSH`` keeps Python sets per bucket: about
3.5 KB per document at threshold 0.8. ``BandIndex`` keeps the same bands as
sorted numpy arrays (12 bytes per band per document), with a small dict for
recent inserts that is merged into the arrays in batches. For several workers
sharing one index, ``RedisBandIndex`` wraps datasketch's ``MinHashLSH`` with
its Redis storage and a fixed basename.
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
    """One 64-bit key per band: the band number in the high 32 bits, a 32-bit hash of
    the band's rows below (multiply-xor mixing, vectorised over all bands at once)."""
    matrix = values[: bands * rows].astype(np.uint64).reshape(bands, rows)
    key = np.zeros(bands, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic mod 2**64 is the mixing
        for column in range(rows):
            key = (key ^ matrix[:, column]) * _MIX
        key ^= key >> np.uint64(32)
    return (np.arange(bands, dtype=np.uint64) << np.uint64(32)) | (key & _LOW32)


class BandIndex:
    """Compact in-memory LSH over integer keys (the Deduper's dense document numbers)."""

    FLUSH_EVERY = 1024  # documents buffered in a dict before merging into the sorted arrays

    def __init__(self, bands: int, rows: int) -> None:
        self.bands = bands
        self.rows = rows
        self._keys = np.zeros(0, dtype=np.uint64)  # sorted band keys
        self._ids = np.zeros(0, dtype=np.uint32)  # document number for each band key
        self._pending: dict[int, list[int]] = {}
        self._pending_docs = 0
        self._removed: set[int] = set()

    def insert(self, key: int, values: np.ndarray) -> None:
        self._removed.discard(key)
        for band_key in band_keys(values, self.bands, self.rows).tolist():
            self._pending.setdefault(band_key, []).append(key)
        self._pending_docs += 1
        if self._pending_docs >= self.FLUSH_EVERY:
            self._flush()

    def query(self, values: np.ndarray) -> set[int]:
        wanted = band_keys(values, self.bands, self.rows)
        found: set[int] = set()
        if len(self._keys):
            left = np.searchsorted(self._keys, wanted, side="left")
            right = np.searchsorted(self._keys, wanted, side="right")
            for lo, hi in zip(left.tolist(), right.tolist()):
                if hi > lo:
                    found.update(self._ids[lo:hi].tolist())
        for band_key in wanted.tolist():
            found.update(self._pending.get(band_key, ()))
        return found - self._removed if self._removed else found

    def remove(self, key: int) -> None:
        self._removed.add(key)

    def _flush(self) -> None:
        if not self._pending:
            return
        new_keys = np.fromiter(
            (k for k, ids in self._pending.items() for _ in ids), dtype=np.uint64
        )
        new_ids = np.fromiter((i for ids in self._pending.values() for i in ids), dtype=np.uint32)
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_ids = new_keys[order], new_ids[order]
        if self._removed:  # compact: drop removed documents while we copy anyway
            keep = ~np.isin(self._ids, np.fromiter(self._removed, dtype=np.uint32))
            self._keys, self._ids = self._keys[keep], self._ids[keep]
        positions = np.searchsorted(self._keys, new_keys, side="right")
        self._keys = np.insert(self._keys, positions, new_keys)
        self._ids = np.insert(self._ids, positions, new_ids)
        self._pending.clear()
        self._pending_docs = 0

    def __len__(self) -> int:
        return len(self._ids) // self.bands + self._pending_docs

    def nbytes(self) -> int:
        return self._keys.nbytes + self._ids.nbytes


class RedisBandIndex:
    """datasketch MinHashLSH on Redis, so that several crawl workers share one index.

    Keys are the documents' stable external keys (article ids), not process-local
    numbers, because every worker must read the same keys back.
    """

    def __init__(self, bands: int, rows: int, num_perm: int, seed: int, storage: dict, name: str) -> None:
        from datasketch import MinHashLSH

        basename = storage.get("basename", b"newscrawl")
        if isinstance(basename, str):
            basename = basename.encode()
        config = {**storage, "basename": basename + b":" + name.encode()}
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
