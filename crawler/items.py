from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from crawler.page.extract import ExtractedArticle


@dataclass(repr=False)
class PageItem:
    """A fetched page judged to be an article.

    The spider fills the fetch facts and, from the extraction worker that read
    the page, ``article``, ``signature`` and ``body_compressed``
    (crawler.workers.read_and_sign). ExtractionPipeline extracts an item that
    comes without an article; StoragePipeline writes it and records the outcome
    in ``stored_as``.
    """

    url: str  # final URL, after redirects
    canonical_url: str  # identity key: rel=canonical (same site), AMP and trackers resolved
    site: str
    body: bytes  # raw response body, as received (decompressed)
    encoding: str  # the encoding the body was decoded with (crawler.page.encoding.decode_html)
    fetched_at: dt.datetime
    via: str  # how it was found: start, feed, sitemap, listing, canonical
    listed_published: dt.datetime | None = None  # date the feed or sitemap declared
    warc_file: str | None = None  # the WARC file holding this response (crawl --warc, or ingest)
    warc_offset: int | None = None  # byte offset of its response record in that file
    article: ExtractedArticle | None = None
    signature: object | None = None  # dedupe.grouping.Signature of article.text, when computed in a worker
    body_compressed: bytes | None = None  # zlib of ``body``, when compressed in a worker
    stored_as: str | None = None  # new | updated | unchanged
    article_id: int | None = None

    def __repr__(self) -> str:
        # Scrapy logs items in errors and at DEBUG; the raw page does not belong in a log line.
        return f"PageItem(url={self.url!r}, canonical_url={self.canonical_url!r}, stored_as={self.stored_as!r})"
