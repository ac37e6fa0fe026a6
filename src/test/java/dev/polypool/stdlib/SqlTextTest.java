package dev.polypool.stdlib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

class SqlTextTest {
    @Test
    void statementEndsAtTheFirstSemicolonOutsideQuotesAndComments() {
        String sql = "  -- c; d\n insert into \"a;b\" values ('x;y', [c;d], `e;f`) /* ; */ ; select 2";
        SqlText.Statement st = SqlText.scan(sql, 0);
        assertEquals(sql.indexOf("insert"), st.start);
        assertEquals(sql.indexOf("; select") + 1, st.end);
        assertTrue(st.terminated);
        assertEquals(SqlText.DML, st.kind);
        SqlText.Statement next = SqlText.scan(sql, st.end);
        assertEquals(SqlText.QUERY, next.kind);
        assertFalse(next.terminated);
        assertEquals(-1, SqlText.scan(sql, next.end).start);
    }

    @Test
    void triggerBodyKeepsItsSemicolons() {
        String sql = "CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN UPDATE x SET a = 1; DELETE FROM y; END; SELECT 1";
        SqlText.Statement st = SqlText.scan(sql, 0);
        assertEquals(sql.indexOf("END;") + 4, st.end);
        assertTrue(SqlText.complete("create trigger t after insert on x begin select 1; end;"));
        assertFalse(SqlText.complete("create trigger t after insert on x begin select 1;"));
    }

    @Test
    void parametersAreNumberedAsSqliteNumbersThem() {
        SqlText.Statement st = SqlText.scan("select ?, :a, ?5, @b, :a, $c, ?, ':no'", 0);
        assertEquals(Arrays.asList(null, ":a", null, null, null, "@b", "$c", null), st.parameters);
    }

    @Test
    void transactionKeywords() {
        assertEquals(SqlText.BEGIN, SqlText.scan("begin immediate", 0).kind);
        assertEquals(SqlText.COMMIT, SqlText.scan("END TRANSACTION", 0).kind);
        assertEquals(SqlText.ROLLBACK, SqlText.scan("rollback", 0).kind);
        assertEquals(SqlText.ROLLBACK_TO, SqlText.scan("ROLLBACK TRANSACTION TO sp", 0).kind);
        SqlText.Statement release = SqlText.scan("release savepoint \"Sp 1\"", 0);
        assertEquals(SqlText.RELEASE, release.kind);
        assertEquals("Sp 1", release.name);
        assertEquals(SqlText.QUERY, SqlText.scan("with c as (select 1) select * from c", 0).kind);
        assertEquals(SqlText.OTHER, SqlText.scan("with c as (select 1) insert into t select * from c", 0).kind);
    }

    @Test
    void complete() {
        assertTrue(SqlText.complete("select 1;"));
        assertTrue(SqlText.complete("select ';' ; -- done"));
        assertFalse(SqlText.complete("select 1"));
        assertFalse(SqlText.complete("select 'a;"));
        assertFalse(SqlText.complete("  -- only a comment"));
    }
}
