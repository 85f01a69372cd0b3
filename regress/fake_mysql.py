#!/usr/bin/env python3
"""A MySQL server that lies, for the fault tests (regress/t/fake_mysql.sh).

It speaks just enough of the client/server protocol for Connector/C to
connect, then misbehaves in the way the user name asks for:

  clear          asks for mysql_clear_password and records what it gets
  badgreeting    a handshake of protocol version 9, cut short
  shortgreeting  a handshake packet that ends in the middle
  bigbit         a result column BIT(4294967295)
  bigdecimal     a DECIMAL column of length 4294967295, 255 decimals
  manycols       announces 65535 columns, sends 3, closes
  truncated      half a column definition, then closes
  shortrow       a row whose value claims more bytes than the packet has
  noname         a column without a name
  hugerow        a row value announced as 2^62 bytes long
  badtype        a column of type 250 whose rows hold garbage
  ok             an honest server: one INT column, two rows

Every other statement (SET, START TRANSACTION) gets OK; COM_STMT_PREPARE
gets an error.  Usage: fake_mysql.py PORT LOGFILE; it prints "ready" once
it listens, and appends one line per event to LOGFILE.
"""
import socket
import struct
import sys
import threading

PORT = int(sys.argv[1])
LOG = sys.argv[2]
lock = threading.Lock()


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


def read_packet(conn):
    header = b""
    while len(header) < 4:
        chunk = conn.recv(4 - len(header))
        if not chunk:
            return None, None
        header += chunk
    length = header[0] | header[1] << 8 | header[2] << 16
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None, None
        body += chunk
    return header[3], body


def lenenc_int(n):
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lenenc_str(s):
    if isinstance(s, str):
        s = s.encode()
    return lenenc_int(len(s)) + s


CAPS = (0x1 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000 | 0x200000)


def greeting(plugin=b"mysql_native_password"):
    scramble = b"abcdefgh" + b"ijklmnopqrst"
    return (bytes([10]) + b"5.5.5-10.11.99-fake\0" + struct.pack("<I", 42) +
            scramble[:8] + b"\0" + struct.pack("<H", CAPS & 0xFFFF) + bytes([45]) +
            struct.pack("<H", 2) + struct.pack("<H", CAPS >> 16) + bytes([21]) +
            b"\0" * 10 + scramble[8:] + b"\0" + plugin + b"\0")


def ok_packet():
    return b"\x00\x00\x00" + struct.pack("<HH", 2, 0)


def eof_packet():
    return b"\xfe" + struct.pack("<HH", 0, 2)


def error_packet(code, message):
    return b"\xff" + struct.pack("<H", code) + b"#HY000" + message.encode()


def column(name, col_type, length, decimals=0, flags=0, charset=63):
    return (lenenc_str("def") + lenenc_str("fake") + lenenc_str("t") + lenenc_str("t") +
            lenenc_str(name) + lenenc_str(name) + bytes([0x0C]) + struct.pack("<H", charset) +
            struct.pack("<I", length) + bytes([col_type]) + struct.pack("<H", flags) +
            bytes([decimals]) + b"\0\0")


def result_set(conn, columns, rows):
    seq = 1
    out = packet(seq, lenenc_int(len(columns)))
    for c in columns:
        seq += 1
        out += packet(seq, c)
    seq += 1
    out += packet(seq, eof_packet())
    for r in rows:
        seq += 1
        out += packet(seq, r)
    seq += 1
    out += packet(seq, eof_packet())
    conn.sendall(out)


MYSQL_TYPE_LONG, MYSQL_TYPE_BIT, MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_VAR_STRING = 3, 16, 246, 253


def answer_query(conn, scenario):
    if scenario == "bigbit":
        result_set(conn, [column("b", MYSQL_TYPE_BIT, 0xFFFFFFFF, flags=0x20)], [lenenc_str(b"\x01")])
    elif scenario == "bigdecimal":
        result_set(conn, [column("d", MYSQL_TYPE_NEWDECIMAL, 0xFFFFFFFF, decimals=255)],
                   [lenenc_str(b"1.5")])
    elif scenario == "manycols":
        out = packet(1, lenenc_int(65535))
        for i in range(3):
            out += packet(2 + i, column("c%d" % i, MYSQL_TYPE_LONG, 11))
        conn.sendall(out)
        return False
    elif scenario == "truncated":
        c = column("c", MYSQL_TYPE_LONG, 11)
        conn.sendall(packet(1, lenenc_int(1)) + struct.pack("<I", len(c))[:3] + b"\x02" + c[:7])
        return False
    elif scenario == "shortrow":
        result_set(conn, [column("s", MYSQL_TYPE_VAR_STRING, 40, charset=45)],
                   [lenenc_int(200) + b"only a few bytes"])
    elif scenario == "hugerow":
        result_set(conn, [column("s", MYSQL_TYPE_VAR_STRING, 40, charset=45)],
                   [b"\xfe" + struct.pack("<Q", 1 << 62) + b"x"])
    elif scenario == "noname":
        result_set(conn, [column("", MYSQL_TYPE_LONG, 11)], [lenenc_str(b"1")])
    elif scenario == "badtype":
        result_set(conn, [column("x", 250, 11), column("y", MYSQL_TYPE_LONG, 11)],
                   [lenenc_str(b"\xff\xfe") + lenenc_str(b"not a number")])
    else:
        result_set(conn, [column("id", MYSQL_TYPE_LONG, 11)], [lenenc_str(b"1"), lenenc_str(b"2")])
    return True


def serve(conn):
    try:
        conn.settimeout(20)
        conn.sendall(packet(0, greeting()))
        seq, body = read_packet(conn)
        if body is None:
            return
        user = body[32:body.index(b"\0", 32)].decode(errors="replace")
        log("connect %s" % user)
        if user == "badgreeting" or user == "shortgreeting":
            # a second handshake, as if the first never happened, cut short
            g = greeting()
            conn.sendall(packet(0, bytes([9]) + g[1:12]) if user == "badgreeting"
                         else struct.pack("<I", len(g))[:3] + b"\x00" + g[:20])
            return
        if user == "clear":
            conn.sendall(packet(seq + 1, b"\xfe" + b"mysql_clear_password\0"))
            seq, body = read_packet(conn)
            if body is None:
                log("clear: the client sent no password")
            else:
                log("clear: the client sent %r" % body)
                conn.sendall(packet(seq + 1, error_packet(1045, "Access denied")))
            return
        conn.sendall(packet(seq + 1, ok_packet()))
        while True:
            seq, body = read_packet(conn)
            if body is None or body[:1] == b"\x01":
                return
            if body[:1] == b"\x03":
                text = body[1:].decode(errors="replace")
                if "FROM fake" in text:
                    log("query %s: %s" % (user, text))
                    if not answer_query(conn, user):
                        return
                else:
                    conn.sendall(packet(1, ok_packet()))
            else:
                conn.sendall(packet(1, error_packet(1295, "not supported by the fake server")))
    except (OSError, ValueError) as e:
        log("connection error: %s" % e)
    finally:
        conn.close()


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
