"""Stdlib modules that GraalPy implements in native code, used in the main program and in every
worker at once, under each start method and with workers replaced after each task.

XML parsing (``pyexpat``: ElementTree, minidom, sax, plistlib, xmlrpc), ``hashlib.sha3_*`` and
``unicodedata`` work in every context on polypool (its ``pyexpat`` runs on the JDK's SAX parser,
the native part of ``unicodedata`` on ICU4J; GraalPy's ``_sha3`` is Java). ``sqlite3`` is still GraalPy's native ``_sqlite3``, which loads into one
context per JVM: its tests run on CPython only until polypool has a Java-backed ``_sqlite3``.
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


def sqlite_shared(path, i):
    """Adds one row to a database file that several workers write to."""
    import sqlite3
    con = sqlite3.connect(path, timeout=TIMEOUT)
    with con:
        con.execute("insert into shared(worker, n) values (?, ?)", (os.getpid(), i))
    con.close()
    return i


@unittest.skipIf(ON_POLYPOOL, "GraalPy's _sqlite3 is native code, which loads in one context "
                              "per JVM (issue 16: needs a Java-backed _sqlite3)")
class SqliteInWorkers(unittest.TestCase):
    def test_private_connections(self):
        expected = [sqlite_private(i) for i in range(3)]
        self.assertEqual(expected[0], [(1, 0, "0;1", ["k", "t3", "p"]), (2, 3, "2;0", ["k", "t3", "p"])])
        for method in METHODS:
            with self.subTest(method=method):
                with multiprocessing.get_context(method).Pool(2, maxtasksperchild=1) as pool:
                    got = pool.map_async(sqlite_private, range(3), chunksize=1).get(TIMEOUT)
                self.assertEqual(got, expected)

    def test_file_shared_by_workers(self):
        import sqlite3
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "shared.db")
            con = sqlite3.connect(path)
            con.execute("create table shared(worker, n)")
            con.commit()
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                done = pool.starmap_async(sqlite_shared, [(path, i) for i in range(10)]).get(TIMEOUT)
            self.assertEqual(done, list(range(10)))
            self.assertEqual(sorted(n for (n,) in con.execute("select n from shared")), list(range(10)))
            con.close()


if __name__ == "__main__":
    unittest.main()
