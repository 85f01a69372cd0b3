-- Flashnotes: one batch of source changes, to demonstrate an incremental
-- refresh of the warehouse.  Apply once, after generate.sql (any @users >= 100,
-- any @payments); the result is deterministic for given parameters.
--
-- The batch happens "on 2016-01-15", after everything generate.sql produced:
--   * type-1 change: 5 users change their e-mail address;
--   * type-2 change: 10 users move to another state;
--   * 2 schools are renamed (both real renames) and 3 new schools appear;
--   * 100 new payments, on 2015-12-31, after every generated payment.
--
-- Deliberately, the e-mail edits leave users.updated_at alone: a loader must
-- find changes by comparing values, not by trusting a timestamp.  The state
-- edits do set updated_at, because it is the change date a type-2 dimension
-- uses as the new version's valid_from.

SET NAMES utf8mb4;

-- Type 1: users 5, 17, 29, 41, 53 (none of them is in the type-2 set below).
-- The local part still contains the user id, so addresses stay unique.
UPDATE users
   SET email = CONCAT(SUBSTRING_INDEX(email, '@', 1), '@alumni.example.edu')
 WHERE id IN (5, 17, 29, 41, 53);

-- Type 2: users 10, 20, ..., 100 move.  The fallback to 'VT' guarantees a
-- real change even if a generated user already lived in the target state.
UPDATE users u
  JOIN (SELECT 10 AS id, 'CA' AS state UNION ALL SELECT  20, 'NY'
        UNION ALL SELECT 30, 'TX'      UNION ALL SELECT  40, 'FL'
        UNION ALL SELECT 50, 'WA'      UNION ALL SELECT  60, 'IL'
        UNION ALL SELECT 70, 'MA'      UNION ALL SELECT  80, 'CO'
        UNION ALL SELECT 90, 'GA'      UNION ALL SELECT 100, 'OR') m ON m.id = u.id
   SET u.state      = IF(u.state = m.state, 'VT', m.state),
       u.updated_at = TIMESTAMP'2016-01-15 10:00:00';

-- Renames (Georgia Regents -> Augusta University, Richard Stockton College
-- -> Stockton University, both in 2015).  updated_at moves too, so a type-2
-- school dimension gets a sensible valid_from for the new name.
UPDATE schools SET name = 'Augusta University',  updated_at = TIMESTAMP'2016-01-15 10:00:00'
 WHERE id = 21;
UPDATE schools SET name = 'Stockton University', updated_at = TIMESTAMP'2016-01-15 10:00:00'
 WHERE id = 22;

-- New schools, continuing after generate.sql's fixed 1,687.  They have no
-- courses or sales yet: dimension members without facts.
INSERT INTO schools (id, name, city, state, updated_at) VALUES
    (1688, 'Minerva Schools at KGI',        'San Francisco',   'CA', TIMESTAMP'2016-01-15 10:00:00'),
    (1689, 'Bard College at Simon''s Rock', 'Great Barrington', 'MA', TIMESTAMP'2016-01-15 10:00:00'),
    (1690, 'Universidad del Este',          'Carolina',        'PR', TIMESTAMP'2016-01-15 10:00:00');

-- 100 payments with ids after the current maximum, every ~14 minutes on
-- 2015-12-31 (generate.sql stops at 2015-12-30 23:59:59), so they are past the
-- watermark whether a fact ETL tracks `id` or `created_at`.  The first ten
-- buyers are the users moved above: their sales predate the move, so an
-- as-of lookup must attach them to the users' *old* versions.
INSERT INTO payments (id, user_id, product_id, school_id, payment_source_id,
                      affiliate_id, site_id, quantity, amount, created_at)
SELECT x.id, x.user_id, pr.id, c.school_id,
       CASE WHEN MOD(CRC32(CONCAT('chg.src:', x.n)), 100) < 70 THEN 1
            WHEN MOD(CRC32(CONCAT('chg.src:', x.n)), 100) < 95 THEN 2
            ELSE 3 END,
       -- one of the hundred without affiliate, like the generated 1 %
       IF(x.n = 50, NULL, 1 + MOD(CRC32(CONCAT('chg.aff:', x.n)), 4)),
       1,
       x.quantity,
       pr.price * x.quantity,
       x.created_at
  FROM (SELECT s.seq AS n,
               m.max_payment + s.seq AS id,
               IF(s.seq <= 10, 10 * s.seq,
                  1 + MOD(CRC32(CONCAT('chg.user:', s.seq)), m.max_user)) AS user_id,
               1 + MOD(CRC32(CONCAT('chg.product:', s.seq)), m.max_product) AS product_id,
               IF(MOD(CRC32(CONCAT('chg.qty:', s.seq)), 10) = 0, 2, 1) AS quantity,
               TIMESTAMP'2015-12-31 00:00:00'
                 + INTERVAL (s.seq - 1) * 14 MINUTE
                 + INTERVAL MOD(CRC32(CONCAT('chg.sec:', s.seq)), 60) SECOND AS created_at
          FROM seq_1_to_100 s
         CROSS JOIN (SELECT (SELECT COALESCE(MAX(id), 0) FROM payments) AS max_payment,
                            (SELECT MAX(id) FROM users)                 AS max_user,
                            (SELECT MAX(id) FROM products)              AS max_product) m) x
  JOIN products pr ON pr.id = x.product_id
  JOIN courses  c  ON c.id  = pr.course_id;
