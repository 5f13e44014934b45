-- Hard negatives: ordinary queries, and queries that merely mention what the
-- rules look for (in strings, comments, identifiers). Default settings must
-- report nothing for any of them. Written for Portcullis.
-- @case
SELECT id, name FROM customers WHERE id = 42
-- @case
SELECT 'DROP TABLE users' AS example_text
-- @case
SELECT 'OR 1=1' AS s
-- @case
SELECT * FROM posts WHERE body LIKE '%DROP TABLE%'
-- @case
SELECT id FROM t -- DROP TABLE t would be bad
-- @case
SELECT id /* we never DELETE here */ FROM t
-- @case
UPDATE users SET update_at = now() WHERE id = 7
-- @case
UPDATE products SET price = price * 1.1 WHERE category = 'books'
-- @case
DELETE FROM sessions WHERE expires_at < now()
-- @case
DELETE FROM cart_items WHERE cart_id = $1 AND product_id = $2
-- @case
SELECT drop_rate, delete_count, truncated FROM metrics
-- @case
SELECT "drop", "delete", "update" FROM "reserved words"
-- @case
SELECT `select`, `union` FROM `table`
-- @case
SELECT [drop] FROM [dbo].[events]
-- @case
SELECT * FROM orders WHERE 1=1 AND status = 'open'
-- @case
SELECT * FROM users WHERE name = 'O''Brien'
-- @case
SELECT * FROM users WHERE name = E'O\'Brien'
-- @case
SELECT $$ anything ; DROP TABLE x $$ AS doc
-- @case
SELECT $tag$ DELETE FROM t; $tag$ AS s
-- @case
SELECT a FROM t1 UNION SELECT a FROM t2
-- @case
SELECT id, 'user' AS kind FROM users UNION ALL SELECT id, 'group' AS kind FROM groups
-- @case
SELECT * FROM t WHERE a = 1 OR b = 2
-- @case
SELECT * FROM t WHERE (a = 1 OR a = 2) AND c = 'x'
-- @case
SELECT count(*) FROM events WHERE created_at >= now() - interval '1 day'
-- @case
WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '7 days') SELECT count(*) FROM recent
-- @case
WITH RECURSIVE tree(id, parent) AS (SELECT id, parent FROM nodes WHERE parent IS NULL UNION ALL SELECT n.id, n.parent FROM nodes n JOIN tree ON n.parent = tree.id) SELECT * FROM tree
-- @case
INSERT INTO audit (who, what) VALUES ('bob', 'login')
-- @case
INSERT INTO notes (body) VALUES ('please ignore; DROP TABLE is not run')
-- @case
SELECT name FROM users ORDER BY created_at DESC LIMIT 10
-- @case
SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 100
-- @case
EXPLAIN SELECT * FROM big_table WHERE id = 1
-- @case
EXPLAIN DELETE FROM t WHERE id = 3
-- @case
SELECT EXTRACT(YEAR FROM created_at) AS y FROM orders
-- @case
SELECT sleep_hours FROM health
-- @case
SELECT benchmark_name, score FROM results
-- @case
SELECT * FROM files WHERE path = '/etc/passwd'
-- @case
SELECT 'pg_sleep(10)' AS not_a_call
-- @case
SELECT replace(title, 'a', 'b') FROM posts
-- @case
SELECT a AS "OR 1=1" FROM t
-- @case
SELECT * FROM t WHERE id IN (1, 2, 3)
-- @case
SELECT * FROM t WHERE price BETWEEN 10 AND 20
-- @case
SELECT * FROM t WHERE name IS NOT NULL
-- @case
SELECT coalesce(a, b) || ' ' || c AS label FROM t
-- @case
UPDATE users SET last_login = now() WHERE id = 7 RETURNING id
-- @case
UPDATE t SET a = 1 WHERE id = 1 AND 1=1
-- @case
DELETE FROM t WHERE 1=0 OR id = 3
-- @case
SELECT * FROM t WHERE a = 1 OR 1=1 AND b = 2
-- @case
COPY users TO STDOUT WITH CSV HEADER
-- @case
COPY measurements FROM STDIN
-- @case
SELECT 1;
-- @case
SELECT * FROM t; -- trailing comment ; DROP
-- @case
SELECT a /* comment */ FROM t
-- @case
SELECT count(*) FILTER (WHERE status = 'done') FROM tasks
-- @case
SELECT * FROM information_schema.columns WHERE table_name = 'orders'
-- @case
SELECT title FROM books WHERE title ILIKE '%union select%'
-- @case
SELECT id FROM t WHERE note = 'it''s fine; really'
-- @case
SELECT json_extract(doc, '$.a') FROM docs
-- @case
SELECT data->>'name' FROM profiles WHERE data ? 'name'
-- @case
SELECT * FROM t WHERE created_at::date = current_date
-- @case
SELECT 'x' = 'x' AS same
-- @case
INSERT INTO t (a) SELECT a FROM staging WHERE ok
-- @case
MERGE INTO stock s USING deliveries d ON s.item = d.item WHEN MATCHED THEN UPDATE SET qty = s.qty + d.qty
-- @case
SELECT "Order Id", "Customer" FROM "Sales"."Orders"
-- @case
SELECT 100 / 3 * 2 AS ratio
-- @case
SELECT * FROM t WHERE name = 'a#b' AND tag = 'c'
-- @case
SELECT * FROM t WHERE path LIKE 'C:\\temp\\%'
-- @case
SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2
-- @case
SELECT * FROM accounts WHERE deleted_at IS NULL AND owner_id = ?
-- @case
INSERT INTO counters (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = counters.n + 1
-- @case
INSERT INTO stats (k, v) VALUES ('a', 1) ON DUPLICATE KEY UPDATE v = v + 1
-- @case
UPDATE orders o SET status = 'shipped' FROM shipments s WHERE s.order_id = o.id AND s.sent
-- @case
DELETE FROM cart c USING sessions s WHERE c.session_id = s.id AND s.expired
-- @case
SELECT id, rank() OVER (PARTITION BY team ORDER BY score DESC) FROM players
-- @case
SELECT date_trunc('week', created_at) AS wk, count(*) FROM signups GROUP BY 1 ORDER BY 1
-- @case
SELECT a.name FROM authors a WHERE EXISTS (SELECT 1 FROM books b WHERE b.author_id = a.id)
-- @case
SELECT name FROM staff UNION SELECT name FROM contractors ORDER BY name
-- @case
SELECT 'It''s -- not a comment' AS s, 'nor /* this */' AS t
-- @case
SELECT * FROM logs WHERE message LIKE '%sleep(%'
-- @case
SELECT id FROM t WHERE a = 1 OR b IS NULL
-- @case
SELECT CASE WHEN qty > 10 THEN 'bulk' ELSE 'single' END FROM order_lines
-- @case
SELECT COALESCE(nickname, first_name) FROM people WHERE id = :id
-- @case
SELECT * FROM events WHERE tags @> ARRAY['drop']
-- @case
SELECT 5 - -1 AS six
-- @case
SELECT x FROM t WHERE y = 'a\b'
-- @case
EXPLAIN (FORMAT JSON) SELECT * FROM orders
-- @case
SELECT * FROM t WHERE flag = true OR flag IS NULL
-- @case
UPDATE settings SET value = 'dark' WHERE key = 'theme' AND user_id = 42
