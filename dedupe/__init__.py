"""Near-duplicate and same-story grouping with MinHash LSH.

One code path serves the crawl (with the database) and ``newscrawl cluster``
(without one): both feed documents to :class:`dedupe.grouping.Deduper`.
"""
from dedupe.settings import DedupeSettings
from dedupe.signature import content_hash, minhash_from_bytes, minhash_to_bytes

__all__ = ["DedupeSettings", "content_hash", "minhash_from_bytes", "minhash_to_bytes"]
