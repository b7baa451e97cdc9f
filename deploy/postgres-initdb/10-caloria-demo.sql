-- The demo stack's Caloria database: the app's users table with three demo users, so
-- that the exporter's users query (SELECT count(*) FROM users) and the backups have
-- something to count. The postgres image runs this once, when its volume is empty, as
-- POSTGRES_USER in POSTGRES_DB. A real deployment points the exporter and the backup
-- job at the app's own database instead (docs/dashboards.md).
CREATE TABLE users (
  id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO users (email, created_at) VALUES
  ('ana@example.com', '2025-06-30T09:12:00Z'),
  ('ben@example.com', '2025-07-02T18:40:00Z'),
  ('chloe@example.com', '2025-07-20T07:05:00Z');
