package dev.polypool.server;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

import dev.polypool.cli.Main;
import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.ProcessEnvironment;
import dev.polypool.io.ConsoleSink;

/**
 * The resident engine: one JVM per user and build that keeps the shared polyglot engine,
 * and the code it compiled, alive across runs of {@code bin/polypool}, which becomes a thin
 * client ({@code bin/lib/client.c}).
 *
 * <p>It listens on the Unix-domain socket {@code socket} in its directory, which must
 * belong to this user and be closed to everyone else (mode 0700); a connection from
 * another uid is refused (peer credentials). Each connection is one run of a program,
 * executed by {@link Main#run(String[], Main.Launch)} with the client's arguments,
 * working directory, environment and standard streams, in contexts of its own (see
 * {@link dev.polypool.engine.ProcessEnvironment}); or one control request
 * ({@code status}, {@code stop}, {@code retire}). Runs go on side by side.
 *
 * <p>The server holds the file lock {@code lock} in its directory while it listens, so
 * only one listens per directory. It exits after {@code POLYPOOL_SERVER_IDLE_TIMEOUT}
 * seconds without runs (default 900; 0 for never); it retires, finishing its runs but
 * taking no new ones, when asked to (a server of another build started: the directories
 * of the other {@code server-*} siblings are asked when this one starts), and after
 * {@code POLYPOOL_SERVER_MAX_RUNS} runs (default 1000; 0 for no limit), so that memory
 * that closed contexts keep cannot add up without bound. It writes its
 * log to stdout, which the client that started it points at {@code server.log}.
 *
 * <p>Usage: {@code Server DIRECTORY}.
 */
