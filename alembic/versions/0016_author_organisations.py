"""articles.author_organisations, and clean_articles with it

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-03

Organisations named as an article's author (a news agency, a desk, the site itself)
are no longer stored as people in ``authors``: when a page names no person, they go
to ``author_organisations``. The view ``clean_articles`` gains the column at its end,
so the existing columns keep their positions.

The view names ``articles``, so it is dropped before the table is altered and created
again afterwards (SQLite's batch mode rebuilds the table; PostgreSQL refuses to alter a
table a view depends on in some ways). Downgrade restores the 0005 view.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0013'
branch_labels = None
depends_on = None

VIEW_COLUMNS_0005 = """
    id,
    url,
    canonical_url,
    site,
    site_name,
    title,
    authors,
    published_at,
    language,
    text,
    image,
    section,
    tags,
    fetched_at,
    extractor_version,
    dup_group_id,
    story_id,
    is_canonical,
    dup_similarity,
    story_similarity"""

CREATE_CLEAN_ARTICLES = f"""
CREATE VIEW clean_articles AS
SELECT{VIEW_COLUMNS_0005},
    author_organisations
FROM articles
"""

CREATE_CLEAN_ARTICLES_0005 = f"""
CREATE VIEW clean_articles AS
SELECT{VIEW_COLUMNS_0005}
FROM articles
"""


def upgrade() -> None:
    op.execute("DROP VIEW clean_articles")
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_organisations', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    op.execute(CREATE_CLEAN_ARTICLES)


def downgrade() -> None:
    op.execute("DROP VIEW clean_articles")
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('author_organisations')
    op.execute(CREATE_CLEAN_ARTICLES_0005)
