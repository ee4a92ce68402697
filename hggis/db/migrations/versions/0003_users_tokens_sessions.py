"""Users, API tokens and web sessions; audit users and tokens without their hashes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 03:01:29.334686
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Same function as 0001, but hash columns never reach the history.
HISTORY_RECORD = r"""
CREATE OR REPLACE FUNCTION hggis_history_record() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_j jsonb;
  new_j jsonb;
  obj text;
  b jsonb;
  a jsonb;
  who text := coalesce(nullif(current_setting('hggis.actor', true), ''), 'db:' || session_user);
  why text := nullif(current_setting('hggis.reason', true), '');
BEGIN
  IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD) - 'token_hash' - 'password_hash' - 'session_hash'; END IF;
  IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW) - 'token_hash' - 'password_hash' - 'session_hash'; END IF;
  SELECT string_agg(coalesce(new_j, old_j) ->> k, '/' ORDER BY o) INTO obj
    FROM unnest(TG_ARGV) WITH ORDINALITY AS t(k, o);
  IF TG_OP = 'UPDATE' THEN
    SELECT jsonb_object_agg(k, old_j -> k), jsonb_object_agg(k, new_j -> k) INTO b, a
      FROM jsonb_object_keys(new_j) AS k
     WHERE (old_j -> k) IS DISTINCT FROM (new_j -> k) AND k NOT IN ('version', 'updated_at', 'last_used_at');
    IF b IS NULL THEN
      RETURN NULL;  -- only bookkeeping changed
    END IF;
  ELSE
    b := old_j;
    a := new_j;
  END IF;
  INSERT INTO history (table_name, object_id, action, actor, reason, before, after)
  VALUES (TG_TABLE_NAME, obj, lower(TG_OP), who, why, b, a);
  RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.Text(), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=True),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('counties', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('park_ids', postgresql.ARRAY(sa.Integer()), server_default='{}', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("role IN ('park_manager', 'county_officer', 'city_admin')", name=op.f('ck_users_role')),
    sa.CheckConstraint("username ~ '^[a-z0-9][a-z0-9_.-]{1,39}$'", name=op.f('ck_users_username_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_tokens_prefix'))
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_table('user_passwords',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_passwords_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_passwords'))
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_hash', sa.Text(), nullable=False),
    sa.Column('csrf_token', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('session_hash', name=op.f('uq_web_sessions_session_hash'))
    )
    op.create_index(op.f('ix_web_sessions_user_id'), 'web_sessions', ['user_id'], unique=False)
    op.execute(HISTORY_RECORD)
    for table in ("users", "api_tokens"):
        op.execute(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hggis_history_record('id')"
        )


def downgrade() -> None:
    op.drop_index(op.f('ix_web_sessions_user_id'), table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('user_passwords')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_table('users')
