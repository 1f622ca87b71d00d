"""dashboard: indexes in the order the lists are read

* The duplicates queue is listed most likely first (``score DESC, id DESC``: each
  index below read backwards) for both scopes that review it — national and a
  commune — with and without a kind, and counted per kind, so a page,
  even a deep one, walks an index instead of sorting the queue; at a million
  persons a national page sorted some 60,000 open pairs and the counts per kind
  read every row (bench/web.py). Both shapes per scope are needed: with only one,
  SQLite's planner (no statistics) prefers the national index, which keeps the
  order, to the commune's. ``ix_duplicate_candidate_commune_queue`` replaces
  ``ix_duplicate_candidate_commune_status``, a prefix of it.
* The sync status list joins each collaborator to its devices: without an index
  on ``device.collaborator_id`` a commune's page scanned every device of the
  country once per collaborator. Collaborators are listed by commune, area and
  name (``ix_collaborator_list`` replaces ``ix_collaborator_commune``, a prefix of
  it), also within a province; devices are counted per province.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

NEW = {  # table → index → columns
    'duplicate_candidate': {
        'ix_duplicate_candidate_queue': ['status', 'score', 'id'],
        'ix_duplicate_candidate_queue_kind': ['status', 'kind', 'score', 'id'],
        'ix_duplicate_candidate_commune_queue': ['commune_code', 'status', 'score', 'id'],
        'ix_duplicate_candidate_commune_queue_kind': ['commune_code', 'status', 'kind', 'score',
                                                      'id'],
    },
    'collaborator': {
        'ix_collaborator_list': ['commune_code', 'area_code', 'full_name', 'id'],
        'ix_collaborator_province_list': ['province_code', 'commune_code', 'area_code',
                                          'full_name', 'id'],
    },
    'device': {
        'ix_device_province': ['province_code'],
        'ix_device_collaborator': ['collaborator_id'],
    },
}
REPLACED = {  # table → (index, columns) that a new index starts with
    'duplicate_candidate': ('ix_duplicate_candidate_commune_status',
                            ['commune_code', 'status', 'score']),
    'collaborator': ('ix_collaborator_commune', ['commune_code']),
}


def upgrade():
    for table, indexes in NEW.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in REPLACED:
                batch_op.drop_index(REPLACED[table][0])
            for name, columns in indexes.items():
                batch_op.create_index(name, columns, unique=False)


def downgrade():
    for table, indexes in NEW.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
            if table in REPLACED:
                name, columns = REPLACED[table]
                batch_op.create_index(name, columns, unique=False)
