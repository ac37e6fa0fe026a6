"""Stdlib modules that GraalPy implements in native code, used in the main program and in every
worker at once, under each start method and with workers replaced after each task.

XML parsing (``pyexpat``: ElementTree, minidom, sax, plistlib, xmlrpc), ``hashlib.sha3_*``,
``unicodedata``, ``sqlite3`` and ``termios`` work in every context on polypool (its ``pyexpat``
runs on the JDK's SAX parser, the native part of ``unicodedata`` on ICU4J, its ``_sqlite3`` on
sqlite-jdbc, its ``termios`` on the C library through the JDK's foreign function interface;
GraalPy's ``_sha3`` is Java).
"""

import hashlib
import io
import multiprocessing
import os
import tempfile
import unittest

from extensions import ON_POLYPOOL
from hang_guard import TIMEOUT, bounded

METHODS = ("fork", "spawn", "forkserver")

DOC = ('<?xml version="1.0" encoding="utf-8"?><!-- note --><root xmlns:a="urn:a" n="{i}">'
       '<a:item a:k="1">x&amp;y<![CDATA[<raw>]]></a:item><b>\u00e9</b><?target data?></root>')


def parse_everywhere(i):
    """What each XML front end of the stdlib makes of DOC (and of a broken document)."""
    import plistlib
    import xml.dom.minidom
    import xml.etree.ElementTree as ET
    import xml.sax
    import xmlrpc.client
    doc = DOC.format(i=i)
    root = ET.fromstring(doc)
    tree = (root.tag, root.attrib, [(c.tag, c.attrib, c.text) for c in root])
    events = [(event, element.tag) for event, element in
              ET.iterparse(io.BytesIO(doc.encode()), events=("start", "end"))]
    try:
        ET.fromstring("<a><b></a>")
        error = None
    except ET.ParseError as e:
        error = (e.code, e.position, str(e))
    dom = xml.dom.minidom.parseString(doc).documentElement.toxml()

    class Collect(xml.sax.ContentHandler):
        def __init__(self):
            super().__init__()
            self.seen = []

        def startElement(self, name, attrs):
            self.seen.append(("start", name, dict(attrs)))

        def endElement(self, name):
            self.seen.append(("end", name))

        def characters(self, content):
            self.seen.append(("text", content))

    handler = Collect()
    xml.sax.parseString(doc.encode(), handler)
    plist = plistlib.loads(plistlib.dumps({"n": i, "items": [1.5, "s", True], "raw": b"\x00"}))
    rpc = xmlrpc.client.loads(xmlrpc.client.dumps((i, "two", [3.0]), "method"))
    return tree, events, error, dom, handler.seen, plist, rpc


def sha3_everywhere(i):
    data = b"polypool" * i
    return [hashlib.sha3_224(data).hexdigest(), hashlib.sha3_256(data).hexdigest(),
            hashlib.sha3_384(data).digest(), hashlib.sha3_512(data).hexdigest(),
            hashlib.new("sha3_256", data).hexdigest(), hashlib.shake_256(data).hexdigest(64)]


def unicodedata_everywhere(i):
    """The functions of unicodedata that GraalPy has as native code, and one that it has not."""
    import unicodedata
    chars = ["a", "\u0301", "\u4e00", "\uff21", "\u00e9", "\u20a9", "\u0e49", chr(0x1F600 + i)]
    names = ["LATIN SMALL LETTER A", "latin capital letter gha", "CJK UNIFIED IDEOGRAPH-4E00",
             "HANGUL SYLLABLE GA"]
    try:
        unicodedata.lookup("NO SUCH NAME")
        missing = None
    except KeyError as e:
        missing = str(e)
    return ([(unicodedata.combining(c), unicodedata.east_asian_width(c), unicodedata.category(c))
             for c in chars], [unicodedata.lookup(n) for n in names], missing)


def pid_and_xml(i):
    return os.getpid(), parse_everywhere(i)


