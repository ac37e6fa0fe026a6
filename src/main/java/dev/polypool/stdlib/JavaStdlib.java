package dev.polypool.stdlib;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

import com.ibm.icu.lang.UCharacter;
import com.ibm.icu.lang.UProperty;

/**
 * Java back ends of stdlib modules that GraalPy 25.0 implements natively, published to each
 * context as {@code polyglot.import_value("polypool.stdlib")}.
 *
 * <p>GraalPy loads a native module ({@code .so}) into one context per process; polypool's
 * {@code pyexpat}, {@code _sqlite3} and {@code termios} modules and the {@code unicodedata} functions GraalPy
 * takes from its native {@code _cpython_unicodedata} call these methods instead, so they work
 * in the main program and in every worker. Each context has an instance of its own, which
 * keeps the SQLite databases the context opened and closes those still open when the context
 * ends ({@link #closeAll}), as a process's exit would. This class is thread-safe.
 */
public final class JavaStdlib {
    private final Set<SqliteDb> open = ConcurrentHashMap.newKeySet();

    private JavaStdlib() {
    }

    /** A new instance, for one context. */
    public static JavaStdlib forContext() {
        return new JavaStdlib();
    }

    /** Closes the databases the context left open: call once the context is closed. */
    public void closeAll() {
        for (SqliteDb db : open.toArray(new SqliteDb[0])) {
            db.close();
        }
    }

    /**
     * Parses one XML document with the JDK's SAX parser; see {@link SaxEvents}.
     *
     * @return null if the document is well-formed, else {@code [message, line, column]} of the
     *         first error (column 0-based, as expat counts)
     */
    @HostAccess.Export
    public Object[] parseXml(Value data, String encoding, String namespaceSeparator, boolean namespacePrefixes,
            boolean specifiedOnly, Value emit) {
        return SaxEvents.parse(data, encoding, namespaceSeparator, namespacePrefixes, specifiedOnly, emit);
    }

    /** {@code unicodedata.combining}: the canonical combining class of a code point. */
    @HostAccess.Export
    public int combining(int codePoint) {
        return UCharacter.getCombiningClass(codePoint);
    }

    private static final String[] EAST_ASIAN_WIDTHS = {"N", "A", "H", "F", "Na", "W"};

    /** {@code unicodedata.east_asian_width}: {@code N}, {@code A}, {@code H}, {@code F}, {@code Na} or {@code W}. */
    @HostAccess.Export
    public String eastAsianWidth(int codePoint) {
        return EAST_ASIAN_WIDTHS[UCharacter.getIntPropertyValue(codePoint, UProperty.EAST_ASIAN_WIDTH)];
    }

    /**
     * {@code unicodedata.lookup}: the code point of a character name or name alias (any case),
     * or -1.
     */
    @HostAccess.Export
    public int lookup(String name) {
        int cp = UCharacter.getCharFromName(name);
        return cp >= 0 ? cp : UCharacter.getCharFromNameAlias(name);
    }

    /**
     * {@code _sqlite3.connect}: opens a database with {@code sqlite3_open_v2}'s {@code flags};
     * see {@link SqliteDb} (check its {@code errorCode()}).
     */
    @HostAccess.Export
    public SqliteDb sqliteOpen(String file, int flags, int busyTimeoutMillis) {
        return SqliteDb.open(file, flags, busyTimeoutMillis, open);
    }

    /** The terminal calls of polypool's {@code termios} module. */
    @HostAccess.Export
    public Termios termios() {
        return Termios.get();
    }

    /** {@code sqlite3.complete_statement}. */
    @HostAccess.Export
    public boolean sqliteComplete(String sql) {
        return SqlText.complete(sql);
    }

    /** The SQLite library's version, {@code 3.x.y}. */
    @HostAccess.Export
    public String sqliteVersion() throws java.sql.SQLException {
        SqliteDb d = SqliteDb.open(":memory:", 6, 0, null);
        try {
            return d.libVersion();
        } finally {
            d.close();
        }
    }

    /** SQLite's result codes and their names, flat: code, name, code, name... */
    @HostAccess.Export
    public Object[] sqliteErrorNames() {
        return SqliteDb.errorNames();
    }
}
