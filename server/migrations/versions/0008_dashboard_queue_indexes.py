"""dashboard: the duplicates queue's indexes in the queue's order

The dashboard lists the review queue most likely first (``score DESC, id DESC``:
each index below read backwards) for every scope it lists — national, a
province, a commune — with and without a kind, and counts it per kind, so a
page, even a deep one, walks an index instead of sorting the queue; at a
million persons a national page sorted some 60,000 open pairs, and the counts
per kind read every row (bench/web.py). Both shapes per scope are needed: with
only one, SQLite's planner (no statistics) prefers the national index, which
keeps the order, to the commune's. ``ix_duplicate_candidate_commune_queue``
replaces ``ix_duplicate_candidate_commune_status``, a prefix of it.

Revision ID: 0008_web_queue
Revises: 0007
"""
from alembic import op

revision = '0008_web_queue'
down_revision = '0007'
branch_labels = None
depends_on = None

QUEUE = {
    'ix_duplicate_candidate_queue': ['status', 'score', 'id'],
    'ix_duplicate_candidate_queue_kind': ['status', 'kind', 'score', 'id'],
    'ix_duplicate_candidate_province_queue': ['province_code', 'status', 'score', 'id'],
    'ix_duplicate_candidate_province_queue_kind': ['province_code', 'status', 'kind', 'score',
                                                   'id'],
    'ix_duplicate_candidate_commune_queue': ['commune_code', 'status', 'score', 'id'],
    'ix_duplicate_candidate_commune_queue_kind': ['commune_code', 'status', 'kind', 'score',
                                                  'id'],
}


def upgrade():
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        batch_op.drop_index('ix_duplicate_candidate_commune_status')
        for name, columns in QUEUE.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        for name in QUEUE:
            batch_op.drop_index(name)
        batch_op.create_index('ix_duplicate_candidate_commune_status',
                              ['commune_code', 'status', 'score'], unique=False)
