#!/usr/bin/env python3
"""Randomized test of dimension history against a reference model.

Each sequence defines one dimension (and often a fact) over a MariaDB table
of its own, then runs a random series of source changes and loads: inserts,
updates of type-2, type-1, type1_all and ignored columns, NULL <-> value
flips, change dates in the past and the future (and missing), several
history rows of one key in one run, hard deletes and returns under each
deletes policy, composite keys, facts dated before, inside and after
versions, facts whose member arrives later (repaired by the fact's next
load).  After every load the dimension and the fact must equal what the
model below computes, row by row, and pypeline.check_dimension/check_fact
must report nothing.

The model is written from the documented rules (README, doc/design.md), one
member and one row at a time; it shares no code with pypeline.

Usage: model_test.py SEED SEQUENCES DATABASE MYSQL_SOCKET
Prints "ok - ..." / "not ok - ..." lines and "# " diagnostics.  A failure
names the seed and the sequence; the same seed replays the same sequences.
"""
import datetime
import random
import sys

import clients

SEED, COUNT, DATABASE, MYSQL_SOCKET = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
BATCH = 20
NEG_INF, POS_INF = float("-inf"), float("inf")
EPOCH = datetime.datetime(1970, 1, 1)
VALUES = ["x", "y", None]
INSTANTS = ["2001-01-01 00:00:00", "2002-06-01 12:00:00", "2004-01-01 00:00:00", "2005-05-05 05:05:05",
            "2006-01-01 00:00:00", "2008-08-08 08:00:00", "2010-01-01 00:00:00", "2200-01-01 00:00:00"]


def micros(text):
    """A MySQL DATETIME (read as UTC, as pypeline does) in microseconds since 1970."""
    if text is None:
        return None
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    return (datetime.datetime.strptime(text, fmt) - EPOCH) // datetime.timedelta(microseconds=1)


def show_time(t):
    if t == NEG_INF:
        return "-infinity"
    if t == POS_INF:
        return "infinity"
    return (EPOCH + datetime.timedelta(microseconds=t)).strftime("%Y-%m-%d %H:%M:%S.%f")


def sql_value(v):
    return "NULL" if v is None else "'%s'" % v


def show(v):
    return "NULL" if v is None else str(v)


def mysql(text):
    return clients.mysql(MYSQL_SOCKET, text)


def psql(text):
    return clients.run(clients.psql_command(DATABASE, False), text)