class _NativeInWorkers:
    method = None

    @classmethod
    def setUpClass(cls):
        cls.ctx = multiprocessing.get_context(cls.method)
        cls.pool = cls.ctx.Pool(2)

    @classmethod
    def tearDownClass(cls):
        cls.pool.terminate()
        bounded(cls.pool.join)

    def test_xml_in_main_and_workers(self):
        # the main program parses first, so that a module that loads once per process is taken
        expected = [parse_everywhere(i) for i in range(4)]
        self.assertEqual(expected[0][2][0], 7)  # mismatched tag
        self.assertEqual(expected[1][0][0], "root")
        got = self.pool.map_async(parse_everywhere, range(4), chunksize=1).get(TIMEOUT)
        self.assertEqual(got, expected)

    def test_sha3_in_main_and_workers(self):
        expected = [sha3_everywhere(i) for i in range(4)]
        self.assertEqual(expected[0][1], "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")
        got = self.pool.map_async(sha3_everywhere, range(4), chunksize=1).get(TIMEOUT)
        self.assertEqual(got, expected)

    def test_unicodedata_in_main_and_workers(self):
        expected = [unicodedata_everywhere(i) for i in range(3)]
        self.assertEqual(expected[0][0][:2], [(0, "Na", "Ll"), (230, "A", "Mn")])
        self.assertEqual(expected[0][1][1], "\u01a2")
        got = self.pool.map_async(unicodedata_everywhere, range(3), chunksize=1).get(TIMEOUT)
        self.assertEqual(got, expected)

    def test_xml_with_workers_replaced_after_each_task(self):
        n = 8
        with self.ctx.Pool(2, maxtasksperchild=1) as pool:
            got = pool.map_async(pid_and_xml, range(n), chunksize=1).get(TIMEOUT)
        self.assertEqual([r for _, r in got], [parse_everywhere(i) for i in range(n)])
        # one task per worker: n different workers did the work
        self.assertEqual(len({pid for pid, _ in got}), n)


class NativeFork(_NativeInWorkers, unittest.TestCase):
    method = "fork"


class NativeSpawn(_NativeInWorkers, unittest.TestCase):
    method = "spawn"


class NativeForkserver(_NativeInWorkers, unittest.TestCase):
    method = "forkserver"


# --- sqlite3 ---

def sqlite_private(i):
    """A connection of the worker's own: a transaction, Row, an adapter, a function."""
    import sqlite3

    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    sqlite3.register_adapter(Point, lambda p: f"{p.x};{p.y}")
    con = sqlite3.connect(":memory:")
    con.row_factory = sqlite3.Row
    con.create_function("triple", 1, lambda v: v * 3)
    with con:
        con.execute("create table t(k integer primary key, v, p)")
        con.executemany("insert into t(v, p) values (?, ?)", [(i, Point(i, 1)), (i + 1, Point(2, i))])
    try:
        with con:
            con.execute("insert into t(v) values (99)")
            raise ValueError("roll back")
    except ValueError:
        pass
    rows = con.execute("select k, triple(v) as t3, p from t order by k").fetchall()
    con.close()
    return [(r["k"], r["t3"], r[2], r.keys()) for r in rows]


def sqlite_file(directory, i):
    """A database file of the task's own: rows in, a rollback, converters, rows out."""
    import sqlite3
    path = os.path.join(directory, f"task{i}.db")
    sqlite3.register_converter("pair", lambda b: tuple(int(x) for x in b.split(b",")))
    con = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)
    con.execute("create table t(n integer, s text, f real, b blob, p pair)")
    con.executemany("insert into t values (?, ?, ?, ?, ?)",
                    ((k, f"s{k}", k / 4, bytes([k % 256]) * 3, f"{k},{i}") for k in range(200)))
    con.commit()
    con.execute("delete from t where n >= 100")
    in_transaction = con.in_transaction
    con.rollback()
    con.close()
    con = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)
    rows = con.execute("select * from t where n in (0, 7, 199) order by n").fetchall()
    count, = con.execute("select count(*) from t").fetchone()
    con.close()
    return in_transaction, count, rows


