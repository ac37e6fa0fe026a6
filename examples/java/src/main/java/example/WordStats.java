package example;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import dev.polypool.PythonException;
import dev.polypool.PythonFunction;
import dev.polypool.PythonPool;

/**
 * Runs Python functions over a list of documents on a pool of Python workers: in this JVM,
 * or, with {@code POLYPOOL_CLUSTER=HOST:PORT[,HOST:PORT...]} set, on the members of a polypool
 * cluster ({@code bin/polypool --member}; {@code POLYPOOL_CLUSTER_NAME} and
 * {@code POLYPOOL_CLUSTER_SECRET} as the members have them).
 */
public final class WordStats {
    public static void main(String[] args) throws Exception {
        Path pythonDir = Path.of(args.length > 0 ? args[0] : "src/main/python");
        List<String> documents = List.of(
                "The quick brown fox jumps over the lazy dog. The dog sleeps.",
                "To be, or not to be, that is the question.",
                "It was the best of times, it was the worst of times.");
        PythonFunction<Long> wordCount = PythonFunction.of("wordstats:word_count").returning(Long.class);

        PythonPool.Builder builder = PythonPool.builder().workers(2).sourceDirectory(pythonDir);
        String cluster = System.getenv("POLYPOOL_CLUSTER");
        if (cluster != null && !cluster.isBlank()) {
            List<InetSocketAddress> members = new ArrayList<>();
            for (String member : cluster.split(",")) {
                int colon = member.lastIndexOf(':');
                members.add(new InetSocketAddress(member.substring(0, colon).strip(),
                        Integer.parseInt(member.substring(colon + 1).strip())));
            }
            String name = System.getenv("POLYPOOL_CLUSTER_NAME");
            String secret = System.getenv("POLYPOOL_CLUSTER_SECRET");
            // the same pool, its two workers on the members; wordstats.py goes to them by content
            builder.cluster(members, name == null ? "polypool" : name, secret == null ? "" : secret);
        }

        try (PythonPool pool = builder.build()) {
            // one call per document, in parallel; results in input order
            List<Long> counts = pool.map(wordCount, documents);
            System.out.println("word counts: " + counts);

            // a single call; a Python list of tuples comes back as a List of Lists
            CompletableFuture<List> top = pool.submit(PythonFunction.of("wordstats:top_words").returning(List.class),
                    documents.get(0), 2);
            System.out.println("most common in document 0: " + top.get());

            // a Python exception arrives as a PythonException
            try {
                pool.submit("wordstats:check", "").get();
            } catch (ExecutionException e) {
                PythonException py = (PythonException) e.getCause();
                System.out.println("Python raised " + py.pythonType() + ": " + py.pythonMessage());
            }
        }
    }
}
