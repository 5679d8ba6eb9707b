"""dead ends: URLs that answered 404/410 or kept failing, not requested again for a while

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_ends',
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('site', sa.String(length=255), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dead_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('url', name=op.f('pk_dead_ends'))
    )
    with op.batch_alter_table('dead_ends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_ends_site'), ['site'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dead_ends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_ends_site'))
    op.drop_table('dead_ends')
