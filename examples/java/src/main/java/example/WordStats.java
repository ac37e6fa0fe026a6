package example;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import dev.polypool.PythonException;
import dev.polypool.PythonFunction;
import dev.polypool.PythonPool;

/** Runs Python functions over a list of documents on a pool of Python workers. */
public final class WordStats {
    public static void main(String[] args) throws Exception {
        Path pythonDir = Path.of(args.length > 0 ? args[0] : "src/main/python");
        List<String> documents = List.of(
                "The quick brown fox jumps over the lazy dog. The dog sleeps.",
                "To be, or not to be, that is the question.",
                "It was the best of times, it was the worst of times.");
        PythonFunction<Long> wordCount = PythonFunction.of("wordstats:word_count").returning(Long.class);

        try (PythonPool pool = PythonPool.builder().workers(2).sourceDirectory(pythonDir).build()) {
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
