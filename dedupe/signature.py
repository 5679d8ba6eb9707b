"""Tokens, shingles and MinHash signatures, computed with numpy.

datasketch's ``MinHash.update_batch`` spends most of its ~560 µs per article
in SHA-1 over each shingle string. Here shingles are never built as strings:
each token is hashed once (CRC-32), shingle hashes are combined from token
hashes in numpy, and the 128 affine permutations run as one vectorised
product: about a quarter of the cost. The values are stored as datasketch
``LeanMinHash`` bytes, so datasketch reads them; the scheme name stored
beside them says they are ours.
"""
from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
import zlib
from functools import lru_cache

import numpy as np

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier: spreads combined token hashes


# In ASCII, \w is letters, digits and "_" only: with every other byte made a space, bytes.split
# finds the same runs as the regex, in C.
_ASCII_WORD_OR_SPACE = bytes(c if chr(c).isalnum() or c == ord("_") else ord(" ") for c in range(128)) + \
    b" " * 128
_ASCII = bytes(range(128))


def word_runs(text: str) -> list[str]:
    r"""``re.findall(r"\w+", text)``, split in C when the text's only word characters are ASCII:
    about 7x faster than the regex, which steps through every character in Python's regex
    engine. That is most English text, whose non-ASCII characters are punctuation (’ “ ” —):
    each is then a separator, like the ASCII ones, and all its UTF-8 bytes become spaces."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORD_OR_SPACE).decode("ascii").split()
    data = text.encode("utf-8", "surrogatepass")
    # Deleting the ASCII bytes leaves the other characters' whole UTF-8 sequences (every byte of
    # one is 0x80 or more): few, and the regex says whether any is a word character.
    if _TOKEN_RE.search(data.translate(None, _ASCII).decode("utf-8", "surrogatepass")) is None:
        return data.translate(_ASCII_WORD_OR_SPACE).decode("ascii").split()
    return _TOKEN_RE.findall(text)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; NFKC folds typographic variants (’ vs ')."""
    if not text.isascii():  # ASCII is already NFKC-normal; skipping saves ~15% on English text
        text = unicodedata.normalize("NFKC", text)
    return word_runs(text.lower())


def token_hashes(words: list[str]) -> np.ndarray:
    # map() over builtins runs without a Python frame per word: ~3x a generator expression.
    return np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))


def shingle_hashes(words: list[str], size: int) -> np.ndarray:
    """32-bit hashes of the distinct word ``size``-grams."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    h = token_hashes(words)
    if len(h) < size:
        size = len(h)
    n = len(h) - size + 1
    combined = h[:n].copy()
    with np.errstate(over="ignore"):  # wrap-around is the point of the mixing
        for offset in range(1, size):
            combined = combined * _MIX + h[offset : offset + n]
    combined ^= combined >> np.uint64(29)
    return np.unique(combined & _MASK32)


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    a = rng.randint(0, 2**63 - 1, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
    b = rng.randint(0, 2**63 - 1, size=num_perm, dtype=np.uint64)
    return a, b


def minhash_values(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """uint32 MinHash of a set of 32-bit hashes.

    Each permutation is multiply-shift hashing, (a*x + b) mod 2**64, top 32
    bits (Dietzfelbinger's scheme: 2-universal with a random odd ``a``). It
    needs no modulo by a prime, which halves the cost of the affine form.
    """
    if hashes.size == 0:
        return np.full(num_perm, 0xFFFFFFFF, dtype=np.uint32)
    a, b = permutations(num_perm, seed)
    with np.errstate(over="ignore"):  # arithmetic mod 2**64 is the definition
        values = np.outer(a, hashes)
        values += b[:, None]  # in place: one num_perm x shingles array, not three
    # The top 32 bits of the minimum are the minimum of the top 32 bits (a shift keeps order):
    # shifting the num_perm minima, not the whole matrix, saves one pass over it.
    return (values.min(axis=1) >> _SHIFT32).astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


def to_lean(values: np.ndarray, seed: int):
    """A datasketch ``LeanMinHash`` of ``values``, for datasketch's own LSH (the Redis index).
    Imported here, not at the top: see the note on the byte format below."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=values.astype(np.uint64), scheme="affine32")


# LeanMinHash byte format, written here rather than through datasketch.LeanMinHash:
# importing datasketch imports its whole package, scipy included (~47 MB in every crawl
# process), and the crawl only needs this fixed layout. tests/test_dedupe.py checks that
# datasketch reads what we write and that we read what datasketch writes.
_LEAN_HEADER = struct.Struct("<qiB")  # seed, -(number of values), scheme code (1 = affine32)
_AFFINE32 = 1


def minhash_to_bytes(values: np.ndarray, seed: int) -> bytes:
    """datasketch ``LeanMinHash(seed, values, scheme="affine32").serialize(buf, "<")``."""
    return _LEAN_HEADER.pack(seed, -len(values), _AFFINE32) + values.astype("<u4").tobytes()


def minhash_from_bytes(data: bytes) -> np.ndarray:
    """The uint32 values of datasketch LeanMinHash bytes (affine32 or legacy, little-endian)."""
    seed, count, code = _LEAN_HEADER.unpack_from(data)
    if count >= 0:  # the pre-2.0 layout: no scheme byte
        offset = 12
    elif code == _AFFINE32:
        count, offset = -count, _LEAN_HEADER.size
    else:
        raise ValueError(f"unsupported LeanMinHash scheme code {code}")
    return np.frombuffer(data, dtype="<u4", count=count, offset=offset).astype(np.uint32)


def content_hash(text: str, words: list[str] | None = None) -> str:
    """SHA-256 of the whitespace- and case-normalised text: equal for exact copies.
    ``words`` (``tokens(text)``) may be passed when the caller has them already."""
    normalised = " ".join(tokens(text) if words is None else words)
    return hashlib.sha256(normalised.encode()).hexdigest()


_CODE_SCALE = 2048.0  # codes per doubling: neighbouring codes differ by a factor 2**(1/2048), 0.034%


def order_codes(values: np.ndarray) -> np.ndarray:
    """uint16 codes of uint32 MinHash values that keep both equality and order.

    Verification needs, per permutation, whether two documents' minima are
    equal (Jaccard) and, if not, which is smaller (containment: see
    :func:`compare`). The low 16 bits would keep equality only; a logarithmic
    code keeps order too. Minima of sets of 10-10,000 shingles are 4e5-4e8,
    where two different minima get one code with probability ~3e-4: a
    negligible bias on estimates whose standard error is ~0.04.
    """
    codes = np.log2(values.astype(np.float64) + 1.0) * _CODE_SCALE
    return np.minimum(codes, 65535).astype(np.uint16)


def compare(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jaccard and containment estimates of one signature ``a`` against rows ``b``.

    For each permutation the minimum over A ∪ B lies in A ∩ B (the minima are
    equal), in A \\ B (A's is smaller) or in B \\ A, with probabilities
    proportional to those sets' sizes. So equal / all estimates |A∩B|/|A∪B|,
    and equal / (equal + A smaller) estimates |A∩B|/|A|: the containment of A
    in B, without knowing either set's size. Returned is the containment of
    the smaller set in the larger, |A∩B| / min(|A|, |B|).
    """
    equal = np.count_nonzero(b == a, axis=-1)
    a_smaller = np.count_nonzero(b > a, axis=-1)
    b_smaller = a.shape[-1] - equal - a_smaller
    inside = equal + np.minimum(a_smaller, b_smaller)  # 0 only when nothing is equal either
    return equal / a.shape[-1], equal / np.maximum(inside, 1)
