-- The two database roles of hggis, run by a superuser connected to the hggis database.
--
--   owner role: owns the schema; `hggis db migrate` connects as it.
--   app role:   what the service and the CLI's data commands connect as; it gets DML only
--               (granted by `hggis db migrate`), never ownership, so it cannot ALTER or DROP
--               a table, disable a trigger or rewrite history.
--
-- Written with psql variables (:'owner_role' …) so the same file serves three callers:
-- the embedded cluster (hggis/db/roles.py substitutes them), the docker-compose init script
-- (deploy/postgres-init/20-hggis-roles.sh runs it with psql -v) and an administrator of an
-- external PostGIS (psql -v owner_role=… -f roles.sql). Idempotent; an empty password leaves
-- the role's password as it is.
SELECT set_config('hggis.owner_role', :'owner_role', false),
       set_config('hggis.owner_password', :'owner_password', false),
       set_config('hggis.app_role', :'app_role', false),
       set_config('hggis.app_password', :'app_password', false);

DO $roles$
DECLARE
  owner_role text := current_setting('hggis.owner_role');
  app_role text := current_setting('hggis.app_role');
  passwords jsonb := jsonb_build_object(owner_role, current_setting('hggis.owner_password'),
                                        app_role, current_setting('hggis.app_password'));
  role_name text;
  obj record;
BEGIN
  IF owner_role = app_role THEN
    RAISE EXCEPTION 'the owner role and the app role must differ (both %)', owner_role;
  END IF;
  FOREACH role_name IN ARRAY ARRAY[owner_role, app_role] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', role_name);
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', role_name);
    IF passwords ->> role_name <> '' THEN
      EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, passwords ->> role_name);
    END IF;
  END LOOP;

  -- the owner owns the database and its public schema; nobody else may create objects there
  EXECUTE format('ALTER DATABASE %I OWNER TO %I', current_database(), owner_role);
  EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner_role);
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app_role);
  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), app_role);

  -- a schema migrated before the roles existed (by a superuser) passes to the owner;
  -- PostGIS' own objects (extension members) and sequences owned by a column stay as they are
  FOR obj IN
    SELECT c.oid::regclass::text AS name,
           CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          ELSE 'TABLE' END AS kind
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = owner_role)
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('e', 'a', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', obj.kind, obj.name, owner_role);
  END LOOP;
  FOR obj IN
    SELECT p.oid::regprocedure::text AS name
      FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace
       AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = owner_role)
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', obj.name, owner_role);
  END LOOP;

  -- tables and sequences the owner creates later (migrations) are usable by the app role at
  -- once; `hggis db migrate` then narrows history and alembic_version to SELECT
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
                 'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', owner_role, app_role);
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
                 'GRANT USAGE, SELECT ON SEQUENCES TO %I', owner_role, app_role);
END
$roles$;

SELECT set_config('hggis.owner_password', '', false), set_config('hggis.app_password', '', false);
