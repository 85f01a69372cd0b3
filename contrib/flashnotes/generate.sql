-- Flashnotes: deterministic data generator (MariaDB 10.11).
--
-- Run after schema.sql, in the same database:
--
--     SET @users = 300000, @payments = 500000;   -- optional
--     SOURCE generate.sql;
--
-- Parameters (MariaDB user variables, read once at the top):
--   @users     number of users     (NULL -> 2000; values below 100 are raised
--              to 100 because changes.sql edits fixed user ids <= 100)
--   @payments  number of payments  (NULL -> 20000)
-- Everything else has a fixed size: 1,687 schools, 30,418 courses,
-- 850 products, 3 payment sources, 4 affiliates, 1 site, 1 disability
-- programme, and one disability enrolment per 40 users.
--
-- Determinism: there is no RAND() and no NOW().  Every "random" choice is
-- CRC32 of a per-purpose salt plus the row number, reduced with MOD, so the
-- same parameters always give identical tables (CHECKSUM TABLE agrees
-- across runs).  Users, products and payments depend on @users/@payments --
-- e.g. products are drawn from the seller pool -- so compare data sets only
-- at equal parameters.  The only floating
-- point is SQRT (for the growth curve below), which IEEE 754 requires to be
-- correctly rounded, so results do not depend on the platform's libm.
--
-- Timeline: users, products and payments are spread over
-- 2010-01-01 00:00:00 .. 2015-12-30 23:59:59 and are numbered in time order
-- (row i of n happens at fraction sqrt((i-1)/n) of that span, i.e. the
-- business grows linearly).  2015-12-31 is kept free so that the payments
-- added by changes.sql are later than every generated one, whichever of
-- `id` or `created_at` a loader uses as its high-water mark.  Because the
-- curve is the same for every table, "row k of one table exists at the time
-- of row p of another" reduces to exact integer arithmetic, which is how the
-- generator guarantees that nobody buys a product before it was uploaded or
-- before signing up.  Schools and courses predate the timeline (2009).
--
-- Cost is linear in the row counts and foreign key checks stay on: the
-- defaults load in about half a second, 300k users + 500k payments in about
-- 10 s (MariaDB 10.11, default 128 MB buffer pool).
--
-- Needs the SEQUENCE engine (built into MariaDB >= 10.0) and the
-- CREATE TEMPORARY TABLES privilege for the word lists.

SET NAMES utf8mb4;

SET @users    = GREATEST(CAST(COALESCE(@users, 2000) AS UNSIGNED), 100);
SET @payments = CAST(COALESCE(@payments, 20000) AS UNSIGNED);

-- Length of the generated timeline in seconds; it starts at 2010-01-01
-- (written as a literal below: a user variable would turn it into a string).
SET @span = TIMESTAMPDIFF(SECOND, TIMESTAMP'2010-01-01 00:00:00', TIMESTAMP'2015-12-31 00:00:00');

-- Fixed sizes: the row counts the original Pýpeline tool logged for the
-- Flashnotes warehouse, which the demo reproduces.
SET @n_schools  = 1687;
SET @n_courses  = 30418;
SET @n_products = 850;

-- Make the file re-runnable without re-creating the schema.  DELETE rather
-- than TRUNCATE because InnoDB refuses to TRUNCATE a referenced table.
DELETE FROM payments;
DELETE FROM disability_enrollments;
DELETE FROM products;
DELETE FROM users;
DELETE FROM courses;
DELETE FROM schools;
DELETE FROM payment_sources;
DELETE FROM affiliates;
DELETE FROM sites;
DELETE FROM disability_programs;

-- ---------------------------------------------------------------------------
-- Reference tables.
-- ---------------------------------------------------------------------------

INSERT INTO payment_sources (id, name) VALUES
    (1, 'Credit Card'),
    (2, 'PayPal'),
    (3, 'Flashnotes Credit');

INSERT INTO affiliates (id, name, commission_rate) VALUES
    (1, 'Campus Ambassadors',     0.1000),
    (2, 'Greek Life Network',     0.0750),
    (3, 'Bookstore Co-op',        0.0500),
    (4, 'Study Buddies Referral', 0.1250);

INSERT INTO sites (id, name, domain) VALUES
    (1, 'Flashnotes', 'flashnotes.com');

INSERT INTO disability_programs (id, name) VALUES
    (1, 'Disability Services Note-Taking Program');

