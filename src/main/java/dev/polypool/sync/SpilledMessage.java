package dev.polypool.sync;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.graalvm.polyglot.HostAccess;

/**
 * A pipe message too large to cross as text: the sender wrote its bytes to a file (in
 * {@link SyncServices#transferDirectory()}), and the receiver reads the file and deletes it.
 * Text would cost more: GraalPy converts bytes to Latin-1 text and back at tens of
 * nanoseconds a byte.
 *
 * @param path   the file
 * @param length the message's length in bytes, which a receiver's size limit is checked against
 */
public record SpilledMessage(String path, long length) {
    /** The file's path, for the receiver. */
    @HostAccess.Export
    public String file() {
        return path;
    }

    /** Deletes the file of a message nobody will read; never throws. */
    void delete() {
        try {
            Files.deleteIfExists(Path.of(path));
        } catch (IOException | RuntimeException ignored) {
            // it lives in the transfer directory, which is deleted when the JVM exits
        }
    }
}