class Sequence:
    """One dimension (maybe with a fact), its source, and the model of both."""

    def __init__(self, number, rng):
        self.n = number
        self.rng = rng
        self.name = "md%d" % number
        self.composite = rng.random() < 0.3
        self.keys = ["k1", "k2"] if self.composite else ["k1"]
        self.scd_type = 1 if rng.random() < 0.12 else 2
        self.history = self.scd_type == 2 and rng.random() < 0.35   # incremental source, several rows a key
        self.change_date = self.history or (self.scd_type == 2 and rng.random() < 0.7)
        self.deletes = "ignore" if self.history or self.scd_type == 1 else rng.choice(["ignore", "invalidate", "new_record"])
        # a: type 2 (type 1 in a type 1 dimension); b: type1; c: type1_all; d: ignore
        self.rules = {"a": "type2" if self.scd_type == 2 else "type1"}
        for column, rule in (("b", "type1"), ("c", "type1_all"), ("d", "ignore")):
            if rng.random() < 0.6 and (self.scd_type == 2 or rule == "ignore"):
                self.rules[column] = rule
        self.attributes = sorted(self.rules)
        if self.history:
            self.rules["seq"] = "ignore"
            self.attributes.append("seq")
        self.has_fact = rng.random() < 0.6
        self.source = {}          # key -> row (snapshot sources)
        self.gone = {}            # deleted keys, to bring back
        self.next_seq = 1
        self.pending = []         # history rows not loaded yet
        self.run_instants = {}    # history: key -> instants of the rows of the next load
        self.versions = {}        # the model: key -> list of version dicts
        self.next_event = 1
        self.events = []          # fact events not loaded yet
        self.facts = {}           # event id -> (key, version) or None
        self.fact_events = {}     # event id -> (key, at)
        self.log = []

    # ---- definitions and source changes ----

    def setup_sql(self):
        cols = ", ".join("%s INT" % k for k in self.keys)
        attrs = ", ".join("%s VARCHAR(5)" % a for a in self.attributes if a != "seq")
        ts = ", ts DATETIME(6)" if self.change_date else ""
        if self.history:
            my = "CREATE TABLE %s_src (seq INT AUTO_INCREMENT PRIMARY KEY, %s, %s%s);" % (self.name, cols, attrs, ts)
        else:
            my = "CREATE TABLE %s_src (%s, %s%s, PRIMARY KEY (%s));" % (self.name, cols, attrs, ts, ", ".join(self.keys))
        if self.has_fact:
            my += "CREATE TABLE %s_ev (id INT PRIMARY KEY, %s, at DATETIME(6));" % (self.name, cols)
        selected = ", ".join(self.keys + [a for a in self.attributes if a != "seq"] +
                             (["ts"] if self.change_date else []) + (["seq"] if self.history else []))
        rules = ", ".join('"%s": "%s"' % (c, r) for c, r in sorted(self.rules.items()) if r != "type2")
        pg = ("SELECT pypeline.define_dimension('%s', 'src', 'SELECT %s FROM %s_src', '%s_dim', "
              "natural_key => '{%s}', scd_type => %d, column_rules => '{%s}', deletes => '%s', "
              "max_closed_fraction => 1%s%s);\n" % (
                  self.name, selected, self.name, self.name, ",".join(self.keys), self.scd_type, rules,
                  self.deletes, ", change_date_column => 'ts'" if self.change_date else "",
                  ", incremental_column => 'seq'" if self.history else ""))
        if self.has_fact:
            pg += ("SELECT pypeline.define_fact('%s_f', 'src', 'SELECT id, %s, at FROM %s_ev', '%s_fact', "
                   "lookups => '{\"%s\": [%s]}', degenerate_columns => '{id}', event_time_column => 'at', "
                   "incremental_column => 'id');\n" % (
                       self.name, ", ".join(self.keys), self.name, self.name, self.name,
                       ", ".join('"%s"' % k for k in self.keys)))
        return my, pg

    def random_key(self):
        return tuple(self.rng.randint(1, 6) for _ in self.keys)

    def random_row(self):
        row = {a: self.rng.choice(VALUES) for a in self.attributes if a != "seq"}
        if self.change_date:
            row["ts"] = self.rng.choice(INSTANTS + [None] if self.rng.random() < 0.1 else INSTANTS)
        return row

    def where(self, key):
        return " AND ".join("%s = %d" % (k, v) for k, v in zip(self.keys, key))

    def insert_sql(self, key, row):
        cols = self.keys + sorted(row)
        vals = [str(v) for v in key] + [sql_value(row[c]) for c in sorted(row)]
        return "INSERT INTO %s_src (%s) VALUES (%s);" % (self.name, ", ".join(cols), ", ".join(vals))

    def change_source(self):
        """Random source changes before a load; returns MariaDB statements."""
        rng, out = self.rng, []
        if self.history:
            for _ in range(rng.randint(0, 5)):
                key = self.random_key()
                row = self.random_row()
                # one row per key and instant in a run (one without an instant at most)
                if row["ts"] in self.run_instants.setdefault(key, set()):
                    continue
                self.run_instants[key].add(row["ts"])
                row["seq"] = str(self.next_seq)
                self.next_seq += 1
                out.append(self.insert_sql(key, {c: v for c, v in row.items() if c != "seq"}))
                self.pending.append((key, row))
        else:
            for _ in range(rng.randint(0, 4)):
                choice = rng.random()
                key = self.random_key()
                if key not in self.source and key not in self.gone:
                    row = self.random_row()
                    self.source[key] = row
                    out.append(self.insert_sql(key, row))
                elif key in self.gone and choice < 0.5:
                    row = self.gone.pop(key)
                    if rng.random() < 0.5 and self.change_date:
                        row["ts"] = rng.choice(INSTANTS)
                    self.source[key] = row
                    out.append(self.insert_sql(key, row))
                elif key in self.source and choice < 0.15 and self.deletes != "ignore":
                    self.gone[key] = self.source.pop(key)
                    out.append("DELETE FROM %s_src WHERE %s;" % (self.name, self.where(key)))
                elif key in self.source:
                    row = self.source[key]
                    for column in rng.sample(sorted(row), rng.randint(1, len(row))):
                        row[column] = rng.choice(INSTANTS) if column == "ts" else rng.choice(VALUES)
                    sets = ", ".join("%s = %s" % (c, sql_value(v)) for c, v in sorted(row.items()))
                    out.append("UPDATE %s_src SET %s WHERE %s;" % (self.name, sets, self.where(key)))
        if self.has_fact:
            for _ in range(rng.randint(0, 3)):
                key = self.random_key() if rng.random() < 0.9 else tuple(None for _ in self.keys)
                at = rng.choice(INSTANTS + ["2003-03-03 03:03:03", "2150-01-01 00:00:00", "2250-01-01 00:00:00"])
                event = self.next_event
                self.next_event += 1
                out.append("INSERT INTO %s_ev VALUES (%d, %s, '%s');" % (
                    self.name, event, ", ".join(show(k) if k is not None else "NULL" for k in key), at))
                self.events.append((event, key, micros(at)))
        return out

    # ---- the model ----

    def current(self, key):
        return [v for v in self.versions.get(key, []) if v["current"]]

    def load_dimension(self, now):
        if self.history:
            rows = self.pending
            self.pending = []
            self.run_instants = {}
        else:
            rows = list(self.source.items())
        by_key = {}
        for key, row in rows:
            by_key.setdefault(key, []).append(dict(row))
        changed = set()
        if self.scd_type == 1:
            for key, (row,) in by_key.items():
                versions = self.versions.get(key)
                if not versions:
                    self.versions[key] = [dict(row)]
                else:
                    for a in self.attributes:
                        if self.rules[a] != "ignore":
                            versions[0][a] = row[a]
            return changed
        for key, key_rows in by_key.items():
            for r in key_rows:
                r["instant"] = now if not self.change_date or r.get("ts") is None else micros(r["ts"])
            key_rows.sort(key=lambda r: r["instant"])
            if self.merge_member(key, key_rows, now):
                changed.add(key)
        if self.deletes != "ignore":
            for key, versions in self.versions.items():
                live = [v for v in versions if v["current"] and not v["deleted"]]
                if live and key not in by_key:
                    self.close_gone(key, live[0], now)
                    changed.add(key)
        return changed

    def tracked(self, row):
        return tuple(row.get(a) for a in self.attributes if self.rules[a] == "type2")

    def merge_member(self, key, rows, now):
        versions = self.versions.setdefault(key, [])
        last = rows[-1]           # the member's latest source row
        latest = max(versions, key=lambda v: v["version"]) if versions else None
        is_open = latest is not None and latest["current"] and not latest["deleted"]
        if latest is not None and is_open:
            # rows older than the current version are loaded history, but the latest row
            rows = [r for i, r in enumerate(rows) if i == len(rows) - 1 or r["instant"] >= latest["valid_from"]]
        starts = []
        for n, r in enumerate(rows, 1):
            if n > 1:
                if self.tracked(r) == self.tracked(rows[n - 2]):
                    continue
            elif latest is not None and is_open and self.tracked(r) == self.tracked(latest):
                continue
            if latest is None:
                start = NEG_INF if n == 1 else r["instant"]
            elif latest["current"]:
                start = r["instant"] if r["instant"] > latest["valid_from"] else max(now, latest["valid_from"] + 1)
            else:
                start = r["instant"] if r["instant"] > latest["valid_to"] else max(now, latest["valid_to"])
            starts.append((start, r))
        # each version a microsecond after the one before, at least
        new = []
        floor = NEG_INF
        for m, (start, r) in enumerate(starts, 1):
            floor = max(floor, start - m)
            since = floor + m
            values = {a: r.get(a) for a in self.attributes}
            for a in self.attributes:
                if self.rules[a] == "ignore":
                    values[a] = rows[0].get(a) if latest is None else latest[a]
            new.append(dict(values, valid_from=since))
        if new:
            for v in versions:
                if v["current"]:
                    v["current"] = False
                    v["valid_to"] = new[0]["valid_from"]
            base = latest["version"] if latest else 0
            for i, v in enumerate(new):
                v.update(valid_to=new[i + 1]["valid_from"] if i + 1 < len(new) else POS_INF,
                         version=base + i + 1, current=i + 1 == len(new), deleted=False)
                versions.append(v)
        # in place: type1 on the current version, type1_all on every version
        for a in self.attributes:
            if self.rules[a] == "type1_all":
                for v in versions:
                    v[a] = last.get(a)
            elif self.rules[a] == "type1":
                for v in versions:
                    if v["current"]:
                        v[a] = last.get(a)
        return bool(new)

    def close_gone(self, key, version, now):
        at = max(now, version["valid_from"] + 1)
        version["current"] = False
        version["valid_to"] = at
        if self.deletes == "new_record":
            deleted = {a: version[a] for a in self.attributes}
            deleted.update(valid_from=at, valid_to=POS_INF, version=version["version"] + 1, current=True,
                           deleted=True)
            self.versions[key].append(deleted)

    def covering(self, key, at):
        for v in self.versions.get(key, []):
            if v["valid_from"] <= at < v["valid_to"]:
                return (key, v["version"])
        return None

    def rekey_facts(self, changed):
        for event, ref in self.facts.items():
            if ref is None or ref[0] not in changed:
                continue
            key, at = self.fact_events[event]
            version = [v for v in self.versions[key] if v["version"] == ref[1]][0]
            if not (version["valid_from"] <= at < version["valid_to"]):
                self.facts[event] = self.covering(key, at)

    def resolve(self, key, at):
        if None in key:
            return None
        return self.covering(key, at) if self.scd_type == 2 else ((key, 1) if key in self.versions else None)

    def load_facts(self):
        # facts that got the unknown member get theirs once it exists ...
        for event, ref in self.facts.items():
            if ref is None:
                self.facts[event] = self.resolve(*self.fact_events[event])
        # ... then the new events are resolved
        for event, key, at in self.events:
            self.fact_events[event] = (key, at)
            self.facts[event] = self.resolve(key, at)
        self.events = []

    # ---- what the warehouse should hold ----

    def expected_dimension(self):
        lines = []
        for key in sorted(self.versions, key=lambda k: tuple(map(str, k))):
            for v in sorted(self.versions[key], key=lambda v: v.get("version", 1)):
                cols = [show(k) for k in key] + [show(v[a]) for a in self.attributes]
                if self.scd_type == 2:
                    cols += [str(v["version"]), show_time(v["valid_from"]), show_time(v["valid_to"]),
                             "t" if v["current"] else "f", "t" if v["deleted"] else "f"]
                lines.append("|".join(cols))
        return sorted(lines)

    def expected_facts(self):
        lines = []
        for event in sorted(self.facts):
            ref = self.facts[event]
            if ref is None:
                lines.append("%d|unknown" % event)
            else:
                lines.append("%d|%s|%d" % (event, "|".join(show(k) for k in ref[0]),
                                           ref[1] if self.scd_type == 2 else 1))
        return lines

    def dump_sql(self):
        def text(c):
            return "coalesce(%s::text, 'NULL')" % c

        def instant(c):
            return ("CASE WHEN %s = 'infinity' THEN 'infinity' WHEN %s = '-infinity' THEN '-infinity' "
                    "ELSE to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') END" % (c, c, c))

        columns = [text(c) for c in self.keys + self.attributes]
        if self.scd_type == 2:
            columns += ["version::text", instant("valid_from"), instant("valid_to"),
                        "CASE WHEN is_current THEN 't' ELSE 'f' END", "CASE WHEN deleted THEN 't' ELSE 'f' END"]
        sql = "SELECT 'DIM|%d|' || concat_ws('|', %s) FROM %s_dim WHERE %s_key <> -1;\n" % (
            self.n, ", ".join(columns), self.name, self.name)
        sql += "SELECT 'CHK|%d|' || invariant || ' (' || example || ')' FROM pypeline.check_dimension('%s');\n" % (
            self.n, self.name)
        if self.has_fact:
            sql += ("SELECT 'FACT|%d|' || f.id || '|' || CASE WHEN f.%s_key = -1 THEN 'unknown' "
                    "ELSE concat_ws('|', %s, %s) END "
                    "FROM %s_fact f LEFT JOIN %s_dim d ON d.%s_key = f.%s_key AND f.%s_key <> -1 ORDER BY f.id;\n" % (
                        self.n, self.name, ", ".join(text("d." + k) for k in self.keys),
                        "d.version::text" if self.scd_type == 2 else "'1'",
                        self.name, self.name, self.name, self.name, self.name))
            sql += "SELECT 'CHK|%d|' || invariant || ' (' || example || ')' FROM pypeline.check_fact('%s_f');\n" % (
                self.n, self.name)
        return sql


