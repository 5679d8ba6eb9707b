"""story signatures and canonical representatives

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('article_signatures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('story_terms', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('story_weights', sa.LargeBinary(), nullable=True))

    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_canonical', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('story_similarity', sa.Double(), nullable=True))
    # Existing groups: their founder was their representative.
    op.execute("UPDATE articles SET is_canonical = (dup_group_id IS NULL OR dup_group_id = id)")

def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('story_similarity')
        batch_op.drop_column('is_canonical')

    with op.batch_alter_table('article_signatures', schema=None) as batch_op:
        batch_op.drop_column('story_weights')
        batch_op.drop_column('story_terms')
