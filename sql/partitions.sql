-- Partitioned fact tables (partition_by): a derived fact table partitioned
-- by range of its event time, each period's partition created in the
-- transaction of the rows that need it, a DEFAULT partition for rows without
-- an event time; rebuilds keep the table and its partitions.  A fact table
-- partitioned by hand (target_ddl) loads and rebuilds too.

\! bash regress/mysql-exec.sh -e "CREATE TABLE pt_event (id INT PRIMARY KEY, amount DECIMAL(8,2), happened DATETIME); INSERT INTO pt_event VALUES (1, 1.00, '2024-01-05 10:00:00'), (2, 2.00, '2024-01-31 23:59:59'), (3, 3.00, '2024-02-01 00:00:00'), (4, 4.00, '2024-03-15 12:00:00'), (5, 5.00, NULL)"
SELECT pypeline.define_fact('pt_sales', 'regress_mysql', 'SELECT id, amount, happened FROM pt_event', 'pt_sales_fact',
	measures => '{amount}', degenerate_columns => '{id}', event_time_column => 'happened',
	incremental_column => 'id', partition_by => 'month');
CREATE FUNCTION pt_partitions(t regclass) RETURNS TABLE (partition name, bound text, rows bigint) LANGUAGE sql AS $$
	SELECT c.relname, pg_get_expr(c.relpartbound, c.oid),
	       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s', c.oid::regclass), false, true, '')))[1]::text::bigint
	FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = t ORDER BY c.relname
$$;

SELECT etl_type, etl_name, rows FROM pypeline.process_etl('pt_sales', 'fact');
SELECT relkind FROM pg_class WHERE oid = 'pt_sales_fact'::regclass;
SELECT * FROM pt_partitions('pt_sales_fact');

-- the first row of a new month: its partition comes with it
\! bash regress/mysql-exec.sh -e "INSERT INTO pt_event VALUES (6, 6.00, '2024-04-01 00:00:00')"
SELECT rows FROM pypeline.process_etl('pt_sales', 'fact');
SELECT * FROM pt_partitions('pt_sales_fact');
-- ... in the same transaction: a rolled-back load leaves no partition behind
\! bash regress/mysql-exec.sh -e "INSERT INTO pt_event VALUES (7, 7.00, '2024-05-20 08:00:00')"
BEGIN;
SELECT rows FROM pypeline.process_etl('pt_sales', 'fact');
SELECT to_regclass('pt_sales_fact_p2024_05') IS NOT NULL AS partition_during_the_load;
ROLLBACK;
SELECT to_regclass('pt_sales_fact_p2024_05') IS NULL AS no_partition_after_rollback;

-- a rebuild keeps the table (its OID, grants) and its partitions, adds the new periods'
CREATE ROLE regress_pt_reader;
GRANT SELECT ON pt_sales_fact TO regress_pt_reader;
SELECT 'pt_sales_fact'::regclass::oid AS fact_oid \gset
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('pt_sales', 'fact', delete_existing_table => true);
SELECT 'pt_sales_fact'::regclass::oid = :fact_oid AS same_table,
       has_table_privilege('regress_pt_reader', 'pt_sales_fact', 'SELECT') AS grant_kept;
SELECT * FROM pt_partitions('pt_sales_fact');
SELECT id, amount, happened FROM pt_sales_fact ORDER BY id;
SELECT * FROM pypeline.check_fact('pt_sales');
SELECT count(*) AS leftover_shadows FROM pg_class WHERE relname LIKE 'pypeline_rebuild_%';

-- partitioned by hand: rows route to the table's own partitions, in a load and in a rebuild
SELECT pypeline.define_fact('pt_hand', 'regress_mysql', 'SELECT id, amount, happened FROM pt_event', 'pt_hand_fact',
	measures => '{amount}', degenerate_columns => '{id}',
	target_ddl => 'CREATE TABLE pt_hand_fact (id int, amount numeric(8,2), happened timestamp) PARTITION BY RANGE (id)');
CREATE TABLE pt_hand_fact (id int, amount numeric(8,2), happened timestamp) PARTITION BY RANGE (id);
CREATE TABLE pt_hand_low PARTITION OF pt_hand_fact FOR VALUES FROM (MINVALUE) TO (4);
CREATE TABLE pt_hand_rest PARTITION OF pt_hand_fact DEFAULT;
SELECT rows FROM pypeline.process_etl('pt_hand', 'fact');
SELECT rows FROM pypeline.process_etl('pt_hand', 'fact', delete_existing_table => true);
SELECT * FROM pt_partitions('pt_hand_fact');

