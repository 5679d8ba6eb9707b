"""web archives: where an article's page sits in a WARC file, and the WARC files ingested

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding nullable columns is a plain ALTER TABLE on both backends (no table rebuild),
    # so the clean_articles view that reads the table can stay.
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warc_file', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('warc_offset', sa.BigInteger(), nullable=True))
    op.create_table('warc_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warc_files'))
    )
    with op.batch_alter_table('warc_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warc_files_digest'), ['digest'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('warc_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warc_files_digest'))
    op.drop_table('warc_files')
    # Dropping columns rebuilds the table on SQLite: the view that reads it goes first
    # and comes back unchanged (its columns do not include these two).
    op.execute("DROP VIEW IF EXISTS clean_articles")
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('warc_offset')
        batch_op.drop_column('warc_file')
    op.execute(_clean_articles_view_sql())


def _clean_articles_view_sql() -> str:
    """The view as migration 0005 created it (one definition, read from that migration)."""
    import importlib.util
    from pathlib import Path

    path = next(Path(__file__).parent.glob("0005_*.py"))
    spec = importlib.util.spec_from_file_location("newscrawl_migration_0005", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CREATE_CLEAN_ARTICLES
