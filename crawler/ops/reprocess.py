"""Re-deriving stored articles from their raw HTML (``newscrawl reprocess``)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import IO

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from crawler.page.boilerplate import block_hash
from crawler.page.extract import ExtractionError
from crawler.store.learning import SiteBoilerplate
from crawler.pipelines import store_from_settings
from models import Article, SiteBlock, SiteProfile

logger = logging.getLogger(__name__)


@dataclass
class ReprocessReport:
    seen: int = 0
    changed: int = 0
    failed: int = 0  # no text any more: kept as stored, with a warning


def reprocess(engine: Engine, settings, site: str | None = None, relearn: bool = False,
              progress: IO[str] | None = None) -> ReprocessReport:
    store = store_from_settings(engine, settings)
    with Session(engine) as session:
        query = select(Article.id, Article.site).order_by(Article.id)
        if site:
            query = query.where(Article.site == site)
        rows = session.execute(query).all()
    if relearn:
        _relearn(engine, store, [r.site for r in rows], [r.id for r in rows], site)
    report = ReprocessReport()
    for n, (article_id, _) in enumerate(rows, 1):
        outcome = store.reprocess_article(article_id)
        report.seen += 1
        report.changed += outcome == "changed"
        report.failed += outcome == "failed"
        if progress is not None and (n % 100 == 0 or n == len(rows)):
            print(f"  reprocessed {n}/{len(rows)}", file=progress, flush=True)
    return report


def _relearn(engine: Engine, store, sites: list[str], ids: list[int], only_site: str | None) -> None:
    """Recount the blocks of every stored page of the affected sites, from raw HTML."""
    affected = sorted(set(sites))
    with Session(engine) as session, session.begin():
        session.execute(delete(SiteBlock).where(SiteBlock.site.in_(affected)))
        session.execute(delete(SiteProfile).where(SiteProfile.site.in_(affected)))
    learner: SiteBoilerplate = store.boilerplate
    learner.forget()
    for article_id in ids:
        with Session(engine) as session, session.begin():
            row = session.get(Article, article_id)
            try:
                article = store.extract_stored(row)
            except ExtractionError:
                continue
            learner.observe(session, row.site, article.blocks + article.title_affix_blocks,
                            article.block_hashes + [block_hash(b) for b in article.title_affix_blocks])
    learner.forget()
    logger.info("Relearned boilerplate for %d sites from %d stored pages", len(affected), len(ids))
