package dev.polypool.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class ConsoleSinkTest {

    @Test
    void linesFromConcurrentWritersStayWhole() throws Exception {
        ByteArrayOutputStream target = new ByteArrayOutputStream();
        ConsoleSink sink = new ConsoleSink(target);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            String word = "writer" + t;
            OutputStream s = sink.newLineStream();
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 500; i++) {
                        // one line in three pieces, as print() writes text, then "\n"
                        s.write((word + "-").getBytes(StandardCharsets.UTF_8));
                        s.write(Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                        s.write('\n');
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        String[] lines = target.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(2000, lines.length);
        for (String line : lines) {
            assertTrue(line.matches("writer[0-3]-\\d+"), "torn line: " + line);
        }
    }

    @Test
    void partialLineWaitsForFlush() throws IOException {
        ByteArrayOutputStream target = new ByteArrayOutputStream();
        OutputStream s = new ConsoleSink(target).newLineStream();
        s.write("a\nb".getBytes(StandardCharsets.UTF_8));
        assertEquals("a\n", target.toString(StandardCharsets.UTF_8));
        s.flush();
        assertEquals("a\nb", target.toString(StandardCharsets.UTF_8));
    }
}
