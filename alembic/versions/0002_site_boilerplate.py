"""site-level boilerplate learning and article audit columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_blocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site', sa.String(length=255), nullable=False),
    sa.Column('block_hash', sa.String(length=16), nullable=False),
    sa.Column('sample', sa.Text(), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('is_boilerplate', sa.Boolean(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('boilerplate_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_blocks')),
    sa.UniqueConstraint('site', 'block_hash', name=op.f('uq_site_blocks_site'))
    )
    op.create_table('site_profiles',
    sa.Column('site', sa.String(length=255), nullable=False),
    sa.Column('pages_seen', sa.Integer(), nullable=False),
    sa.Column('boilerplate_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('site', name=op.f('pk_site_profiles'))
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('section', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('block_hashes', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('removed_blocks', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(sa.Column('boilerplate_version', sa.Integer(), server_default=sa.text('0'), nullable=False))

def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('boilerplate_version')
        batch_op.drop_column('removed_blocks')
        batch_op.drop_column('block_hashes')
        batch_op.drop_column('tags')
        batch_op.drop_column('section')
        batch_op.drop_column('image')

    op.drop_table('site_profiles')
    op.drop_table('site_blocks')
