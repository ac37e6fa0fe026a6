package dev.polypool.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The progress lines as the terminal receives them; the drawing thread is awaited, never timed. */
@Timeout(60)
class ProgressDisplayTest {
    private static final String ERASE = "\r\033[K";

    private static String text(ByteArrayOutputStream terminal) {
        synchronized (terminal) {
            return terminal.toString(StandardCharsets.UTF_8);
        }
    }

    private static void awaitText(ByteArrayOutputStream terminal, String part) throws InterruptedException {
        while (!text(terminal).contains(part)) {
            Thread.sleep(20);
        }
    }

    @Test
    void linesAreErasedAroundOutputAndFinishWhole() throws Exception {
        ByteArrayOutputStream terminal = new ByteArrayOutputStream();
        ConsoleSink err = new ConsoleSink(terminal);
        ConsoleSink out = new ConsoleSink(terminal);
        ProgressDisplay display = new ProgressDisplay(err);
        display.attach(out);
        ProgressDisplay.Bar bar = display.start("map(f)", 10);
        bar.advance(3);
        awaitText(terminal, "3/10");
        OutputStream worker = out.newLineStream();
        worker.write("a worker's line\n".getBytes(StandardCharsets.UTF_8));
        worker.flush();
        // the line is on a terminal line of its own: the progress line was erased before it
        assertTrue(text(terminal).contains("3/10") && text(terminal).contains(ERASE + "a worker's line\n"),
                text(terminal));
        bar.advance(7);
        bar.finish();
        String all = text(terminal);
        assertTrue(all.endsWith("\n"), "the final line stays, whole");
        String[] lines = all.split("\n");
        String last = lines[lines.length - 1];
        last = last.substring(last.lastIndexOf(ERASE) < 0 ? 0 : last.lastIndexOf(ERASE) + ERASE.length());
        assertTrue(last.matches("map\\(f\\) +10/10 100% \\[#{20}\\] [\\d.]+/s 0:0\\d"), last);
    }

    @Test
    void unknownTotalsShowTheCountAndNothingIsDrawnAfterAPartialLine() throws Exception {
        ByteArrayOutputStream terminal = new ByteArrayOutputStream();
        ConsoleSink err = new ConsoleSink(terminal);
        ProgressDisplay display = new ProgressDisplay(err);
        OutputStream program = err.newLineStream();
        ProgressDisplay.Bar bar = display.start("imap(g)", -1);
        bar.advance(5);
        awaitText(terminal, "imap(g)");
        String line = text(terminal).substring(text(terminal).lastIndexOf("imap(g)"));
        assertTrue(line.matches("imap\\(g\\) +5 [\\d.]+/s 0:0\\d"), line);
        program.write("prompt> ".getBytes(StandardCharsets.UTF_8));
        program.flush();
        int before = text(terminal).length();
        bar.advance(1);
        Thread.sleep(300); // three redraw ticks
        assertEquals(before, text(terminal).length(), "a partial line is left alone");
        bar.finish(); // its final line would land after the prompt: it is not written
        assertTrue(text(terminal).endsWith("prompt> "), text(terminal));
        display.close();
    }

    @Test
    void clockAndRate() {
        assertEquals("0:05", ProgressDisplay.clock(5.2));
        assertEquals("2:03", ProgressDisplay.clock(123));
        assertEquals("1:00:00", ProgressDisplay.clock(3600));
        assertEquals("12.5/s", ProgressDisplay.formatRate(12.5));
        assertEquals("1234/s", ProgressDisplay.formatRate(1234.4));
    }
}
