"""member duplicate blocking keys

Detection looks a record's candidates up by two keys stored in the member row
(server.sync.duplicates.scoring), instead of loading the commune's members of
the record's birth years; the two indexes that served the old way go.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def block_columns(full_name, sex, year):
    """The two keys as this revision defined them (0016 computes today's keys)."""
    from a0core.names import fold

    tokens = fold(full_name).split()
    initials = "".join(sorted(token[0] for token in tokens))
    pair = " ".join(sorted({tokens[0], tokens[-1]})) if tokens else ""
    return {column: f"{sex or ''}|{year}|{part}"[:120]
            for column, part in (("block_initials", initials), ("block_pair", pair))}


def upgrade():
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('block_initials', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('block_pair', sa.String(length=120), nullable=True))
        batch_op.drop_index('ix_member_commune_name')
        batch_op.drop_index('ix_member_commune_year')

    member = sa.table('member', sa.column('id', sa.String), sa.column('full_name', sa.String),
                      sa.column('sex', sa.String), sa.column('birth_year', sa.Integer),
                      sa.column('block_initials', sa.String), sa.column('block_pair', sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(member.c.id, member.c.full_name, member.c.sex,
                                  member.c.birth_year)).all()
    update = (sa.update(member).where(member.c.id == sa.bindparam('member_id'))
              .values(block_initials=sa.bindparam('initials'), block_pair=sa.bindparam('pair')))
    for start in range(0, len(rows), 10_000):
        params = []
        for member_id, full_name, sex, year in rows[start:start + 10_000]:
            keys = block_columns(full_name or '', sex, year or 0)
            params.append({'member_id': member_id, 'initials': keys['block_initials'],
                           'pair': keys['block_pair']})
        conn.execute(update, params)

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_index('ix_member_block_initials', ['block_initials', 'commune_code', 'id'],
                              unique=False)
        batch_op.create_index('ix_member_block_pair', ['block_pair', 'commune_code', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_index('ix_member_block_pair')
        batch_op.drop_index('ix_member_block_initials')
        batch_op.create_index('ix_member_commune_year', ['commune_code', 'birth_year'],
                              unique=False)
        batch_op.create_index('ix_member_commune_name', ['commune_code', 'name_key'],
                              unique=False)
        batch_op.drop_column('block_pair')
        batch_op.drop_column('block_initials')
