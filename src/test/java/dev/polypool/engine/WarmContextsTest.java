package dev.polypool.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import dev.polypool.io.ConsoleSink;

@Timeout(300)
class WarmContextsTest {

    @Test
    void takenContextsAreReadyWorkersAndAreReplaced() throws Exception {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        ConsoleSink sink = new ConsoleSink(printed);
        WarmContexts warm = new WarmContexts(PolyglotRuntime.get(), List.of("prog.py", "arg"), sink, sink, 1, null);
        try {
            WarmContexts.Prepared first = warm.take();
            WarmContexts.Prepared second = warm.take();
            assertNotSame(first.context(), second.context());
            for (WarmContexts.Prepared p : List.of(first, second)) {
                assertTrue(p.worker().getMember("start").canExecute());
                // the context's sys.argv is the program's, and its output goes to the sink
                p.context().eval("python", "import sys; print('argv', sys.argv)");
                p.out().flush();
                // cancel, as a worker does: a context made on one thread and used on another
                // must not wait in Python's shutdown for the thread that made it
                p.context().close(true);
            }
            assertEquals("argv ['prog.py', 'arg']\nargv ['prog.py', 'arg']\n", printed.toString());
        } finally {
            warm.close();
        }
    }

    @Test
    void templateIsLoadedIntoEveryContextBeforeItIsTaken() throws Exception {
        ConsoleSink sink = new ConsoleSink(new ByteArrayOutputStream());
        String template = "{\"modules\": [\"colorsys\", \"no_such_module_here\"]}";
        WarmContexts warm = new WarmContexts(PolyglotRuntime.get(), List.of("prog.py"), sink, sink, 1, null, template);
        try {
            for (int i = 0; i < 2; i++) { // the ready one, then one made by the taker
                WarmContexts.Prepared p = warm.take();
                try {
                    assertTrue(p.context().eval("python", "import sys; 'colorsys' in sys.modules").asBoolean());
                } finally {
                    p.close();
                }
            }
        } finally {
            warm.close();
        }
    }
}