-- a timestamptz event time written in another session time zone and DateStyle, a long table name
\! bash regress/mysql-exec.sh -e "CREATE TABLE pt_stamp (id INT PRIMARY KEY, at TIMESTAMP NULL DEFAULT NULL); INSERT INTO pt_stamp VALUES (1, '2024-01-31 23:30:00'), (2, '2024-02-01 00:30:00'), (3, NULL)"
SET TimeZone = 'Asia/Shanghai';
SET DateStyle = 'SQL, DMY';
SELECT pypeline.define_fact('pt_stamp', 'regress_mysql', 'SELECT id, at FROM pt_stamp', 'pt_stamp_fact_with_a_name_long_enough_to_be_cut_in_partitions',
	degenerate_columns => '{id}', event_time_column => 'at', incremental_column => 'id', partition_by => 'month');
SELECT rows FROM pypeline.process_etl('pt_stamp', 'fact');
RESET TimeZone;
RESET DateStyle;
-- UTC months: 23:30 on January 31 UTC is in January, whatever the session's zone
SELECT partition, bound, rows FROM pt_partitions('pt_stamp_fact_with_a_name_long_enough_to_be_cut_in_partitions');
-- a relation with a period's name that is not its partition stops the load
SELECT partition AS january FROM pt_partitions('pt_stamp_fact_with_a_name_long_enough_to_be_cut_in_partitions')
WHERE partition LIKE '%p2024_01' \gset
ALTER TABLE pt_stamp_fact_with_a_name_long_enough_to_be_cut_in_partitions DETACH PARTITION :"january";
\! bash regress/mysql-exec.sh -e "INSERT INTO pt_stamp VALUES (4, '2024-01-15 12:00:00')"
SELECT rows FROM pypeline.process_etl('pt_stamp', 'fact');
-- the undated partition takes no dated row
SELECT partition AS undated FROM pt_partitions('pt_stamp_fact_with_a_name_long_enough_to_be_cut_in_partitions')
WHERE bound = 'DEFAULT' \gset
INSERT INTO :"undated" (id, at) VALUES (9, '2024-03-01');
DROP TABLE :"january";
SELECT rows FROM pypeline.process_etl('pt_stamp', 'fact', delete_existing_table => true);
SELECT partition, rows FROM pt_partitions('pt_stamp_fact_with_a_name_long_enough_to_be_cut_in_partitions');
SELECT pypeline.drop_etl('pt_stamp', 'fact');
DROP TABLE pt_stamp_fact_with_a_name_long_enough_to_be_cut_in_partitions;
\! bash regress/mysql-exec.sh -e "DROP TABLE pt_stamp"

-- a fact that becomes partitioned is created again on its rebuild (its partitioning changes)
SELECT pypeline.define_fact('pt_later', 'regress_mysql', 'SELECT id, amount, happened FROM pt_event', 'pt_later_fact',
	measures => '{amount}', degenerate_columns => '{id}', event_time_column => 'happened');
SELECT rows FROM pypeline.process_etl('pt_later', 'fact');
SELECT pypeline.define_fact('pt_later', 'regress_mysql', 'SELECT id, amount, happened FROM pt_event', 'pt_later_fact',
	measures => '{amount}', degenerate_columns => '{id}', event_time_column => 'happened', partition_by => 'year');
SELECT rows FROM pypeline.process_etl('pt_later', 'fact', delete_existing_table => true);
SELECT partition, rows FROM pt_partitions('pt_later_fact');
SELECT pypeline.drop_etl('pt_later', 'fact');
DROP TABLE pt_later_fact;

-- what partition_by needs
SELECT pypeline.define_fact('pt_bad', 'regress_mysql', 'SELECT id, amount, happened FROM pt_event', 'pt_bad_fact',
	measures => '{amount}', partition_by => 'month');
SELECT pypeline.define_fact('pt_bad', 'regress_mysql', 'SELECT id, amount, happened FROM pt_event', 'pt_bad_fact',
	measures => '{amount}', event_time_column => 'happened', key_columns => '{id}', partition_by => 'month');
SELECT pypeline.define_fact('pt_bad', 'regress_mysql', 'SELECT id, amount, happened FROM pt_event', 'pt_bad_fact',
	measures => '{amount}', event_time_column => 'happened', partition_by => 'week');

DROP FUNCTION pt_partitions(regclass);
SELECT pypeline.drop_etl(n, 'fact') FROM unnest(ARRAY['pt_sales', 'pt_hand']) n;
DROP TABLE pt_sales_fact, pt_hand_fact;
DROP ROLE regress_pt_reader;
\! bash regress/mysql-exec.sh -e "DROP TABLE pt_event"
