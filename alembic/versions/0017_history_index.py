"""dedupe index bounded by the window: band keys in the database, narrow signature rows, start-up indexes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

- ``article_bands``: the near-duplicate LSH band keys of every article, so that
  whole copies are found across all history while the in-memory index holds only
  the dedupe window (crawler/store/history.py).
- ``article_signatures`` gains copies of the article fields the index loads with
  (window time, fetch time, content hash, group and story ids), so that loading
  it reads only that narrow table, by ``window_time``.
- Indexes on ``articles`` for the queries a run, ``status`` and ``report`` make,
  so that none of them reads the article rows: known URLs (``url``), pending
  re-cleaning per site and per-site health (one index), a group's
  representative, story sizes and times.

Existing rows are filled from the stored signatures (the band keys) and articles
(the copied fields). A one-time cost: on SQLite, the fill and each index read the
whole articles table once (columns after ``raw_html`` are reached by stepping
over it); a run killed during the upgrade finishes it on the next start. No
column of ``articles`` changes, so the clean_articles view stays as it is.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

ARTICLE_INDEXES = [
    ("ix_articles_url", ["url"], {"postgresql_using": "hash"}),
    ("ix_articles_site_boilerplate_version_fetched_at_published_at",
     ["site", "boilerplate_version", "fetched_at", "published_at"], {}),
    ("ix_articles_dup_group_id_is_canonical", ["dup_group_id", "is_canonical"], {}),
    ("ix_articles_story_id_published_at_fetched_at", ["story_id", "published_at", "fetched_at"], {}),
]
SIGNATURE_COLUMNS = [
    ('window_time', sa.DateTime(timezone=True)),
    ('fetched_at', sa.DateTime(timezone=True)),
    ('content_hash', sa.String(length=64)),
    ('dup_group_id', sa.Integer()),
    ('story_id', sa.Integer()),
]
BATCH = 5000


def upgrade() -> None:
    # Every step checks what is there already: on SQLite, DDL outside a transaction commits
    # at once, so a run killed during this upgrade leaves some of it done, and the next run
    # must finish it rather than fail on "already exists". (PostgreSQL rolls it all back.)
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table('article_bands'):
        op.create_table(
            'article_bands',
            sa.Column('band_key', sa.Integer(), nullable=False),
            sa.Column('article_id', sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint('band_key', 'article_id', name=op.f('pk_article_bands')),
            sqlite_with_rowid=False,
        )
    present = {column['name'] for column in inspector.get_columns('article_signatures')}
    missing = [(name, type_) for name, type_ in SIGNATURE_COLUMNS if name not in present]
    if missing:
        with op.batch_alter_table('article_signatures', schema=None) as batch_op:
            for name, type_ in missing:
                batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.execute(
        "UPDATE article_signatures SET window_time = COALESCE(a.published_at, a.fetched_at), "
        "fetched_at = a.fetched_at, content_hash = a.content_hash, dup_group_id = a.dup_group_id, "
        "story_id = a.story_id FROM articles AS a WHERE a.id = article_signatures.article_id"
    )
    indexes = {index['name'] for index in inspector.get_indexes('article_signatures')}
    if 'ix_article_signatures_window_time' not in indexes:
        op.create_index(op.f('ix_article_signatures_window_time'), 'article_signatures', ['window_time'], unique=False)
    indexes = {index['name'] for index in inspector.get_indexes('articles')}
    for name, columns, options in ARTICLE_INDEXES:
        if name not in indexes:
            op.create_index(name, 'articles', columns, unique=False, **options)
    _fill_band_keys()


def _fill_band_keys() -> None:
    """Band keys of the stored signatures made with the current settings (others are
    signed again, with their keys, when the crawl meets them)."""
    from crawler.store.history import stored_band_keys
    from dedupe import DedupeSettings, minhash_from_bytes

    settings = DedupeSettings()
    bind = op.get_bind()
    bands = sa.table('article_bands', sa.column('band_key', sa.Integer), sa.column('article_id', sa.Integer))
    last = 0
    while True:
        rows = bind.execute(sa.text(
            "SELECT article_id, minhash FROM article_signatures WHERE article_id > :last AND scheme = :scheme "
            "AND num_perm = :num_perm AND seed = :seed ORDER BY article_id LIMIT :limit"),
            {"last": last, "scheme": settings.scheme, "num_perm": settings.num_perm, "seed": settings.seed,
             "limit": BATCH}).all()
        if not rows:
            break
        values = [{"band_key": key, "article_id": article_id}
                  for article_id, minhash in rows if minhash
                  for key in stored_band_keys(minhash_from_bytes(bytes(minhash)), settings).tolist()]
        if values:  # (rows left by an earlier, interrupted upgrade are kept)
            bind.execute(bands.insert().prefix_with("OR IGNORE", dialect="sqlite"), values)
        last = rows[-1][0]


def downgrade() -> None:
    for name, _, _ in reversed(ARTICLE_INDEXES):
        op.drop_index(name, table_name='articles')
    op.drop_index(op.f('ix_article_signatures_window_time'), table_name='article_signatures')
    with op.batch_alter_table('article_signatures', schema=None) as batch_op:
        batch_op.drop_column('story_id')
        batch_op.drop_column('dup_group_id')
        batch_op.drop_column('content_hash')
        batch_op.drop_column('fetched_at')
        batch_op.drop_column('window_time')
    op.drop_table('article_bands')
