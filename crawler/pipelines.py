"""Item pipelines: extraction, then storage with dedupe."""
from __future__ import annotations

import logging

from scrapy.exceptions import DropItem, NotConfigured

from crawler.extract import ExtractionError, ExtractionOptions, extract_article
from crawler.items import PageItem
from crawler.store import ArticleStore
from dedupe import DedupeSettings
from models.db import make_engine, redact, resolve_database_url, upgrade

logger = logging.getLogger(__name__)


class ExtractionPipeline:
    """Runs trafilatura on article pages; drops pages with no article text."""

    def __init__(self, options: ExtractionOptions, stats) -> None:
        self.options = options
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        options = ExtractionOptions(
            favor_precision=s.getbool("NEWSCRAWL_FAVOR_PRECISION"),
            min_text_chars=s.getint("NEWSCRAWL_MIN_TEXT_CHARS"),
        )
        return cls(options, crawler.stats)

    def process_item(self, item):
        if not isinstance(item, PageItem):
            return item
        try:
            item.article = extract_article(item.html, item.url, self.options)
        except ExtractionError as exc:
            self.stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            raise DropItem(f"{exc.reason}: {item.url}: {exc}") from exc
        self.stats.inc_value("newscrawl/extracted")
        return item


class StoragePipeline:
    """Writes articles and their dedupe groups to the database.

    The database is upgraded to the current schema when the spider opens, so
    a crawl works on an empty or older database.
    """

    def __init__(self, database_url: str, dedupe_settings: DedupeSettings, stats) -> None:
        self.database_url = database_url
        self.dedupe_settings = dedupe_settings
        self.stats = stats
        self.store: ArticleStore | None = None

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        url = resolve_database_url(s.get("DATABASE_URL"))
        if not url:
            raise NotConfigured("no DATABASE_URL")
        dedupe_settings = DedupeSettings(
            near_duplicate_threshold=s.getfloat("NEWSCRAWL_DEDUPE_THRESHOLD"),
            shingle_size=s.getint("NEWSCRAWL_SHINGLE_SIZE"),
            num_perm=s.getint("NEWSCRAWL_NUM_PERM"),
        )
        return cls(url, dedupe_settings, crawler.stats)

    def open_spider(self):
        upgrade(self.database_url)
        self.engine = make_engine(self.database_url)
        self.store = ArticleStore(self.engine, self.dedupe_settings)
        logger.info("Storing articles in %s", redact(self.database_url))

    def close_spider(self):
        if self.store is not None:
            self.engine.dispose()

    def process_item(self, item):
        if not isinstance(item, PageItem) or item.article is None:
            return item
        try:
            result = self.store.save(
                url=item.url,
                canonical_url=item.canonical_url,
                site=item.site,
                article=item.article,
                raw_body=item.body,
                encoding=item.encoding,
                fetched_at=item.fetched_at,
            )
        except Exception:
            self.stats.inc_value("newscrawl/errors/storage")
            raise
        item.stored_as = result.outcome
        item.article_id = result.article_id
        self.stats.inc_value(f"newscrawl/articles/{result.outcome}")
        logger.info("Article %s (%s): %s", result.article_id, result.outcome, item.canonical_url)
        return item
