"""The ``clean_articles`` view: newscrawl's public interface (docs/clean_articles.md)."""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Double,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from models.base import UTCDateTime

# The view as SQLAlchemy sees it. It lives in its own MetaData, not in the
# models' Base.metadata: the view is created by migrations (0005, then 0016), and Alembic's
# autogenerate must never try to create it as a table. The types give the
# result processing (aware UTC datetimes, decoded JSON lists, booleans) on
# every backend; the columns and their order follow the migration, and
# tests/test_contract.py checks that the two agree.
view_metadata = MetaData()
clean_articles = Table(
    "clean_articles",
    view_metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text),
    Column("canonical_url", String(2048)),
    Column("site", String(255)),
    Column("site_name", String(255)),
    Column("title", Text),
    Column("authors", JSON),
    Column("published_at", UTCDateTime),
    Column("language", String(16)),
    Column("text", Text),
    Column("image", Text),
    Column("section", String(255)),
    Column("tags", JSON),
    Column("fetched_at", UTCDateTime),
    Column("extractor_version", String(64)),
    Column("dup_group_id", Integer),
    Column("story_id", Integer),
    Column("is_canonical", Boolean),
    Column("dup_similarity", Double),
    Column("story_similarity", Double),
    Column("author_organisations", JSON),
)
