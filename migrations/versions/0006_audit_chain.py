"""audit_event: a hash chain (seq, hash) over every row, no foreign key on user_id (the trail keeps a
deleted login's id; SET NULL would rewrite its rows), and on PostgreSQL triggers that link each new
row at commit and refuse UPDATE, DELETE and TRUNCATE (app/services/audit_chain.py).

Revision ID: 0006_audit_chain
Revises: 0005_signup
Create Date: 2026-12-01 16:00:00

"""
from datetime import timezone

from alembic import op
import sqlalchemy as sa

from app.services import audit_chain

revision = '0006_audit_chain'
down_revision = '0005_signup'  # after the lockout and sign-up migrations, already on main
branch_labels = None
depends_on = None

# SQLite's foreign key has no name: batch mode names it by this convention (PostgreSQL's default name).
NAMING = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def upgrade():
    with op.batch_alter_table('audit_event', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint('audit_event_user_id_fkey', type_='foreignkey')
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_audit_event_seq', ['seq'])
    # Rows written before the chain existed are linked in the order they were written.
    connection = op.get_bind()
    table = sa.table('audit_event', sa.column('id', sa.Integer()), sa.column('seq', sa.BigInteger()),
                     sa.column('hash', sa.String()), sa.column('at', sa.DateTime(timezone=True)),
                     *(sa.column(c, sa.Unicode()) for c in ('action', 'entity', 'entity_id', 'ip', 'details')),
                     sa.column('user_id', sa.Integer()))
    previous, seq = audit_chain.GENESIS, 0
    for row in connection.execute(sa.select(table).order_by(table.c.id)).mappings().all():
        row = dict(row)
        if row['at'].tzinfo is None:  # SQLite keeps naive UTC
            row['at'] = row['at'].replace(tzinfo=timezone.utc)
        seq += 1
        previous = audit_chain.row_hash(previous, seq, row)
        connection.execute(table.update().where(table.c.id == row['id']).values(seq=seq, hash=previous))
    if connection.dialect.name == 'postgresql':
        for statement in audit_chain.POSTGRES_DDL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in audit_chain.POSTGRES_DROP:
            op.execute(statement)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_event_seq', type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('seq')
        batch_op.create_foreign_key('audit_event_user_id_fkey', 'ab_user', ['user_id'], ['id'], ondelete='SET NULL')
