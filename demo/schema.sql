-- The demo database: the Caloria app's users table with the three users the
-- seed migrated. Rebuild demo/instance/caloria.db with:
--   rm -f demo/instance/caloria.db && sqlite3 demo/instance/caloria.db < demo/schema.sql
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
INSERT INTO users (email, created_at) VALUES
  ('ana@example.com', '2025-06-30T09:12:00'),
  ('ben@example.com', '2025-07-02T18:40:00'),
  ('chloe@example.com', '2025-07-20T07:05:00');
