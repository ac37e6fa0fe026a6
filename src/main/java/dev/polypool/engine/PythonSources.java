package dev.polypool.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The Python half of polypool: the {@code .py} resources under {@code dev/polypool/python/},
 * made importable by GraalPy contexts.
 *
 * <p>GraalPy imports from a file system, not from the class path, so the resources are
 * copied once into a cache directory named after a hash of their content; later runs of
 * the same build find the directory ready. Concurrent first runs are safe: each writes into
 * a private temporary directory and moves it into place atomically.
 */
final class PythonSources {
    private static final String ROOT = "dev/polypool/python/";

    private PythonSources() {
    }

    /**
     * Returns a directory to put on {@code sys.path}, holding the {@code polypool} package.
     *
     * @throws UncheckedIOException if the resources cannot be read or the cache written
     */
    static Path directory() {
        Map<String, byte[]> files = readResources();
        Path cache = cacheRoot().resolve("python-" + digest(files));
        if (Files.isDirectory(cache)) {
            return cache;
        }
        try {
            Files.createDirectories(cache.getParent());
            Path tmp = Files.createTempDirectory(cache.getParent(), "tmp-");
            for (Map.Entry<String, byte[]> e : files.entrySet()) {
                Path target = tmp.resolve(e.getKey());
                Files.createDirectories(target.getParent());
                Files.write(target, e.getValue());
            }
            try {
                Files.move(tmp, cache, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
                deleteTree(tmp);
            }
            return cache;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack polypool's Python sources into " + cache, e);
        }
    }

    /** The per-user cache root: {@code $POLYPOOL_CACHE}, else {@code $XDG_CACHE_HOME/polypool}, else {@code ~/.cache/polypool}. */
    static Path cacheRoot() {
        String explicit = System.getenv("POLYPOOL_CACHE");
        if (explicit != null && !explicit.isEmpty()) {
            return Path.of(explicit);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("polypool");
    }

    private static Map<String, byte[]> readResources() {
        Map<String, byte[]> files = new TreeMap<>();
        try {
            Path location = Path.of(PythonSources.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(location)) {
                Path root = location.resolve(ROOT);
                try (Stream<Path> walk = Files.walk(root)) {
                    for (Path p : (Iterable<Path>) walk.filter(PythonSources::isSource)::iterator) {
                        files.put(root.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
                    }
                }
            } else {
                try (JarFile jar = new JarFile(location.toFile())) {
                    var entries = jar.entries();
                    while (entries.hasMoreElements()) {
                        var entry = entries.nextElement();
                        String name = entry.getName();
                        if (!entry.isDirectory() && name.startsWith(ROOT) && name.endsWith(".py")) {
                            try (InputStream in = jar.getInputStream(entry)) {
                                files.put(name.substring(ROOT.length()), in.readAllBytes());
                            }
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read polypool's Python sources", e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate polypool's code source", e);
        }
        if (files.isEmpty()) {
            throw new IllegalStateException("polypool's Python sources are missing from " + ROOT);
        }
        return files;
    }

    private static boolean isSource(Path p) {
        return Files.isRegularFile(p) && p.getFileName().toString().endsWith(".py");
    }

    private static String digest(Map<String, byte[]> files) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, byte[]> e : files.entrySet()) {
                md.update(e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                md.update((byte) 0);
                md.update(e.getValue());
            }
            return HexFormat.of().formatHex(md.digest(), 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
