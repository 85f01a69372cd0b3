#!/usr/bin/env python3
"""Writes random calls of every pypeline function, for regress/t/fuzz.sh.

Input (stdin): one line per function, "name|argument types|returns set",
as fuzz.sh reads them from pg_proc.  Output: one SQL statement per line.
Arguments are drawn from pools per type: NULL, empty and huge strings,
hostile identifiers, names of ETLs and servers that exist, odd numbers,
odd JSON.  Usage: fuzz_calls.py SEED CALLS_PER_FUNCTION.
"""
import random
import sys

seed, per_function = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)


def lit(s):
    return "'" + s.replace("'", "''") + "'"


TEXT = ["NULL", "''", lit("x" * 100000), lit('"; DROP TABLE fz_victim; --'), lit("a'b\\c"),
        lit("dimension"), lit("fact"), lit("fz_dim"), lit("fz_fact"), lit("fz_other"),
        lit("SELECT 1 AS id"), lit("SELECT id, name FROM fz_src"), lit("/*! DROP TABLE x */ SELECT 1"),
        lit("SELECT 1; SELECT 2"), lit("fz.\"odd name\""), lit("ÿ\u00e9\u4e2d"), lit("regress_mysql"),
        lit("src"), lit("* * * * *"), lit("CREATE TABLE fz_dim (id int)"), lit("%s%n%x")]
TYPES = {
    "text": TEXT,
    "name": TEXT,
    "boolean": ["NULL", "true", "false"],
    "bigint": ["NULL", "0", "-1", "1", "9223372036854775807", "(SELECT max(id) FROM pypeline.task)"],
    "integer": ["NULL", "0", "-1", "2", "2147483647"],
    "numeric": ["NULL", "'NaN'", "-1", "0.5", "2", "1e300"],
    "interval": ["NULL", "'0'", "'-1 day'", "'10 ms'"],
    "date": ["NULL", "'infinity'", "'-infinity'", "'2020-01-01'", "'4713-01-01 BC'"],
    "timestamp with time zone": ["NULL", "'infinity'", "'-infinity'", "'2020-01-01'"],
    "text[]": ["NULL", "'{}'", "'{NULL}'", "'{\"\"}'", "'{id}'", "'{id,id}'",
               "(SELECT array_agg(i::text) FROM generate_series(1, 2000) i)"],
    "jsonb": ["NULL", "'{}'", "'[]'", "'null'", "'\"x\"'", "'{\"name\": null}'", "'{\"fz_dim\": \"id\"}'",
              "'{\"fz_dim\": [\"id\", \"id\"]}'", "'{\"fz_dim\": {\"a\": 1}}'", "'{\"id\": \"type1\"}'",
              "'{\"name\": \"fz_dim\", \"kind\": \"dimension\", \"delete_existing_table\": true}'",
              "'{\"run_dimensions\": true, \"run_facts\": true, \"delete_existing_tables\": false, \"max_parallel_etls\": 9999}'",
              "(SELECT jsonb_agg(i) FROM generate_series(1, 5000) i)"],
    "oid": ["NULL", "0", "1", "4294967295"],
}

for line in sys.stdin:
    name, args, returns_set = line.rstrip("\n").split("|")
    types = [t for t in args.split(",") if t] if args else []
    for _ in range(per_function):
        values = ", ".join(rng.choice(TYPES.get(t, ["NULL"])) + "::" + t for t in types)
        call = "pypeline.%s(%s)" % (name, values)
        if name == "query":
            print("SELECT count(*) FROM %s AS t(a text);" % call)
        elif returns_set == "t":
            print("SELECT count(*) FROM %s;" % call)
        else:
            print("SELECT %s IS NULL;" % call)
