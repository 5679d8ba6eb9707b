"""Shingles, MinHash signatures and their byte form."""
from __future__ import annotations

import hashlib
import re
import unicodedata

from datasketch import LeanMinHash, MinHash

from dedupe.settings import DedupeSettings

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; NFKC folds typographic variants (’ vs ')."""
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower())


def shingles(text: str, size: int) -> set[bytes]:
    words = tokens(text)
    if len(words) < size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def make_minhash(text: str, settings: DedupeSettings) -> LeanMinHash:
    mh = MinHash(num_perm=settings.num_perm, seed=settings.seed, scheme=settings.scheme)
    mh.update_batch(list(shingles(text, settings.shingle_size)))
    return LeanMinHash(mh)


def minhash_to_bytes(mh: LeanMinHash) -> bytes:
    buf = bytearray(mh.bytesize())
    mh.serialize(buf, byteorder="<")  # fixed byte order: the bytes may move between machines
    return bytes(buf)


def minhash_from_bytes(data: bytes) -> LeanMinHash:
    return LeanMinHash.deserialize(data, byteorder="<")


def content_hash(text: str) -> str:
    """SHA-256 of the whitespace- and case-normalised text: equal for exact copies."""
    normalised = " ".join(tokens(text))
    return hashlib.sha256(normalised.encode()).hexdigest()