public final class Server {
    private static final long DEFAULT_IDLE_SECONDS = 900;
    /** The share of the heap that, still taken after a collection, retires the server. */
    static final double HEAP_RETIRE_FRACTION = 0.75;
    /** How long a killed run's program may take to stop. */
    static final long KILL_GRACE_MILLIS = 10_000;
    private static final java.util.concurrent.ScheduledExecutorService KILLS =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                    r -> Thread.ofPlatform().daemon(true).name("polypool-server-kills").unstarted(r));
    private static final int DEFAULT_MAX_RUNS = 1000;
    private static final int DEFAULT_SPARES = 2;

    private final Path dir;
    private final Path socketPath;
    private final long idleMillis;
    private final int maxRuns = envInt("POLYPOOL_SERVER_MAX_RUNS", DEFAULT_MAX_RUNS);
    private final UserPrincipal owner;
    private final FileLock lock;
    private final long startedAt = System.currentTimeMillis();
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger runs = new AtomicInteger();
    private final Spares spares = new Spares(envInt("POLYPOOL_SERVER_SPARES", DEFAULT_SPARES));
    private volatile long lastActivity = System.currentTimeMillis();
    private volatile boolean listening = true;
    private ServerSocketChannel listener;

    private Server(Path dir, long idleMillis, UserPrincipal owner, FileLock lock) {
        this.dir = dir;
        this.socketPath = dir.resolve("socket");
        this.idleMillis = idleMillis;
        this.owner = owner;
        this.lock = lock;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Server DIRECTORY");
            System.exit(2);
        }
        Path dir = Path.of(args[0]).toAbsolutePath();
        dev.polypool.cli.LogSetup.configure(System.getenv("POLYPOOL_LOG"), System.out, System.out);
        Path lockFile = dir.resolve("lock");
        FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        // the lock file is this process's own: its owner is this uid
        UserPrincipal owner = Files.getOwner(lockFile);
        String problem = directoryProblem(dir, owner);
        if (problem != null) {
            log(problem + "; not starting");
            System.exit(1);
        }
        FileLock lock = acquire(lockChannel);
        if (lock == null) {
            log("another server keeps listening in " + dir + "; not starting");
            System.exit(0);
        }
        Server server = new Server(dir, idleSeconds() * 1000, owner, lock);
        server.serve();
    }

    /** Waits a while for the lock: a server that retires releases it once it stops listening. */
    private static FileLock acquire(FileChannel channel) throws IOException, InterruptedException {
        for (int i = 0; i < 300; i++) {
            FileLock l = channel.tryLock();
            if (l != null) {
                return l;
            }
            Thread.sleep(100);
        }
        return null;
    }

    static String directoryProblem(Path dir, UserPrincipal owner) throws IOException {
        if (!Files.getOwner(dir).equals(owner)) {
            return dir + " belongs to another user";
        }
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
        if (!perms.equals(PosixFilePermissions.fromString("rwx------"))) {
            return dir + " is open to other users (mode " + PosixFilePermissions.toString(perms) + ", want rwx------)";
        }
        return null;
    }

    private static long idleSeconds() {
        return envInt("POLYPOOL_SERVER_IDLE_TIMEOUT", DEFAULT_IDLE_SECONDS);
    }

    /** A non-negative number from the environment, or {@code otherwise}. */
    private static int envInt(String name, long otherwise) {
        String v = System.getenv(name);
        if (v != null && !v.isBlank()) {
            try {
                return Math.max(0, Integer.parseInt(v.strip()));
            } catch (NumberFormatException e) {
                log("ignoring " + name + "=" + v + ": not a number");
            }
        }
        return (int) otherwise;
    }

    static void log(String message) {
        System.out.println(Instant.now() + " [" + ProcessHandle.current().pid() + "] " + message);
    }

    private void serve() throws IOException {
        // a socket left by a server that died (kill -9): nobody listens on it, we hold the lock
        Files.deleteIfExists(socketPath);
        listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listener.bind(UnixDomainSocketAddress.of(socketPath));
        Files.writeString(dir.resolve("pid"), ProcessHandle.current().pid() + "\n");
        log("listening on " + socketPath + " (idle timeout " + idleMillis / 1000 + " s)");
        retireOthers();
        Thread.ofPlatform().daemon(true).name("polypool-server-idle").start(this::watchIdle);
        watchHeap();
        // the first client's: it started this server from its working directory and environment.
        // One spare, the others once a run ends: on 2 cores a second spare made while the
        // young server's first run used the first one slowed that run down (the two-line script
        // 12.3-14.2 s against 10.8 s, server start included, measured on an idle machine)
        spares.prepare(new ProcessEnvironment(Path.of("").toAbsolutePath(), System.getenv()), 1);
        while (listening) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (IOException e) {
                if (listening) {
                    log("accept failed: " + e);
                }
                break;
            }
            // registered here, not in its thread: awaitSessionsThenExit must not miss it
            Session s = new Session(ch);
            sessions.add(s);
            lastActivity = System.currentTimeMillis();
            Thread.ofPlatform().name("polypool-session").start(() -> session(s));
        }
        awaitSessionsThenExit();
    }

    /** Asks the servers of other builds in the sibling directories to retire. */
    private void retireOthers() {
        Path parent = dir.getParent();
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(parent, "server-*")) {
            for (Path other : siblings) {
                if (!other.equals(dir) && Files.exists(other.resolve("socket"))) {
                    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(other.resolve("socket")))) {
                        Frames.Writer w = new Frames.Writer(output(ch));
                        w.send(Frames.CONTROL, "retire");
                        w.finish();
                        DataInputStream in = Frames.input(input(ch));
                        for (Frames.Frame f = Frames.read(in); f != null && f.type() != Frames.EXIT; f = Frames.read(in)) {
                            // its acceptance and its answer: "retiring"
                        }
                        log("asked the server in " + other + " to retire");
                    } catch (IOException e) {
                        // nobody listens there any more
                    }
                }
            }
        } catch (IOException e) {
            log("cannot list " + parent + ": " + e);
        }
    }

    /**
     * Retires this server when its heap stays more than {@link #HEAP_RETIRE_FRACTION} full
     * after a collection: what its runs keep (or a runaway run) is then no burden on the
     * next runs, which a fresh server takes.
     */
    private void watchHeap() {
        for (java.lang.management.MemoryPoolMXBean pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
            long max = pool.getUsage().getMax();
            if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.isCollectionUsageThresholdSupported()
                    && max > 0) {
                pool.setCollectionUsageThreshold((long) (max * HEAP_RETIRE_FRACTION));
            }
        }
        ((javax.management.NotificationEmitter) java.lang.management.ManagementFactory.getMemoryMXBean())
                .addNotificationListener((n, handback) -> {
                    if (java.lang.management.MemoryNotificationInfo.MEMORY_COLLECTION_THRESHOLD_EXCEEDED
                            .equals(n.getType()) && listening) {
                        log("the heap stays over " + (int) (HEAP_RETIRE_FRACTION * 100)
                                + "% full after collection: retiring");
                        stopListening();
                    }
                }, null, null);
    }

    private void watchIdle() {
        while (true) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            if (idleMillis > 0 && sessions.isEmpty() && System.currentTimeMillis() - lastActivity > idleMillis) {
                log("idle for " + idleMillis / 1000 + " s: exiting");
                stopListening();
                return;
            }
        }
    }

    /** Takes no new runs: the socket goes, the lock is released for a successor. */
    private synchronized void stopListening() {
        if (!listening) {
            return;
        }
        listening = false;
        spares.clear();
        try {
            Files.deleteIfExists(socketPath);
            listener.close();
            lock.release();
        } catch (IOException e) {
            log("closing the listener: " + e);
        }
    }

    private void awaitSessionsThenExit() {
        while (sessions.stream().anyMatch(s -> !s.stuck)) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                break;
            }
        }
        try {
            // unless a successor in this directory has written its own already
            Path pid = dir.resolve("pid");
            if (Files.readString(pid).strip().equals(Long.toString(ProcessHandle.current().pid()))) {
                Files.delete(pid);
            }
        } catch (IOException ignored) {
            // gone already, or the next server overwrites it
        }
        long stuck = sessions.size();
        log("exiting after " + runs.get() + " runs" + (stuck > 0 ? ", " + stuck + " of them stuck" : ""));
        if (stuck > 0) {
            Runtime.getRuntime().halt(0); // shutdown hooks would wait for the stuck programs
        }
        System.exit(0);
    }

    private void session(Session s) {
        try (SocketChannel ch = s.ch) {
            UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
            if (!peer.user().equals(owner)) {
                log("refused a connection from " + peer.user().getName());
                return;
            }
            s.writer.send(Frames.ACCEPTED, new byte[0]);
            s.serve();
            s.writer.finish();
        } catch (IOException | RuntimeException e) {
            log("session failed: " + e);
        } finally {
            sessions.remove(s);
            lastActivity = System.currentTimeMillis();
        }
    }

    private String status() {
        long rss = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException ignored) {
            // not Linux: no RSS figure
        }
        return "polypool server: pid " + ProcessHandle.current().pid()
                + (listening ? "" : " (retiring)")
                + ", up " + (System.currentTimeMillis() - startedAt) / 1000 + " s"
                + ", " + runs.get() + " runs, " + (sessions.size() - 1) + " running"
                + ", idle timeout " + (idleMillis == 0 ? "never" : idleMillis / 1000 + " s")
                + ", RSS " + rss + " MiB"
                + ", directory " + dir + "\n";
    }

    /** One connection: a run, or a control request. */
    private final class Session {
        private final SocketChannel ch;
        private final Frames.Writer writer;
        private final Object signalLock = new Object();
        private Main.Prepared program; // guarded by signalLock, as are pendingSignal and pendingKill
        private int pendingSignal;
        private int pendingKill = -1;
        private List<Integer> ignoredAtStart = List.of(); // signals the client started ignoring
        private byte[] tty = new byte[3]; // isatty() of the client's fds 0-2: 1 or 0
        private volatile boolean finished;
        private final java.util.concurrent.atomic.AtomicBoolean exitSent = new java.util.concurrent.atomic.AtomicBoolean();
        private final java.util.concurrent.atomic.AtomicBoolean killed = new java.util.concurrent.atomic.AtomicBoolean();
        /** Killed, yet its program still runs: code that polls no safepoint holds its thread. */
        private volatile boolean stuck;
        private int number;

        Session(SocketChannel ch) {
            this.ch = ch;
            this.writer = new Frames.Writer(output(ch));
        }

        void serve() throws IOException {
            DataInputStream in = Frames.input(input(ch));
            List<String> argv = List.of();
            Path cwd = null;
            Map<String, String> env = new HashMap<>();
            while (true) {
                Frames.Frame f = Frames.read(in);
                if (f == null) {
                    return;
                }
                switch (f.type()) {
                    case Frames.ARGV -> argv = f.strings();
                    case Frames.CWD -> cwd = Path.of(f.text());
                    case Frames.ENV -> {
                        for (String entry : f.strings()) {
                            int eq = entry.indexOf('=');
                            if (eq > 0) {
                                env.put(entry.substring(0, eq), entry.substring(eq + 1));
                            }
                        }
                    }
                    case Frames.TTY -> tty = f.payload();
                    case Frames.IGNORED -> ignoredAtStart = f.ints();
                    case Frames.CONTROL -> {
                        control(f.text());
                        return;
                    }
                    case Frames.GO -> {
                        run(in, argv, new ProcessEnvironment(cwd, env));
                        return;
                    }
                    default -> throw new IOException("unexpected frame " + (char) f.type());
                }
            }
        }

        private void control(String command) {
            switch (command) {
                case "status" -> {
                    writer.send(Frames.STDOUT, status());
                    writer.send(Frames.EXIT, Frames.intPayload(0));
                }
                case "stop", "retire" -> {
                    log(command + " requested");
                    writer.send(Frames.STDOUT, "polypool server " + ProcessHandle.current().pid()
                            + (command.equals("stop") ? " stopping\n" : " retiring\n"));
                    writer.send(Frames.EXIT, Frames.intPayload(0));
                    stopListening();
                    if (command.equals("stop")) {
                        for (Session s : sessions) {
                            s.signal(15);
                        }
                    }
                }
                default -> {
                    writer.send(Frames.STDERR, "polypool: unknown server command " + command + "\n");
                    writer.send(Frames.EXIT, Frames.intPayload(2));
                }
            }
        }

        /** Whether the client's fd {@code fd} (0, 1 or 2) is a terminal. */
        private boolean terminal(int fd) {
            return tty.length > fd && tty[fd] != 0;
        }

        private void run(DataInputStream in, List<String> argv, ProcessEnvironment environment) {
            int n = runs.incrementAndGet();
            number = n;
            RemoteStdin stdin = new RemoteStdin(writer);
            Thread.ofPlatform().daemon(true).name("polypool-client-" + n).start(() -> readClient(in, stdin));
            String[] args = argv.subList(Math.min(1, argv.size()), argv.size()).toArray(String[]::new);
            OutputStream out = writer.stream(Frames.STDOUT);
            OutputStream err = writer.stream(Frames.STDERR);
            int status;
            try {
                Spares.Spare spare = spares.take(environment);
                Main.Prepared prepared = spare == null ? null : spare.await();
                if (spare != null && prepared == null) {
                    spare.discard(); // making it failed (logged): its thread goes
                }
                boolean outTerminal = terminal(1);
                boolean errTerminal = terminal(2);
                if (prepared == null) {
                    ConsoleSink stdout = new ConsoleSink(out);
                    ConsoleSink stderr = new ConsoleSink(err);
                    stdout.reachesTerminal(outTerminal);
                    stderr.reachesTerminal(errTerminal);
                    status = Main.run(args, new Main.Launch(stdin, stdout, stderr, environment, this::started, null));
                } else {
                    spare.stdout.reachesTerminal(outTerminal);
                    spare.stderr.reachesTerminal(errTerminal);
                    spare.out.connect(out);
                    spare.err.connect(err);
                    spare.in.connect(stdin);
                    Main.Launch launch = new Main.Launch(spare.in, spare.stdout, spare.stderr, environment,
                            this::started, prepared);
                    boolean adopt = !spare.environment.equals(environment);
                    if (adopt) {
                        log("run " + n + ": a spare made for another directory or environment takes the run's");
                    }
                    status = spare.run(() -> {
                        if (adopt) {
                            prepared.adopt(environment);
                        }
                        return Main.run(args, launch);
                    });
                }
            } catch (IOException | RuntimeException | Error e) {
                log("run " + n + " failed: " + e);
                writer.send(Frames.STDERR, "polypool: internal error in the server: " + e + "\n");
                status = 1;
            }
            finished = true;
            stdin.close();
            if (maxRuns > 0 && n >= maxRuns) {
                // what closed contexts leave behind adds up (GraalPy issue #1083): a new
                // server, started by the next run, begins afresh. The socket goes before the
                // exit status does, so that this client's next run finds no socket to try.
                log(n + " runs: retiring (POLYPOOL_SERVER_MAX_RUNS)");
                stopListening();
            }
            sendExit(status);
            if (listening) {
                // the next run is most likely this one again, from the same shell
                spares.prepare(environment);
            }
        }

        private void started(Main.Prepared p) {
            int pending;
            int kill;
            synchronized (signalLock) {
                program = p;
                pending = pendingSignal;
                kill = pendingKill;
            }
            p.bridge().ignoreSignalsAtStart(ignoredAtStart);
            p.bridge().stdinIsTerminal(terminal(0));
            p.bridge().onUnresponsiveSignal(signum -> kill(Main.SIGNALLED | signum,
                    "its main thread did not take signal " + signum + " in time"));
            if (kill >= 0) {
                p.kill(kill);
            } else if (pending != 0) {
                p.bridge().raiseSignal(pending);
            }
        }

        void signal(int signum) {
            Main.Prepared p;
            synchronized (signalLock) {
                p = program;
                if (p == null) {
                    pendingSignal = signum;
                }
            }
            if (p != null) {
                p.bridge().raiseSignal(signum);
            }
        }

        private void sendExit(int status) {
            if (exitSent.compareAndSet(false, true)) {
                writer.send(Frames.EXIT, Frames.intPayload(status));
            }
        }

        /**
         * Ends the run as SIGKILL ends a process: the client (if still there) gets
         * {@code status} at once, the program's contexts are cancelled. A program that still
         * runs {@link #KILL_GRACE_MILLIS} later holds a thread that cannot be stopped, with
         * whatever memory it takes: this server then takes no new runs and exits once such
         * runs are all that is left (the next client starts a fresh one).
         */
        void kill(int status, String why) {
            if (finished || !killed.compareAndSet(false, true)) {
                return;
            }
            log("run " + number + ": ending it, " + why);
            sendExit(status);
            Main.Prepared p;
            synchronized (signalLock) {
                p = program;
                if (p == null) {
                    pendingKill = status;
                }
            }
            if (p != null) {
                p.kill(status);
            }
            KILLS.schedule(() -> {
                if (!finished) {
                    stuck = true;
                    log("run " + number + " does not stop: retiring, to exit once only such runs are left");
                    stopListening();
                }
            }, KILL_GRACE_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
        }

        private void readClient(DataInputStream in, RemoteStdin stdin) {
            try {
                while (true) {
                    Frames.Frame f = Frames.read(in);
                    if (f == null) {
                        break;
                    }
                    switch (f.type()) {
                        case Frames.STDIN -> stdin.deliver(f.payload());
                        case Frames.SIGNAL -> signal(f.intValue());
                        default -> throw new IOException("unexpected frame " + (char) f.type());
                    }
                }
            } catch (IOException | RuntimeException e) {
                // the connection broke: as if the client's terminal hung up
            }
            stdin.close();
            if (!finished) {
                // the client is gone (killed, or its terminal closed): so is the run, as if killed
                kill(128 + 9, "its client is gone");
            }
        }
    }

    // Streams over the channel's own read and write, which may proceed at the same time
    // from two threads (the streams of java.nio.channels.Channels serialise them).
    static InputStream input(SocketChannel ch) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return len == 0 ? 0 : ch.read(ByteBuffer.wrap(b, off, len));
            }
        };
    }

    static OutputStream output(SocketChannel ch) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
        };
    }
}
