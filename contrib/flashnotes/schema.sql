-- Flashnotes: sample OLTP source database for the pypeline demo.
--
-- Flashnotes is a student notes marketplace: sellers (students) upload
-- notes, study guides and flashcards for a course at their school, and
-- buyers pay for them.  This file only creates the tables; generate.sql
-- fills them and changes.sql applies a later batch of edits.
--
-- Target: MariaDB 10.11, InnoDB, utf8mb4.  The loader creates and selects
-- the database, so there is deliberately no CREATE DATABASE / USE here.
--
-- Conventions:
--   * every table has a single-column primary key `id` (the natural key the
--     warehouse sees); ids are assigned by the generator, not AUTO_INCREMENT,
--     so they are identical on every run;
--   * tables whose rows get edited carry `updated_at`; append-only tables
--     carry `created_at` and an ever-increasing `id`;
--   * all foreign keys are declared, so InnoDB itself guarantees that the
--     generated data is referentially consistent.  The one optional
--     reference is payments.affiliate_id (NULL = no affiliate).

-- Match the session to the utf8mb4 tables whatever the client's default.
SET NAMES utf8mb4;

-- Children first, so the file can be re-run against an existing database.
DROP TABLE IF EXISTS payments;
DROP TABLE IF EXISTS disability_enrollments;
DROP TABLE IF EXISTS products;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS courses;
DROP TABLE IF EXISTS schools;
DROP TABLE IF EXISTS payment_sources;
DROP TABLE IF EXISTS affiliates;
DROP TABLE IF EXISTS sites;
DROP TABLE IF EXISTS disability_programs;

-- ---------------------------------------------------------------------------
-- Small reference tables (rarely change, no timestamps in the app either).
-- ---------------------------------------------------------------------------

CREATE TABLE payment_sources (
    id   INT UNSIGNED NOT NULL,
    name VARCHAR(50)  NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE affiliates (
    id              INT UNSIGNED NOT NULL,
    name            VARCHAR(100) NOT NULL,
    -- Fraction of the sale paid to the affiliate (0.1000 = 10 %).
    commission_rate DECIMAL(5,4) NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE sites (
    id     INT UNSIGNED NOT NULL,
    name   VARCHAR(100) NOT NULL,
    domain VARCHAR(100) NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE disability_programs (
    id   INT UNSIGNED NOT NULL,
    name VARCHAR(200) NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- Dimension-like entities.
-- ---------------------------------------------------------------------------

CREATE TABLE schools (
    id         INT UNSIGNED NOT NULL,
    name       VARCHAR(200) NOT NULL,
    city       VARCHAR(100) NOT NULL,
    -- USPS code.  NULL for the few schools outside the US (Montréal, Wien),
    -- which have no US state; loaders must cope with that.
    state      CHAR(2)      NULL,
    updated_at DATETIME     NOT NULL,
    PRIMARY KEY (id),
    KEY schools_updated_at (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE courses (
    id         INT UNSIGNED NOT NULL,
    school_id  INT UNSIGNED NOT NULL,
    -- Unique within a school only; different schools reuse codes.
    code       VARCHAR(20)  NOT NULL,
    title      VARCHAR(200) NOT NULL,
    department VARCHAR(100) NOT NULL,
    updated_at DATETIME     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY courses_school_code (school_id, code),
    KEY courses_updated_at (updated_at),
    CONSTRAINT courses_school FOREIGN KEY (school_id) REFERENCES schools (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE users (
    id         INT UNSIGNED NOT NULL,
    email      VARCHAR(255) NOT NULL,
    first_name VARCHAR(100) NOT NULL,
    last_name  VARCHAR(100) NOT NULL,
    school_id  INT UNSIGNED NOT NULL,
    -- Home state (USPS code).  Usually, but not always, the school's state;
    -- this is the attribute changes.sql edits to demonstrate a type-2 change.
    state      CHAR(2)      NOT NULL,
    is_seller  TINYINT(1)   NOT NULL DEFAULT 0,
    created_at DATETIME     NOT NULL,
    updated_at DATETIME     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_email (email),
    KEY users_updated_at (updated_at),
    CONSTRAINT users_school FOREIGN KEY (school_id) REFERENCES schools (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE products (
    id         INT UNSIGNED NOT NULL,
    -- The seller who uploaded the product (always a user with is_seller = 1).
    user_id    INT UNSIGNED NOT NULL,
    course_id  INT UNSIGNED NOT NULL,
    kind       ENUM('notes','study_guide','flashcards') NOT NULL,
    title      VARCHAR(255) NOT NULL,
    -- Current list price; the price actually paid is kept on payments.
    price      DECIMAL(10,2) NOT NULL,
    created_at DATETIME     NOT NULL,
    PRIMARY KEY (id),
    KEY products_created_at (created_at),
    CONSTRAINT products_seller FOREIGN KEY (user_id)   REFERENCES users (id),
    CONSTRAINT products_course FOREIGN KEY (course_id) REFERENCES courses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------------------
-- Event tables (fact sources).  Append-only: rows are never updated, so
-- `created_at` / ever-increasing `id` are enough to extract new rows.
-- ---------------------------------------------------------------------------

CREATE TABLE payments (
    id                BIGINT UNSIGNED   NOT NULL,
    -- The buyer.
    user_id           INT UNSIGNED      NOT NULL,
    product_id        INT UNSIGNED      NOT NULL,
    -- School the product belongs to (denormalised by the app at sale time).
    school_id         INT UNSIGNED      NOT NULL,
    payment_source_id INT UNSIGNED      NOT NULL,
    -- NULL when the sale did not come through an affiliate.
    affiliate_id      INT UNSIGNED      NULL,
    site_id           INT UNSIGNED      NOT NULL,
    quantity          SMALLINT UNSIGNED NOT NULL,
    -- Extended amount actually charged (price at sale time * quantity).
    amount            DECIMAL(10,2)     NOT NULL,
    created_at        DATETIME          NOT NULL,
    PRIMARY KEY (id),
    KEY payments_created_at (created_at),
    CONSTRAINT payments_buyer     FOREIGN KEY (user_id)           REFERENCES users (id),
    CONSTRAINT payments_product   FOREIGN KEY (product_id)        REFERENCES products (id),
    CONSTRAINT payments_school    FOREIGN KEY (school_id)         REFERENCES schools (id),
    CONSTRAINT payments_source    FOREIGN KEY (payment_source_id) REFERENCES payment_sources (id),
    CONSTRAINT payments_affiliate FOREIGN KEY (affiliate_id)      REFERENCES affiliates (id),
    CONSTRAINT payments_site      FOREIGN KEY (site_id)           REFERENCES sites (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Students enrolled in a disability-services note-taking programme for a
-- course, either as a note-taker or as a client receiving the notes.  This
-- is the (factless) fact that gives disability_programs something to
-- describe; payments deliberately do not reference programmes.
CREATE TABLE disability_enrollments (
    id                    INT UNSIGNED NOT NULL,
    disability_program_id INT UNSIGNED NOT NULL,
    user_id               INT UNSIGNED NOT NULL,
    course_id             INT UNSIGNED NOT NULL,
    role                  ENUM('notetaker','client') NOT NULL,
    created_at            DATETIME     NOT NULL,
    PRIMARY KEY (id),
    KEY disability_enrollments_created_at (created_at),
    CONSTRAINT disability_enrollments_program FOREIGN KEY (disability_program_id)
        REFERENCES disability_programs (id),
    CONSTRAINT disability_enrollments_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT disability_enrollments_course FOREIGN KEY (course_id) REFERENCES courses (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
