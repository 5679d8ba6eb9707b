"""Storage layer: SQLAlchemy 2.0 models, engine helpers and migrations.

The ``articles`` table is a public interface read by downstream tools; every
change to it goes through an Alembic migration (see ``alembic/``).
"""
from models.article import (
    Article,
    ArticleBand,
    ArticleSignature,
    CrawlRun,
    DeadEnd,
    FetchState,
    SiteBlock,
    SiteProfile,
    WarcFile,
)
from models.base import Base
from models.db import DEFAULT_DATABASE_URL, make_engine, resolve_database_url, upgrade
from models.views import clean_articles

__all__ = [
    "Base",
    "Article",
    "ArticleBand",
    "ArticleSignature",
    "CrawlRun",
    "DeadEnd",
    "FetchState",
    "SiteBlock",
    "SiteProfile",
    "WarcFile",
    "clean_articles",
    "DEFAULT_DATABASE_URL",
    "make_engine",
    "resolve_database_url",
    "upgrade",
]
