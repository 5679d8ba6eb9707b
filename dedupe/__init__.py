"""Near-duplicate and same-story grouping with MinHash LSH (datasketch).

One code path serves the crawl (with the database) and ``newscrawl cluster``
(without one): both feed documents to :class:`dedupe.grouping.Deduper`.
"""
from dedupe.settings import DedupeSettings
from dedupe.signature import content_hash, minhash_from_bytes, minhash_to_bytes, make_minhash
from dedupe.grouping import Assignment, Deduper, DocumentRecord

__all__ = [
    "Assignment",
    "DedupeSettings",
    "Deduper",
    "DocumentRecord",
    "content_hash",
    "make_minhash",
    "minhash_from_bytes",
    "minhash_to_bytes",
]
