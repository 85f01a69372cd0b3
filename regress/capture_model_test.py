#!/usr/bin/env python3
"""Randomized test of binary log capture against a model.

A type 2 dimension with capture => 'binlog' (deletes => 'invalidate') follows
a MariaDB table through random rounds of changes: inserts, updates of one
row and of many rows in one statement, updates to the same values, deletes,
updates of the key, several changes of one row between two runs, deletes
followed by inserts of the same key, transactions of several statements and
transactions rolled back.  After every run the dimension's versions (values
in order, and which one is current) must be what the model below computes,
and pypeline.check_dimension must report nothing.

The model follows the documented rules (README, "Change data capture"; the
type 2 rules of doc/design.md), one key at a time; it shares no code with
pypeline.  A run's changes of a key are taken in log order, deletes aside:
the first starts a version if the member is new, closed, or has other
values than its latest version; each later one if it differs from the one
before it.  If the key's last change was a delete, its open version closes.

Usage: capture_model_test.py SEED ROUNDS DATABASE MYSQL_SOCKET MYSQL_PORT
Prints "ok - ..." / "not ok - ..." lines and "# " diagnostics; the same seed
replays the same rounds.
"""
import random
import sys

import clients

SEED, ROUNDS, DATABASE, MYSQL_SOCKET, MYSQL_PORT = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                                    sys.argv[4], sys.argv[5])
KEYS = range(1, 41)
VALUES = ["a", "b", None]
WEIGHTS = [1, 2, 3]


def mysql(text):
    return clients.mysql(MYSQL_SOCKET, text)


def psql(text):
    out, err = clients.run(clients.psql_command(DATABASE, True) + ["-c", "SET client_min_messages = warning",
                                                                     "-f", "-"], text)
    if err.strip():
        raise RuntimeError("PostgreSQL: " + err.strip())
    return out


def lit(v):
    return "NULL" if v is None else ("'%s'" % v if isinstance(v, str) else str(v))


class Model:
    def __init__(self):
        self.source = {}        # id -> (v, w), the table as MySQL has it
        self.versions = {}      # id -> [(v, w), ...], the dimension's versions in order
        self.open = {}          # id -> whether the latest version is current
        self.pending = {}       # id -> changes since the last run: (v, w) or None for a delete

    def change(self, key, row):
        self.pending.setdefault(key, []).append(row)

    def apply_run(self):
        for key, changes in self.pending.items():
            rows = [c for c in changes if c is not None]
            for i, row in enumerate(rows):
                if i == 0:
                    start = (key not in self.versions or not self.open[key]
                             or row != self.versions[key][-1])
                else:
                    start = row != rows[i - 1]
                if start:
                    self.versions.setdefault(key, []).append(row)
                    self.open[key] = True
            if changes[-1] is None and self.open.get(key):
                self.open[key] = False
        self.pending = {}

    def expected(self):
        out = []
        for key in sorted(self.versions):
            vs = self.versions[key]
            for i, (v, w) in enumerate(vs):
                current = i == len(vs) - 1 and self.open[key]
                out.append("%d|%d|%s|%s|%s" % (key, i + 1, "NULL" if v is None else v,
                                               "NULL" if w is None else w, "t" if current else "f"))
        return out


def statement(m, rng):
    """One random change: its SQL, and what it does (applied to the model by the caller)."""
    present = sorted(m.source)
    absent = [k for k in KEYS if k not in m.source]
    kind = rng.choice(["insert", "update", "update", "same", "delete", "rekey", "many"])
    if kind == "insert" and absent or not present:
        if not absent:
            return None
        key = rng.choice(absent)
        row = (rng.choice(VALUES), rng.choice(WEIGHTS))
        return ("INSERT INTO cm_item VALUES (%d, %s, %d)" % (key, lit(row[0]), row[1]), [(key, row)], [])
    key = rng.choice(present)
    if kind == "update" or kind == "insert":
        row = (rng.choice(VALUES), rng.choice(WEIGHTS))
        if row == m.source[key]:
            return None     # no row changes: MySQL logs nothing (see "same")
        return ("UPDATE cm_item SET v = %s, w = %d WHERE id = %d" % (lit(row[0]), row[1], key),
                [(key, row)], [])
    if kind == "same":
        v, w = m.source[key]
        return ("UPDATE cm_item SET v = %s, w = %d WHERE id = %d" % (lit(v), w, key), [], [])
    if kind == "delete":
        return ("DELETE FROM cm_item WHERE id = %d" % key, [], [key])
    if kind == "rekey":
        if not absent:
            return None
        new = rng.choice(absent)
        return ("UPDATE cm_item SET id = %d WHERE id = %d" % (new, key), [(new, m.source[key])], [key])
    # many rows in one statement (one rows event)
    r = rng.randrange(3)
    changed = [(k, (m.source[k][0], m.source[k][1] % 3 + 1)) for k in present if k % 3 == r]
    return ("UPDATE cm_item SET w = w % 3 + 1 WHERE id % 3 = " + str(r), changed, [])