-- ---------------------------------------------------------------------------
-- Word lists.  Session-temporary so nothing but the source tables is left in
-- the database for the loader to see.  (A MariaDB temporary table may be
-- used only once per statement, which the queries below respect.)
-- ---------------------------------------------------------------------------

DROP TEMPORARY TABLE IF EXISTS tmp_named_schools, tmp_cities, tmp_school_patterns,
    tmp_subjects, tmp_first_names, tmp_last_names, tmp_states;

-- Real institutions, including the non-ASCII and apostrophe cases a loader
-- has to round-trip.  Big US universities come first because the user
-- generator favours low school ids.  Ids 21 and 22 are renamed by
-- changes.sql (both were real renames).
CREATE TEMPORARY TABLE tmp_named_schools (
    id INT UNSIGNED PRIMARY KEY, name VARCHAR(200), city VARCHAR(100), state CHAR(2)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO tmp_named_schools VALUES
    ( 1, 'Boston University',                        'Boston',          'MA'),
    ( 2, 'Northeastern University',                  'Boston',          'MA'),
    ( 3, 'University of Massachusetts Amherst',      'Amherst',         'MA'),
    ( 4, 'Harvard University',                       'Cambridge',       'MA'),
    ( 5, 'Texas A&M University',                     'College Station', 'TX'),
    ( 6, 'The Ohio State University',                'Columbus',        'OH'),
    ( 7, 'University of Florida',                    'Gainesville',     'FL'),
    ( 8, 'Arizona State University',                 'Tempe',           'AZ'),
    ( 9, 'University of California, Berkeley',       'Berkeley',        'CA'),
    (10, 'University of Michigan',                   'Ann Arbor',       'MI'),
    (11, 'Pennsylvania State University',            'University Park', 'PA'),
    (12, 'University of Texas at Austin',            'Austin',          'TX'),
    (13, 'Rutgers University',                       'New Brunswick',   'NJ'),
    (14, 'University of Wisconsin–Madison',          'Madison',         'WI'),
    (15, 'University of Minnesota',                  'Minneapolis',     'MN'),
    (16, 'Indiana University Bloomington',           'Bloomington',     'IN'),
    (17, 'St. John''s University',                   'Queens',          'NY'),
    (18, 'Tufts University',                         'Medford',         'MA'),
    (19, 'San José State University',                'San José',        'CA'),
    (20, 'Cañada College',                           'Redwood City',    'CA'),
    (21, 'Georgia Regents University',               'Augusta',         'GA'),
    (22, 'Richard Stockton College of New Jersey',   'Galloway',        'NJ'),
    (23, 'North Idaho College',                      'Coeur d''Alene',  'ID'),
    (24, 'University of Hawaiʻi at Mānoa',            'Honolulu',        'HI'),
    (25, 'Universidad de Puerto Rico, Recinto de Río Piedras', 'San Juan', 'PR'),
    (26, 'Pontificia Universidad Católica de Puerto Rico',     'Ponce',    'PR'),
    (27, 'Universidad del Sagrado Corazón',          'San Juan',        'PR'),
    (28, 'Université de Montréal',                   'Montréal',        NULL),
    (29, 'Universität Wien',                         'Wien',            NULL);

-- The remaining schools are "<pattern> x <city>"; every state plus DC
-- appears, and no city name repeats, so generated names are unique.
CREATE TEMPORARY TABLE tmp_cities (
    idx INT UNSIGNED PRIMARY KEY, city VARCHAR(100), state CHAR(2)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO tmp_cities VALUES
    (  0, 'Birmingham', 'AL'), (  1, 'Montgomery', 'AL'), (  2, 'Mobile', 'AL'),
    (  3, 'Anchorage', 'AK'), (  4, 'Fairbanks', 'AK'),
    (  5, 'Phoenix', 'AZ'), (  6, 'Tucson', 'AZ'), (  7, 'Flagstaff', 'AZ'),
    (  8, 'Little Rock', 'AR'), (  9, 'Fayetteville', 'AR'),
    ( 10, 'Los Angeles', 'CA'), ( 11, 'San Diego', 'CA'), ( 12, 'Sacramento', 'CA'),
    ( 13, 'Fresno', 'CA'), ( 14, 'Oakland', 'CA'), ( 15, 'Santa Barbara', 'CA'),
    ( 16, 'Riverside', 'CA'),
    ( 17, 'Denver', 'CO'), ( 18, 'Boulder', 'CO'), ( 19, 'Colorado Springs', 'CO'),
    ( 20, 'Cañon City', 'CO'),
    ( 21, 'Hartford', 'CT'), ( 22, 'New Haven', 'CT'),
    ( 23, 'Wilmington', 'DE'), ( 24, 'Dover', 'DE'),
    ( 25, 'Washington', 'DC'),
    ( 26, 'Miami', 'FL'), ( 27, 'Tampa', 'FL'), ( 28, 'Orlando', 'FL'),
    ( 29, 'Tallahassee', 'FL'), ( 30, 'Jacksonville', 'FL'),
    ( 31, 'Atlanta', 'GA'), ( 32, 'Savannah', 'GA'), ( 33, 'Athens', 'GA'),
    ( 34, 'Hilo', 'HI'),
    ( 35, 'Boise', 'ID'), ( 36, 'Pocatello', 'ID'), ( 37, 'Coeur d''Alene', 'ID'),
    ( 38, 'Chicago', 'IL'), ( 39, 'Springfield', 'IL'), ( 40, 'Peoria', 'IL'),
    ( 41, 'Indianapolis', 'IN'), ( 42, 'Fort Wayne', 'IN'),
    ( 43, 'Des Moines', 'IA'), ( 44, 'Iowa City', 'IA'),
    ( 45, 'Wichita', 'KS'), ( 46, 'Lawrence', 'KS'),
    ( 47, 'Louisville', 'KY'), ( 48, 'Lexington', 'KY'),
    ( 49, 'New Orleans', 'LA'), ( 50, 'Baton Rouge', 'LA'),
    ( 51, 'Bangor', 'ME'), ( 52, 'Lewiston', 'ME'),
    ( 53, 'Baltimore', 'MD'), ( 54, 'Annapolis', 'MD'),
    ( 55, 'Worcester', 'MA'), ( 56, 'Lowell', 'MA'),
    ( 57, 'Detroit', 'MI'), ( 58, 'Grand Rapids', 'MI'), ( 59, 'Lansing', 'MI'),
    ( 60, 'Duluth', 'MN'), ( 61, 'Saint Paul', 'MN'),
    ( 62, 'Jackson', 'MS'), ( 63, 'Hattiesburg', 'MS'),
    ( 64, 'St. Louis', 'MO'), ( 65, 'Kansas City', 'MO'), ( 66, 'Columbia', 'MO'),
    ( 67, 'Missoula', 'MT'), ( 68, 'Billings', 'MT'),
    ( 69, 'Omaha', 'NE'), ( 70, 'Lincoln', 'NE'),
    ( 71, 'Las Vegas', 'NV'), ( 72, 'Reno', 'NV'),
    ( 73, 'Manchester', 'NH'), ( 74, 'Concord', 'NH'),
    ( 75, 'Newark', 'NJ'), ( 76, 'Trenton', 'NJ'),
    ( 77, 'Albuquerque', 'NM'), ( 78, 'Santa Fe', 'NM'), ( 79, 'Española', 'NM'),
    ( 80, 'Buffalo', 'NY'), ( 81, 'Rochester', 'NY'), ( 82, 'Albany', 'NY'),
    ( 83, 'Syracuse', 'NY'),
    ( 84, 'Charlotte', 'NC'), ( 85, 'Raleigh', 'NC'), ( 86, 'Asheville', 'NC'),
    ( 87, 'Fargo', 'ND'), ( 88, 'Bismarck', 'ND'),
    ( 89, 'Cleveland', 'OH'), ( 90, 'Cincinnati', 'OH'), ( 91, 'Toledo', 'OH'),
    ( 92, 'Tulsa', 'OK'), ( 93, 'Norman', 'OK'),
    ( 94, 'Eugene', 'OR'), ( 95, 'Salem', 'OR'),
    ( 96, 'Philadelphia', 'PA'), ( 97, 'Pittsburgh', 'PA'), ( 98, 'Erie', 'PA'),
    ( 99, 'Scranton', 'PA'),
    (100, 'Providence', 'RI'), (101, 'Newport', 'RI'),
    (102, 'Charleston', 'SC'), (103, 'Greenville', 'SC'),
    (104, 'Sioux Falls', 'SD'), (105, 'Rapid City', 'SD'),
    (106, 'Nashville', 'TN'), (107, 'Memphis', 'TN'), (108, 'Knoxville', 'TN'),
    (109, 'Houston', 'TX'), (110, 'Dallas', 'TX'), (111, 'San Antonio', 'TX'),
    (112, 'El Paso', 'TX'), (113, 'Lubbock', 'TX'),
    (114, 'Salt Lake City', 'UT'), (115, 'Provo', 'UT'),
    (116, 'Burlington', 'VT'), (117, 'Montpelier', 'VT'),
    (118, 'Richmond', 'VA'), (119, 'Norfolk', 'VA'), (120, 'Roanoke', 'VA'),
    (121, 'Seattle', 'WA'), (122, 'Spokane', 'WA'), (123, 'Tacoma', 'WA'),
    (124, 'Morgantown', 'WV'), (125, 'Huntington', 'WV'),
    (126, 'Milwaukee', 'WI'), (127, 'Green Bay', 'WI'),
    (128, 'Cheyenne', 'WY'), (129, 'Laramie', 'WY');

CREATE TEMPORARY TABLE tmp_school_patterns (
    idx INT UNSIGNED PRIMARY KEY, pattern VARCHAR(100)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO tmp_school_patterns VALUES
    ( 0, '% Community College'),     ( 1, '% State University'),
    ( 2, 'University of %'),         ( 3, '% College'),
    ( 4, 'College of %'),            ( 5, '% Technical College'),
    ( 6, '% Christian University'),  ( 7, '% Institute of Technology'),
    ( 8, '% School of Nursing'),     ( 9, '% Baptist College'),
    (10, '% College of Art and Design'), (11, 'Saint Mary''s College of %'),
    (12, '% Polytechnic Institute'), (13, '% Junior College'),
    (14, '% School of Law'),         (15, '% Theological Seminary');

-- Each school gets 18 or 19 courses, one per subject, so (school, code) is
-- unique without any bookkeeping.  Needs more subjects than courses/school.
CREATE TEMPORARY TABLE tmp_subjects (
    idx INT UNSIGNED PRIMARY KEY, code VARCHAR(8), name VARCHAR(100), department VARCHAR(100)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO tmp_subjects VALUES
    ( 0, 'BIO',  'Biology',                    'Biological Sciences'),
    ( 1, 'CHEM', 'Chemistry',                  'Chemistry'),
    ( 2, 'PHYS', 'Physics',                    'Physics and Astronomy'),
    ( 3, 'MATH', 'Calculus',                   'Mathematics'),
    ( 4, 'STAT', 'Statistics',                 'Mathematics'),
    ( 5, 'CS',   'Computer Science',           'Computer Science'),
    ( 6, 'ECON', 'Economics',                  'Economics'),
    ( 7, 'ACCT', 'Accounting',                 'School of Business'),
    ( 8, 'FIN',  'Finance',                    'School of Business'),
    ( 9, 'MKTG', 'Marketing',                  'School of Business'),
    (10, 'MGMT', 'Management',                 'School of Business'),
    (11, 'PSYC', 'Psychology',                 'Psychology'),
    (12, 'SOC',  'Sociology',                  'Sociology'),
    (13, 'ANTH', 'Anthropology',               'Anthropology'),
    (14, 'HIST', 'American History',           'History'),
    (15, 'ENGL', 'English Literature',         'English'),
    (16, 'PHIL', 'Philosophy',                 'Philosophy'),
    (17, 'POLS', 'Political Science',          'Government'),
    (18, 'COMM', 'Communication',              'Communication Studies'),
    (19, 'NURS', 'Nursing',                    'School of Nursing'),
    (20, 'WGS',  'Women''s and Gender Studies', 'Women''s and Gender Studies'),
    (21, 'ARTH', 'Art History',                'Art and Art History'),
    (22, 'MUS',  'Music Theory',               'Music'),
    (23, 'FREN', 'French',                     'Études françaises');

-- Names carry an ASCII slug because addresses stay ASCII even when the
-- person's name is not.
CREATE TEMPORARY TABLE tmp_first_names (
    idx INT UNSIGNED PRIMARY KEY, name VARCHAR(100), slug VARCHAR(100)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO tmp_first_names VALUES
    ( 0, 'Emily', 'emily'),     ( 1, 'Michael', 'michael'), ( 2, 'Sarah', 'sarah'),
    ( 3, 'Jacob', 'jacob'),     ( 4, 'Jessica', 'jessica'), ( 5, 'Matthew', 'matthew'),
    ( 6, 'Ashley', 'ashley'),   ( 7, 'Joshua', 'joshua'),   ( 8, 'Madison', 'madison'),
    ( 9, 'Tyler', 'tyler'),     (10, 'Hannah', 'hannah'),   (11, 'Andrew', 'andrew'),
    (12, 'Samantha', 'samantha'), (13, 'Daniel', 'daniel'), (14, 'Olivia', 'olivia'),
    (15, 'Ryan', 'ryan'),       (16, 'Lauren', 'lauren'),   (17, 'Kevin', 'kevin'),
    (18, 'Priya', 'priya'),     (19, 'Wei', 'wei'),         (20, 'Aisha', 'aisha'),
    (21, 'Mohammed', 'mohammed'), (22, 'Mei', 'mei'),       (23, 'Carlos', 'carlos'),
    (24, 'José', 'jose'),       (25, 'Zoë', 'zoe'),         (26, 'Renée', 'renee'),
    (27, 'François', 'francois'), (28, 'Björn', 'bjorn'),   (29, 'Søren', 'soren'),
    (30, 'Chloé', 'chloe'),     (31, 'Ángel', 'angel'),     (32, 'Nicole', 'nicole'),
    (33, 'Brandon', 'brandon'), (34, 'Rachel', 'rachel'),   (35, 'Justin', 'justin'),
    (36, 'Megan', 'megan'),     (37, 'Christopher', 'christopher'), (38, 'Amanda', 'amanda'),
    (39, 'David', 'david');

CREATE TEMPORARY TABLE tmp_last_names (
    idx INT UNSIGNED PRIMARY KEY, name VARCHAR(100), slug VARCHAR(100)
) DEFAULT CHARSET=utf8mb4;
INSERT INTO tmp_last_names VALUES
    ( 0, 'Smith', 'smith'),       ( 1, 'Johnson', 'johnson'),   ( 2, 'Williams', 'williams'),
    ( 3, 'Brown', 'brown'),       ( 4, 'Jones', 'jones'),       ( 5, 'Miller', 'miller'),
    ( 6, 'Davis', 'davis'),       ( 7, 'Wilson', 'wilson'),     ( 8, 'Anderson', 'anderson'),
    ( 9, 'Taylor', 'taylor'),     (10, 'Thomas', 'thomas'),     (11, 'Moore', 'moore'),
    (12, 'Martin', 'martin'),     (13, 'Jackson', 'jackson'),   (14, 'Thompson', 'thompson'),
    (15, 'White', 'white'),       (16, 'Lee', 'lee'),           (17, 'Harris', 'harris'),
    (18, 'Clark', 'clark'),       (19, 'Lewis', 'lewis'),       (20, 'Patel', 'patel'),
    (21, 'Kim', 'kim'),           (22, 'Chen', 'chen'),         (23, 'Wang', 'wang'),
    (24, 'García', 'garcia'),     (25, 'Martínez', 'martinez'), (26, 'Núñez', 'nunez'),
    (27, 'Müller', 'muller'),     (28, 'Nguyễn', 'nguyen'),     (29, 'O''Brien', 'obrien'),
    (30, 'O''Connor', 'oconnor'), (31, 'Kowalski', 'kowalski'), (32, 'Dubois', 'dubois'),
    (33, 'Hernández', 'hernandez'), (34, 'Rossi', 'rossi'),     (35, 'Cohen', 'cohen'),
    (36, 'Okafor', 'okafor'),     (37, 'Walker', 'walker'),     (38, 'Young', 'young'),
    (39, 'King', 'king');

-- For users whose home state differs from their school's: 50 states + DC.
CREATE TEMPORARY TABLE tmp_states (idx INT UNSIGNED PRIMARY KEY, code CHAR(2));
INSERT INTO tmp_states VALUES
    ( 0,'AL'),( 1,'AK'),( 2,'AZ'),( 3,'AR'),( 4,'CA'),( 5,'CO'),( 6,'CT'),( 7,'DE'),
    ( 8,'DC'),( 9,'FL'),(10,'GA'),(11,'HI'),(12,'ID'),(13,'IL'),(14,'IN'),(15,'IA'),
    (16,'KS'),(17,'KY'),(18,'LA'),(19,'ME'),(20,'MD'),(21,'MA'),(22,'MI'),(23,'MN'),
    (24,'MS'),(25,'MO'),(26,'MT'),(27,'NE'),(28,'NV'),(29,'NH'),(30,'NJ'),(31,'NM'),
    (32,'NY'),(33,'NC'),(34,'ND'),(35,'OH'),(36,'OK'),(37,'OR'),(38,'PA'),(39,'RI'),
    (40,'SC'),(41,'SD'),(42,'TN'),(43,'TX'),(44,'UT'),(45,'VT'),(46,'VA'),(47,'WA'),
    (48,'WV'),(49,'WI'),(50,'WY');

-- List sizes, so the lists can be edited without touching the queries.
SET @n_named    = (SELECT COUNT(*) FROM tmp_named_schools);
SET @n_cities   = (SELECT COUNT(*) FROM tmp_cities);
SET @n_subjects = (SELECT COUNT(*) FROM tmp_subjects);
SET @n_first    = (SELECT COUNT(*) FROM tmp_first_names);
SET @n_last     = (SELECT COUNT(*) FROM tmp_last_names);
SET @n_states   = (SELECT COUNT(*) FROM tmp_states);

-- ---------------------------------------------------------------------------
-- Schools and courses: catalogue data entered before launch (2009).
-- ---------------------------------------------------------------------------

INSERT INTO schools (id, name, city, state, updated_at)
SELECT id, name, city, state,
       TIMESTAMP'2009-06-01 00:00:00'
         + INTERVAL MOD(CRC32(CONCAT('school.upd:', id)), 180 * 86400) SECOND
  FROM tmp_named_schools
UNION ALL
SELECT g.id,
       REPLACE(p.pattern, '%', c.city),
       c.city, c.state,
       TIMESTAMP'2009-06-01 00:00:00'
         + INTERVAL MOD(CRC32(CONCAT('school.upd:', g.id)), 180 * 86400) SECOND
  FROM (SELECT seq AS id, seq - @n_named - 1 AS g0
          FROM seq_1_to_4294967295
         WHERE seq > @n_named AND seq <= @n_schools) g
  JOIN tmp_cities          c ON c.idx = MOD(g.g0, @n_cities)
  JOIN tmp_school_patterns p ON p.idx = g.g0 DIV @n_cities;

-- Courses are numbered in contiguous blocks per school:
--   school(c)      = (c-1) * n_schools DIV n_courses + 1
--   first_course(s) = ceil((s-1) * n_courses / n_schools) + 1
-- Products and enrolments use the same two formulas to pick a course at a
-- given school without a lookup table.
INSERT INTO courses (id, school_id, code, title, department, updated_at)
SELECT c.id, c.school_id,
       CONCAT(sub.code, ' ', c.num),
       CONCAT(ELT(c.num DIV 100, 'Introduction to ', 'Intermediate ', 'Advanced ', 'Seminar in '),
              sub.name),
       sub.department,
       TIMESTAMP'2009-06-01 00:00:00'
         + INTERVAL MOD(CRC32(CONCAT('course.upd:', c.id)), 200 * 86400) SECOND
  FROM (SELECT b.id, b.school_id,
               -- position of the course within its school, 0-based
               b.id - ((b.school_id - 1) * @n_courses + @n_schools - 1) DIV @n_schools - 1 AS k,
               100 * (1 + MOD(CRC32(CONCAT('course.lvl:', b.id)), 4))
                   + MOD(CRC32(CONCAT('course.num:', b.id)), 100) AS num
          FROM (SELECT seq AS id, (seq - 1) * @n_schools DIV @n_courses + 1 AS school_id
                  FROM seq_1_to_4294967295
                 WHERE seq <= @n_courses) b) c
  JOIN tmp_subjects sub ON sub.idx = MOD(c.k + c.school_id, @n_subjects);

-- ---------------------------------------------------------------------------
-- Users.  Every 10th user (id = 10k + 1) is a seller, so the k-th seller can
-- be addressed arithmetically.  Schools are skewed towards low ids (product
-- of two uniform draws) so that a few big schools dominate, as in reality.
-- ---------------------------------------------------------------------------

INSERT INTO users (id, email, first_name, last_name, school_id, state,
                   is_seller, created_at, updated_at)
SELECT u.id,
       CONCAT(f.slug, '.', l.slug, u.id, '@',
              ELT(1 + MOD(CRC32(CONCAT('user.dom:', u.id)), 4),
                  'example.com', 'example.net', 'example.org', 'mail.example.edu')),
       f.name, l.name, u.school_id,
       IF(s.state IS NOT NULL AND MOD(CRC32(CONCAT('user.home:', u.id)), 100) < 85,
          s.state, st.code),
       MOD(u.id, 10) = 1,
       u.created_at,
       -- A quarter of the accounts were edited after sign-up, never past
       -- the end of the generated timeline.
       IF(MOD(CRC32(CONCAT('user.edit:', u.id)), 4) = 0,
          LEAST(u.created_at + INTERVAL MOD(CRC32(CONCAT('user.upd:', u.id)), 180 * 86400) SECOND,
                TIMESTAMP'2015-12-30 23:59:59'),
          u.created_at)
  FROM (SELECT seq AS id,
               1 + (MOD(CRC32(CONCAT('user.sch1:', seq)), @n_schools)
                    * MOD(CRC32(CONCAT('user.sch2:', seq)), @n_schools)) DIV @n_schools AS school_id,
               TIMESTAMP'2010-01-01 00:00:00' + INTERVAL FLOOR(@span * SQRT(CAST(seq - 1 AS DOUBLE) / @users)) SECOND AS created_at
          FROM seq_1_to_4294967295
         WHERE seq <= @users) u
  JOIN schools         s  ON s.id   = u.school_id
  JOIN tmp_first_names f  ON f.idx  = MOD(CRC32(CONCAT('user.fn:', u.id)), @n_first)
  JOIN tmp_last_names  l  ON l.idx  = MOD(CRC32(CONCAT('user.ln:', u.id)), @n_last)
  JOIN tmp_states      st ON st.idx = MOD(CRC32(CONCAT('user.st:', u.id)), @n_states);

-- ---------------------------------------------------------------------------
-- Products.  Product q is uploaded at sqrt((q-1)/850) of the timeline by a
-- seller who had already signed up: seller 10k+1 joined at sqrt(10k/users),
-- so k may be 0 .. users*(q-1) DIV 8500.  The course is one of the seller's
-- school's courses.
-- ---------------------------------------------------------------------------

INSERT INTO products (id, user_id, course_id, kind, title, price, created_at)
SELECT p.id, p.seller_id, c.id, p.kind,
       CONCAT(c.code, ' ',
              CASE p.kind WHEN 'notes'       THEN 'Lecture Notes'
                          WHEN 'study_guide' THEN 'Study Guide'
                          ELSE 'Flashcards' END,
              ' (',
              CASE WHEN MONTH(p.created_at) <= 5 THEN 'Spring'
                   WHEN MONTH(p.created_at) <= 8 THEN 'Summer'
                   ELSE 'Fall' END,
              ' ', YEAR(p.created_at), ')',
              -- Sellers decorate a few titles; keeps a 4-byte UTF-8
              -- character in the data set.
              IF(MOD(p.id, 97) = 0, ' 📚', '')),
       CASE p.kind
            WHEN 'notes'       THEN 4.99 + MOD(CRC32(CONCAT('product.price:', p.id)), 16)
            WHEN 'study_guide' THEN 9.99 + MOD(CRC32(CONCAT('product.price:', p.id)), 21)
            ELSE                    2.99 + MOD(CRC32(CONCAT('product.price:', p.id)),  8)
       END,
       p.created_at
  FROM (SELECT s.id, s.seller_id, s.created_at, s.kind,
               -- first_course(school) + offset < number of courses at school
               ((u.school_id - 1) * @n_courses + @n_schools - 1) DIV @n_schools + 1
                 + MOD(CRC32(CONCAT('product.course:', s.id)),
                       (u.school_id * @n_courses + @n_schools - 1) DIV @n_schools
                       - ((u.school_id - 1) * @n_courses + @n_schools - 1) DIV @n_schools)
                 AS course_id
          FROM (SELECT seq AS id,
                       10 * MOD(CRC32(CONCAT('product.seller:', seq)),
                                @users * (seq - 1) DIV (10 * @n_products) + 1) + 1 AS seller_id,
                       TIMESTAMP'2010-01-01 00:00:00' + INTERVAL FLOOR(@span * SQRT(CAST(seq - 1 AS DOUBLE) / @n_products)) SECOND
                           AS created_at,
                       -- 60 % notes, 25 % study guides, 15 % flashcards
                       CASE WHEN MOD(CRC32(CONCAT('product.kind:', seq)), 20) < 12 THEN 'notes'
                            WHEN MOD(CRC32(CONCAT('product.kind:', seq)), 20) < 17 THEN 'study_guide'
                            ELSE 'flashcards' END AS kind
                  FROM seq_1_to_4294967295
                 WHERE seq <= @n_products) s
          JOIN users u ON u.id = s.seller_id) p
  JOIN courses c ON c.id = p.course_id;

-- ---------------------------------------------------------------------------
-- Payments.  Payment p happens at sqrt((p-1)/payments) of the timeline; the
-- buyer and the product are drawn among those that existed by then (same
-- integer argument as for sellers).  The school is the product's school.
-- ---------------------------------------------------------------------------

INSERT INTO payments (id, user_id, product_id, school_id, payment_source_id,
                      affiliate_id, site_id, quantity, amount, created_at)
SELECT x.id, x.user_id, x.product_id, c.school_id,
       -- 70 % card, 25 % PayPal, 5 % store credit
       CASE WHEN MOD(CRC32(CONCAT('pay.src:', x.id)), 100) < 70 THEN 1
            WHEN MOD(CRC32(CONCAT('pay.src:', x.id)), 100) < 95 THEN 2
            ELSE 3 END,
       -- 1 % without affiliate; the rest 50/30/10/10 over the four
       CASE WHEN MOD(CRC32(CONCAT('pay.aff:', x.id)), 100) = 0 THEN NULL
            WHEN MOD(CRC32(CONCAT('pay.affid:', x.id)), 10) < 5 THEN 1
            WHEN MOD(CRC32(CONCAT('pay.affid:', x.id)), 10) < 8 THEN 2
            WHEN MOD(CRC32(CONCAT('pay.affid:', x.id)), 10) < 9 THEN 3
            ELSE 4 END,
       1,
       x.quantity,
       -- 5 % of sales used a 25 % promotion
       ROUND(pr.price * x.quantity
             * IF(MOD(CRC32(CONCAT('pay.promo:', x.id)), 20) = 0, 0.75, 1), 2),
       x.created_at
  FROM (SELECT seq AS id,
               1 + MOD(CRC32(CONCAT('pay.user:', seq)),
                       @users * (seq - 1) DIV @payments + 1) AS user_id,
               1 + MOD(CRC32(CONCAT('pay.product:', seq)),
                       @n_products * (seq - 1) DIV @payments + 1) AS product_id,
               -- 90 % single copies, 8 % two, 2 % three (group study)
               CASE WHEN MOD(CRC32(CONCAT('pay.qty:', seq)), 50) < 45 THEN 1
                    WHEN MOD(CRC32(CONCAT('pay.qty:', seq)), 50) < 49 THEN 2
                    ELSE 3 END AS quantity,
               TIMESTAMP'2010-01-01 00:00:00' + INTERVAL FLOOR(@span * SQRT(CAST(seq - 1 AS DOUBLE) / @payments)) SECOND
                   AS created_at
          FROM seq_1_to_4294967295
         WHERE seq <= @payments) x
  JOIN products pr ON pr.id = x.product_id
  JOIN courses  c  ON c.id  = pr.course_id;

-- ---------------------------------------------------------------------------
-- Disability enrolments: users 7, 47, 87, ... (one in 40), each in one
-- course at their own school, within 30 days of signing up.
-- ---------------------------------------------------------------------------

INSERT INTO disability_enrollments (id, disability_program_id, user_id, course_id,
                                    role, created_at)
SELECT (u.id - 7) DIV 40 + 1,
       1,
       u.id,
       ((u.school_id - 1) * @n_courses + @n_schools - 1) DIV @n_schools + 1
         + MOD(CRC32(CONCAT('dis.course:', u.id)),
               (u.school_id * @n_courses + @n_schools - 1) DIV @n_schools
               - ((u.school_id - 1) * @n_courses + @n_schools - 1) DIV @n_schools),
       IF(MOD(CRC32(CONCAT('dis.role:', u.id)), 3) = 0, 'notetaker', 'client'),
       LEAST(u.created_at + INTERVAL MOD(CRC32(CONCAT('dis.at:', u.id)), 30 * 86400) SECOND,
             TIMESTAMP'2015-12-30 23:59:59')
  FROM users u
 WHERE MOD(u.id, 40) = 7;

DROP TEMPORARY TABLE tmp_named_schools, tmp_cities, tmp_school_patterns,
    tmp_subjects, tmp_first_names, tmp_last_names, tmp_states;