def sqlite_writer(path, worker, rows):
    """Appends rows to a file other writers append to, a transaction per row (each waits its turn)."""
    import sqlite3
    con = sqlite3.connect(path, timeout=TIMEOUT, isolation_level=None)
    for n in range(rows):
        # the write lock first: the count and the insert are one step for the other writers
        con.execute("begin immediate")
        last, = con.execute("select count(*) from shared").fetchone()
        con.execute("insert into shared(worker, n, seen) values (?, ?, ?)", (worker, n, last))
        con.execute("commit")
    con.close()
    return worker


def sqlite_errors(i):
    """The exception types and error names of a few failures."""
    import sqlite3
    con = sqlite3.connect(":memory:")
    con.execute("create table t(k primary key)")
    con.execute("insert into t values (1)")
    seen = []
    for sql, params in [("insert into t values (?)", (1,)), ("select * from nowhere", ()),
                        ("select ?", (1, 2)), ("select 1; select 2", ())]:
        try:
            con.execute(sql, params)
        except sqlite3.Error as e:
            seen.append((type(e).__name__, getattr(e, "sqlite_errorname", None)))
    con.close()
    return seen


def sqlite_raise(i):
    import sqlite3
    con = sqlite3.connect(":memory:")
    con.execute("create table t(k primary key)")
    con.execute("insert into t values (1)")
    con.execute("insert into t values (1)")


def pid_and_sqlite(i):
    return os.getpid(), sqlite_private(i)


ERRORS = [("IntegrityError", "SQLITE_CONSTRAINT_PRIMARYKEY"), ("OperationalError", "SQLITE_ERROR"),
          ("ProgrammingError", None), ("ProgrammingError", None)]


def termios_everywhere(i):
    """termios and what imports it at its own import (tty, getpass), used on a file that is no terminal."""
    import errno
    import getpass
    import termios
    import tty
    with tempfile.TemporaryFile() as f:
        try:
            termios.tcgetattr(f.fileno())
            failure = None
        except termios.error as e:
            failure = e.args[0] in (errno.ENOTTY, errno.EBADF)
    return termios.TCSANOW, termios.ECHO, callable(tty.setraw), callable(getpass.getpass), failure


