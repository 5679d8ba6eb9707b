"""Item pipelines: extraction, then storage with dedupe."""
from __future__ import annotations

import logging

from scrapy.exceptions import DropItem

from crawler.extract import ExtractionError, ExtractionOptions, extract_article
from crawler.items import PageItem
from crawler.learning import LearningSettings
from crawler.store import ArticleStore
from dedupe import DedupeSettings
from models.db import make_engine, redact, resolve_database_url, upgrade

logger = logging.getLogger(__name__)


def extraction_options(settings) -> ExtractionOptions:
    return ExtractionOptions(
        agreement=settings.getbool("NEWSCRAWL_PRECISION_AGREEMENT"),
        min_text_chars=settings.getint("NEWSCRAWL_MIN_TEXT_CHARS"),
    )


def store_from_settings(engine, settings) -> ArticleStore:
    """The ArticleStore configured by Scrapy settings (crawl and reprocess share it)."""
    return ArticleStore(
        engine,
        DedupeSettings(
            near_duplicate_threshold=settings.getfloat("NEWSCRAWL_DEDUPE_THRESHOLD"),
            shingle_size=settings.getint("NEWSCRAWL_SHINGLE_SIZE"),
            num_perm=settings.getint("NEWSCRAWL_NUM_PERM"),
        ),
        LearningSettings(
            min_pages=settings.getint("NEWSCRAWL_BOILERPLATE_MIN_PAGES"),
            min_share=settings.getfloat("NEWSCRAWL_BOILERPLATE_MIN_SHARE"),
        ),
        extraction_options(settings),
    )


class ExtractionPipeline:
    """Runs trafilatura on article pages; drops pages with no article text."""

    def __init__(self, options: ExtractionOptions, stats) -> None:
        self.options = options
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(extraction_options(crawler.settings), crawler.stats)

    def process_item(self, item):
        if not isinstance(item, PageItem):
            return item
        try:
            item.article = extract_article(item.html, item.url, self.options)
        except ExtractionError as exc:
            self.stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            self.stats.inc_value(f"newscrawl/site/{item.site}/{exc.reason}")
            raise DropItem(f"{exc.reason}: {item.url}: {exc}") from exc
        self.stats.inc_value("newscrawl/extracted")
        return item


class StoragePipeline:
    """Writes articles and their dedupe groups to the database.

    The database is upgraded to the current schema when the spider opens, so
    a crawl works on an empty or older database.
    """

    def __init__(self, database_url: str, settings, stats) -> None:
        self.database_url = database_url
        self.settings = settings
        self.stats = stats
        self.store: ArticleStore | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(resolve_database_url(crawler.settings.get("DATABASE_URL")), crawler.settings, crawler.stats)

    def open_spider(self):
        upgrade(self.database_url)
        self.engine = make_engine(self.database_url)
        self.store = store_from_settings(self.engine, self.settings)
        recleaned = self.store.reclean_pending()
        if recleaned:
            self.stats.inc_value("newscrawl/articles/recleaned", recleaned)
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
        except ExtractionError as exc:  # nothing left once the site's boilerplate is removed
            self.stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            raise DropItem(f"{exc.reason}: {item.url}: {exc}") from exc
        except Exception:
            self.stats.inc_value("newscrawl/errors/storage")
            raise
        if result.recleaned:
            self.stats.inc_value("newscrawl/articles/recleaned", result.recleaned)
        item.stored_as = result.outcome
        item.article_id = result.article_id
        self.stats.inc_value(f"newscrawl/articles/{result.outcome}")
        self.stats.inc_value(f"newscrawl/site/{item.site}/stored")
        logger.info("Article %s (%s): %s", result.article_id, result.outcome, item.canonical_url)
        return item
