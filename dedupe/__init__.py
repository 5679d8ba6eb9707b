"""Near-duplicate and same-story grouping with MinHash LSH.

One code path serves the crawl (with the database) and ``newscrawl cluster``
(without one): both feed documents to :class:`dedupe.grouping.Deduper`.
"""
from dedupe.grouping import Assignment, Deduper, DocumentRecord, Signature, cluster_records
from dedupe.settings import DedupeSettings
from dedupe.signature import content_hash, minhash_from_bytes, minhash_to_bytes

__all__ = [
    "Assignment",
    "DedupeSettings",
    "Deduper",
    "DocumentRecord",
    "Signature",
    "cluster_records",
    "content_hash",
    "minhash_from_bytes",
    "minhash_to_bytes",
]