RUN_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.model_run(name text, kind text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pypeline.process_etl(name, kind);
	RETURN to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US');
EXCEPTION WHEN OTHERS THEN
	RETURN 'ERROR ' || SQLERRM;
END $$;
SET client_min_messages = warning;
"""


def run_batch(first, count, rng):
    sequences = [Sequence(first + i, random.Random(rng.random())) for i in range(count)]
    my, pg = "", ""
    for s in sequences:
        s.run_instants = {}
        m, p = s.setup_sql()
        my += m
        pg += p
    mysql(my)
    out, err = psql(pg)
    if "ERROR" in err:
        raise RuntimeError("could not define the ETLs: " + err)
    failed = []
    steps = rng.randint(4, 8)
    for step in range(steps):
        statements = []
        for s in sequences:
            s.log.append(s.change_source())
            statements += s.log[-1]
        if statements:
            mysql("\n".join(statements))
        script = RUN_FUNCTION
        for s in sequences:
            script += "SELECT 'RUN|%d|dimension|' || pg_temp.model_run('%s', 'dimension');\n" % (s.n, s.name)
            if s.has_fact:
                script += "SELECT 'RUN|%d|fact|' || pg_temp.model_run('%s_f', 'fact');\n" % (s.n, s.name)
            script += s.dump_sql()
        out, err = psql(script)
        got = {}
        for line in out.splitlines():
            parts = line.split("|", 2)
            if len(parts) == 3:
                got.setdefault((parts[0], int(parts[1])), []).append(parts[2])
        for s in sequences:
            if s in [f[0] for f in failed]:
                continue
            runs = got.get(("RUN", s.n), [])
            problem = None
            for r in runs:
                kind, result = r.split("|", 1)
                if result.startswith("ERROR"):
                    problem = "the %s load failed: %s" % (kind, result)
                    break
                now = micros(result)
                if kind == "dimension":
                    changed = s.load_dimension(now)
                    s.rekey_facts(changed)
                else:
                    s.load_facts()
            if problem is None and len(runs) != (2 if s.has_fact else 1):
                problem = "missing run results: %s" % err.strip()[:300]
            if problem is None and got.get(("CHK", s.n)):
                problem = "invariants violated: %s" % got[("CHK", s.n)]
            if problem is None and sorted(got.get(("DIM", s.n), [])) != s.expected_dimension():
                problem = diff("dimension", s.expected_dimension(), sorted(got.get(("DIM", s.n), [])))
            if problem is None and s.has_fact and got.get(("FACT", s.n), []) != s.expected_facts():
                problem = diff("fact", s.expected_facts(), got.get(("FACT", s.n), []))
            if problem:
                failed.append((s, step, problem))
    cleanup = ""
    pg_cleanup = ""
    for s in sequences:
        cleanup += "DROP TABLE IF EXISTS %s_src, %s_ev;" % (s.name, s.name)
        pg_cleanup += ("DROP TABLE IF EXISTS %s_fact, %s_dim; DELETE FROM pypeline.fact WHERE name = '%s_f'; "
                       "DELETE FROM pypeline.dimension WHERE name = '%s';\n" % (s.name, s.name, s.name, s.name))
    psql(pg_cleanup)
    mysql(cleanup)
    return sequences, failed


def diff(what, expected, got):
    lines = ["the %s differs from the model" % what]
    for line in expected:
        if line not in got:
            lines.append("  model only: " + line)
    for line in got:
        if line not in expected:
            lines.append("  table only: " + line)
    return "\n".join(lines[:25])


def describe(s):
    return ("scd_type %d, keys %s, rules %s, change date %s, %s source, deletes %s, fact %s" % (
        s.scd_type, s.keys, s.rules, s.change_date, "history" if s.history else "snapshot", s.deletes, s.has_fact))


def main():
    rng = random.Random(SEED)
    total_failed = 0
    done = 0
    kinds = {}
    while done < COUNT:
        n = min(BATCH, COUNT - done)
        sequences, failed = run_batch(done, n, rng)
        for s in sequences:
            kind = "history" if s.history else ("type 1" if s.scd_type == 1 else "deletes " + s.deletes)
            kinds[kind] = kinds.get(kind, 0) + 1
        for s, step, problem in failed:
            total_failed += 1
            print("not ok - model: sequence %d (seed %d) at load %d: %s" % (s.n, SEED, step + 1,
                                                                         problem.splitlines()[0]))
            print("# " + describe(s))
            for line in problem.splitlines()[1:]:
                print("# " + line)
            for k, statements in enumerate(s.log):
                print("# source changes before load %d: %s" % (k + 1, " ".join(statements) or "none"))
        done += n
    print("# %d sequences: %s" % (COUNT, ", ".join("%d %s" % (v, k) for k, v in sorted(kinds.items()))))
    if total_failed == 0:
        print("ok - model: %d random sequences of loads equal the model after every load (seed %d)" % (COUNT, SEED))


main()
