"""The clients the randomized tests drive: the MariaDB and psql command lines.

run() feeds a script to a client and returns its output and errors;
mysql() runs statements as root on the harness's MariaDB (pypeline_regress)
and raises on any error; psql_command() is psql in unaligned mode, NULL
printed as NULL, on a database.
"""
import subprocess


def run(args, text):
    p = subprocess.run(args, input=text, capture_output=True, text=True, timeout=600)
    return p.stdout, p.stderr


def mysql(socket, text):
    out, err = run(["mariadb", "--no-defaults", "--socket=" + socket, "-uroot", "-N", "-B",
                    "pypeline_regress"], text)
    if err.strip():
        raise RuntimeError("MariaDB: " + err.strip())
    return out


def psql_command(database, stop_on_error):
    return ["psql", "-X", "-q", "-At", "-F", "|", "-P", "null=NULL",
            "-v", "ON_ERROR_STOP=%d" % (1 if stop_on_error else 0), "-d", database]