class _SqliteInWorkers:
    method = None

    @classmethod
    def setUpClass(cls):
        cls.ctx = multiprocessing.get_context(cls.method)
        cls.pool = cls.ctx.Pool(2)

    @classmethod
    def tearDownClass(cls):
        cls.pool.terminate()
        bounded(cls.pool.join)

    def test_private_connections_in_main_and_workers(self):
        import sqlite3
        expected = [sqlite_private(i) for i in range(4)]
        self.assertEqual(expected[0], [(1, 0, "0;1", ["k", "t3", "p"]), (2, 3, "2;0", ["k", "t3", "p"])])
        # the main program keeps a connection open while the workers use theirs
        con = sqlite3.connect(":memory:")
        con.execute("create table m(x)")
        con.execute("insert into m values (1)")
        got = self.pool.map_async(sqlite_private, range(4), chunksize=1).get(TIMEOUT)
        self.assertEqual(got, expected)
        self.assertTrue(con.in_transaction)
        self.assertEqual(con.execute("select x from m").fetchall(), [(1,)])
        con.close()

    def test_a_file_per_task(self):
        with tempfile.TemporaryDirectory() as tmp:
            got = self.pool.starmap_async(sqlite_file, [(tmp, i) for i in range(4)], chunksize=1).get(TIMEOUT)
        for i, (in_transaction, count, rows) in enumerate(got):
            self.assertTrue(in_transaction)
            self.assertEqual(count, 200)
            self.assertEqual(rows, [(0, "s0", 0.0, b"\0\0\0", (0, i)), (7, "s7", 1.75, b"\7\7\7", (7, i)),
                                    (199, "s199", 49.75, b"\xc7\xc7\xc7", (199, i))])

    def test_file_shared_by_concurrent_writers(self):
        import sqlite3
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "shared.db")
            con = sqlite3.connect(path)
            con.execute("create table shared(worker, n, seen)")
            con.commit()
            writers, rows = 4, 25
            done = self.pool.starmap_async(sqlite_writer, [(path, w, rows) for w in range(writers)],
                                           chunksize=1).get(TIMEOUT)
            self.assertEqual(done, list(range(writers)))
            # each transaction saw every row committed before it: no write was lost or interleaved
            seen = [s for (s,) in con.execute("select seen from shared order by rowid")]
            self.assertEqual(seen, list(range(writers * rows)))
            per_worker = con.execute("select worker, count(*), max(n) from shared group by worker").fetchall()
            self.assertEqual(per_worker, [(w, rows, rows - 1) for w in range(writers)])
            con.close()

    def test_errors_have_cpythons_types(self):
        import sqlite3
        self.assertEqual(sqlite_errors(0), ERRORS)
        self.assertEqual(self.pool.map_async(sqlite_errors, range(2)).get(TIMEOUT), [ERRORS, ERRORS])
        with self.assertRaises(sqlite3.IntegrityError) as cm:
            self.pool.apply_async(sqlite_raise, (0,)).get(TIMEOUT)
        self.assertEqual(str(cm.exception), "UNIQUE constraint failed: t.k")

    def test_termios_in_main_and_workers(self):
        expected = termios_everywhere(0)
        self.assertEqual(expected, (0, 8, True, True, True))
        self.assertEqual(self.pool.map_async(termios_everywhere, range(2)).get(TIMEOUT), [expected] * 2)

    def test_workers_replaced_after_each_task(self):
        n = 8
        with self.ctx.Pool(2, maxtasksperchild=1) as pool:
            # a bound per worker start, which takes seconds on polypool under load
            got = pool.map_async(pid_and_sqlite, range(n), chunksize=1).get(TIMEOUT * n / 4)
        self.assertEqual([r for _, r in got], [sqlite_private(i) for i in range(n)])
        self.assertEqual(len({pid for pid, _ in got}), n)


class SqliteFork(_SqliteInWorkers, unittest.TestCase):
    method = "fork"

    def test_workers_replaced_many_times(self):
        # each replaced worker opened SQLite afresh: GraalPy's native _sqlite3 crashed the JVM here
        n = 30
        with self.ctx.Pool(2, maxtasksperchild=1) as pool:
            got = pool.map_async(pid_and_sqlite, range(n), chunksize=1).get(TIMEOUT * n / 4)
        self.assertEqual([r for _, r in got], [sqlite_private(i) for i in range(n)])
        self.assertEqual(len({pid for pid, _ in got}), n)


class SqliteSpawn(_SqliteInWorkers, unittest.TestCase):
    method = "spawn"


class SqliteForkserver(_SqliteInWorkers, unittest.TestCase):
    method = "forkserver"