def apply_statement(m, effect):
    _, rows, deleted = effect
    for key in deleted:
        del m.source[key]
        m.change(key, None)
    for key, row in rows:
        m.source[key] = row
        m.change(key, row)


def dimension():
    out = psql("SELECT id, version, v, w, is_current FROM cm_cap_dim WHERE id IS NOT NULL ORDER BY id, version;")
    return [line for line in out.splitlines() if line]


def main():
    rng = random.Random(SEED)
    m = Model()
    mysql("DROP TABLE IF EXISTS cm_item; CREATE TABLE cm_item (id INT PRIMARY KEY, v VARCHAR(10), w INT NOT NULL);")
    for key in KEYS[:25]:
        row = (rng.choice(VALUES), rng.choice(WEIGHTS))
        mysql("INSERT INTO cm_item VALUES (%d, %s, %d)" % (key, lit(row[0]), row[1]))
        m.source[key] = row
        m.versions[key] = [row]
        m.open[key] = True
    psql("""
        CREATE SERVER cm FOREIGN DATA WRAPPER pypeline_mysql
            OPTIONS (host '127.0.0.1', port '%s', dbname 'pypeline_regress');
        CREATE USER MAPPING FOR CURRENT_USER SERVER cm OPTIONS (username 'cm_capture', password 'cm_secret');
        SELECT pypeline.define_dimension('cm_cap', 'cm', 'SELECT id, v, w FROM cm_item', 'cm_cap_dim', '{id}',
            scd_type => 2, deletes => 'invalidate', max_closed_fraction => 1, capture => 'binlog');
        SELECT pypeline.process_etl('cm_cap', 'dimension');
    """ % MYSQL_PORT)
    statements = runs = 0
    for round_no in range(1, ROUNDS + 1):
        for _ in range(rng.randrange(1, 12)):
            mode = rng.random()
            if mode < 0.15:
                # a transaction of several statements, each seeing the ones before it
                saved = dict(m.source), {k: list(v) for k, v in m.pending.items()}
                sql = []
                for _ in range(rng.randrange(2, 5)):
                    e = statement(m, rng)
                    if e:
                        sql.append(e[0])
                        apply_statement(m, e)
                if not sql:
                    continue
                committed = rng.random() < 0.7
                if not committed:
                    m.source, m.pending = saved
                mysql("START TRANSACTION; %s; %s;" % ("; ".join(sql), "COMMIT" if committed else "ROLLBACK"))
                statements += len(sql)
            else:
                e = statement(m, rng)
                if e:
                    mysql(e[0])
                    apply_statement(m, e)
                    statements += 1
        psql("SELECT pypeline.process_etl('cm_cap', 'dimension');")
        runs += 1
        m.apply_run()
        got, want = dimension(), m.expected()
        if got != want:
            print("not ok - capture_model: round %d (seed %d) matches the model" % (round_no, SEED))
            for line in sorted(set(want) - set(got))[:10]:
                print("# expected, missing: " + line)
            for line in sorted(set(got) - set(want))[:10]:
                print("# got, unexpected:   " + line)
            return 1
        bad = psql("SELECT invariant || ': ' || example FROM pypeline.check_dimension('cm_cap');").strip()
        if bad:
            print("not ok - capture_model: round %d (seed %d) keeps every invariant" % (round_no, SEED))
            print("# " + bad.replace("\n", "\n# "))
            return 1
        # every source row is current in the dimension with its values
        current = psql("SELECT id, v, w FROM cm_cap_dim WHERE is_current AND id IS NOT NULL ORDER BY id;").split()
        source = ["%d|%s|%s" % (k, "NULL" if v is None else v, w) for k, (v, w) in sorted(m.source.items())]
        if current != source:
            print("not ok - capture_model: round %d (seed %d) has the source's rows current" % (round_no, SEED))
            return 1
    versions = sum(len(v) for v in m.versions.values())
    print("ok - capture_model: %d runs over %d statements (seed %d), %d versions of %d members, each run as the model says"
          % (runs, statements, SEED, versions, len(m.versions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
