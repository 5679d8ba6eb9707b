"""clean_articles view: the read contract for downstream tools

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

One row per article with the cleaned fields and the grouping columns, and none
of the crawler's internals (raw HTML, hashes, cleaning audit). Downstream tools
read the view, so the table behind it can change without breaking them; the
columns, their order and their meaning are pinned by tests/test_contract.py and
documented in docs/clean_articles.md.

The SELECT is plain SQL that SQLite and PostgreSQL both accept, and each column
is a bare reference to an articles column, so both backends report the
underlying column's type for the view's column.

A later migration that alters ``articles`` must drop this view first and create
it again afterwards: SQLite's batch mode rebuilds the table (drop, then rename a
copy, which fails while a view names the table), and PostgreSQL refuses to drop
or retype a column that a view uses.
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CREATE_CLEAN_ARTICLES = """
CREATE VIEW clean_articles AS
SELECT
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
    story_similarity
FROM articles
"""


def upgrade() -> None:
    op.execute(CREATE_CLEAN_ARTICLES)


def downgrade() -> None:
    op.execute("DROP VIEW clean_articles")