class SqliteSemantics(unittest.TestCase):
    """What programs rely on, in one process: transactions, Row, adapters, converters, errors."""

    def setUp(self):
        import sqlite3
        self.sqlite3 = sqlite3
        self.con = sqlite3.connect(":memory:")
        self.addCleanup(self.con.close)

    def test_implicit_transactions_and_rollback(self):
        con = self.con
        con.execute("create table t(x)")
        self.assertFalse(con.in_transaction)
        con.execute("insert into t values (1)")
        self.assertTrue(con.in_transaction)
        con.rollback()
        self.assertFalse(con.in_transaction)
        self.assertEqual(con.execute("select count(*) from t").fetchone(), (0,))
        con.execute("insert into t values (2)")
        con.commit()
        con.isolation_level = None
        con.execute("insert into t values (3)")
        self.assertFalse(con.in_transaction)
        con.execute("begin")
        con.execute("savepoint a")
        con.execute("insert into t values (4)")
        con.execute("rollback to a")
        self.assertTrue(con.in_transaction)
        con.execute("commit")
        self.assertFalse(con.in_transaction)
        self.assertEqual(con.execute("select x from t order by x").fetchall(), [(2,), (3,)])

    def test_cursor_attributes(self):
        con = self.con
        cur = con.execute("create table t(a integer primary key, b)")
        self.assertIsNone(cur.description)
        cur.executemany("insert into t(b) values (?)", [("x",), ("y",), ("z",)])
        self.assertEqual(cur.rowcount, 3)
        cur.execute("insert into t(b) values (:b)", {"b": "w"})
        self.assertEqual((cur.rowcount, cur.lastrowid), (1, 4))
        cur.execute("select a, b as bee from t order by a")
        self.assertEqual([d[0] for d in cur.description], ["a", "bee"])
        self.assertEqual(cur.rowcount, -1)
        self.assertEqual(cur.fetchone(), (1, "x"))
        cur.arraysize = 2
        self.assertEqual(cur.fetchmany(), [(2, "y"), (3, "z")])
        self.assertEqual(list(cur), [(4, "w")])
        self.assertIsNone(cur.fetchone())
        self.assertIs(cur.connection, con)

    def test_types_and_affinity(self):
        con = self.con
        con.execute("create table t(i integer, r real, s text, b blob, n)")
        con.execute("insert into t values (?, ?, ?, ?, ?)", ("12", 3, 4.5, bytearray(b"\x00\xff"), None))
        con.execute("insert into t values (?, ?, ?, ?, ?)", (2 ** 62, 2.0, "\u00e9\U0001f600", memoryview(b"ab"), 7))
        rows = con.execute("select i, typeof(i), r, typeof(r), s, b, n from t").fetchall()
        self.assertEqual(rows, [(12, "integer", 3.0, "real", "4.5", b"\x00\xff", None),
                                (2 ** 62, "integer", 2.0, "real", "\u00e9\U0001f600", b"ab", 7)])
        with self.assertRaises(OverflowError):
            con.execute("select ?", (2 ** 63,))
        with self.assertRaises(self.sqlite3.ProgrammingError):
            con.execute("select ?", (object(),))
        con.text_factory = bytes
        self.assertEqual(con.execute("select s from t").fetchall(), [(b"4.5",), ("\u00e9\U0001f600".encode(),)])

    def test_row_factory(self):
        con = self.con
        con.row_factory = self.sqlite3.Row
        row = con.execute("select 1 as One, 'two' as two").fetchone()
        self.assertEqual((row[0], row["one"], row["TWO"], row.keys(), len(row)), (1, 1, "two", ["One", "two"], 2))
        self.assertEqual(row, con.execute("select 1 as One, 'two' as two").fetchone())
        self.assertEqual(hash(row), hash(con.execute("select 1 as One, 'two' as two").fetchone()))
        with self.assertRaises(IndexError):
            row["three"]
        con.row_factory = lambda cursor, r: {d[0]: v for d, v in zip(cursor.description, r)}
        self.assertEqual(con.execute("select 1 as a").fetchall(), [{"a": 1}])

    def test_adapters_and_converters(self):
        import datetime
        sqlite3 = self.sqlite3
        con = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES)
        self.addCleanup(con.close)

        class Money:
            def __init__(self, cents):
                self.cents = cents

            def __conform__(self, protocol):
                if protocol is sqlite3.PrepareProtocol:
                    return f"{self.cents}c"

        sqlite3.register_converter("money", lambda b: int(b[:-1]))
        self.addCleanup(sqlite3.converters.pop, "MONEY")
        con.execute("create table t(m money, d)")
        con.execute("insert into t values (?, ?)", (Money(250), "2020-01-02"))
        self.assertEqual(con.execute("select m from t").fetchone(), (250,))
        self.assertEqual(con.execute("select d as \"d [money]\" from t").description[0][0], "d")
        sqlite3.register_adapter(datetime.date, lambda d: d.isoformat())
        self.addCleanup(sqlite3.adapters.pop, (datetime.date, sqlite3.PrepareProtocol))
        self.assertEqual(con.execute("select ?", (datetime.date(2021, 3, 4),)).fetchone(), ("2021-03-04",))
        self.assertEqual(sqlite3.adapt(Money(5)), "5c")

    def test_functions_aggregates_collations(self):
        con = self.con

        class Total:
            def __init__(self):
                self.n = 0

            def step(self, v):
                self.n += v

            def finalize(self):
                return self.n

        con.create_function("rev", 1, lambda s: s[::-1], deterministic=True)
        con.create_aggregate("total", 1, Total)
        con.create_collation("backwards", lambda a, b: (a < b) - (a > b))
        con.execute("create table t(s)")
        con.executemany("insert into t values (?)", [("ab",), ("cd",), ("b",)])
        self.assertEqual(con.execute("select rev(s) from t order by s collate backwards").fetchall(),
                         [("dc",), ("b",), ("ba",)])
        self.assertEqual(con.execute("select total(length(s)) from t").fetchone(), (5,))
        con.create_function("boom", 0, lambda: 1 / 0)
        with self.assertRaisesRegex(self.sqlite3.OperationalError, "user-defined function raised exception"):
            con.execute("select boom()")

    def test_executescript_iterdump_backup(self):
        import sqlite3
        con = self.con
        con.executescript("""
            create table t(x text);  -- a comment; with a semicolon
            insert into t values ('a;b');
            create trigger tr after insert on t begin insert into t values ('trig;ger'); end;
        """)
        self.assertEqual(con.execute("select x from t").fetchall(), [("a;b",)])
        dump = list(con.iterdump())
        self.assertEqual(dump[0], "BEGIN TRANSACTION;")
        self.assertIn("INSERT INTO \"t\" VALUES('a;b');", dump)
        copy = sqlite3.connect(":memory:")
        self.addCleanup(copy.close)
        con.backup(copy)
        self.assertEqual(copy.execute("select x from t").fetchall(), [("a;b",)])
        self.assertTrue(sqlite3.complete_statement("select ';';"))
        self.assertFalse(sqlite3.complete_statement("create trigger tr after insert on t begin select 1;"))

    def test_errors(self):
        sqlite3 = self.sqlite3
        for exc in (sqlite3.InterfaceError, sqlite3.DatabaseError):
            self.assertTrue(issubclass(exc, sqlite3.Error))
        for exc in (sqlite3.DataError, sqlite3.OperationalError, sqlite3.IntegrityError,
                    sqlite3.InternalError, sqlite3.ProgrammingError, sqlite3.NotSupportedError):
            self.assertTrue(issubclass(exc, sqlite3.DatabaseError))
        self.assertEqual(sqlite_errors(0), ERRORS)
        with self.assertRaisesRegex(sqlite3.ProgrammingError, "closed database"):
            closed = sqlite3.connect(":memory:")
            closed.close()
            closed.execute("select 1")
        with self.assertRaises(sqlite3.OperationalError):
            sqlite3.connect(os.path.join(tempfile.gettempdir(), "no", "such", "dir", "x.db"))

    def test_blob(self):
        con = self.con
        con.execute("create table t(b blob)")
        con.execute("insert into t values (zeroblob(8))")
        with con.blobopen("t", "b", 1) as blob:
            blob.write(b"abc")
            blob.seek(6)
            blob.write(b"yz")
            blob.seek(0)
            self.assertEqual((blob.read(4), len(blob), blob[7]), (b"abc\0", 8, ord("z")))
        self.assertEqual(con.execute("select b from t").fetchone(), (b"abc\0\0\0yz",))


if __name__ == "__main__":
    unittest.main()
