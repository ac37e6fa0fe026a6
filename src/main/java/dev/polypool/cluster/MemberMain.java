package dev.polypool.cluster;

import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;

import dev.polypool.engine.PolyglotRuntime;
import dev.polypool.engine.ProcessEnvironment;
import dev.polypool.engine.Trace;

/**
 * {@code bin/polypool --member [--listen HOST:PORT] [--join HOST:PORT,...] [--workers N]}: a
 * Hazelcast member that runs the tasks of scripts started with {@code POLYPOOL_CLUSTER}, in
 * the foreground until SIGTERM or Ctrl-C, logging to stderr. It listens on {@code --listen}
 * (default {@code 127.0.0.1:5701}), joins the members of {@code --join} by TCP/IP, and counts
 * {@code --workers} workers (default: its processors) towards a pool with no size. Joining a
 * cluster whose members have another {@code POLYPOOL_CLUSTER_SECRET} fails at once.
 */
public final class MemberMain {
    private MemberMain() {
    }

    /**
     * The options of {@code --member}.
     *
     * @param listen  where to listen
     * @param join    the other members to join
     * @param workers the member's workers
     */
    public record Options(InetSocketAddress listen, List<InetSocketAddress> join, int workers) {
        /**
         * Parses the options that follow {@code --member}.
         *
         * @throws IllegalArgumentException naming the bad option
         */
        public static Options parse(List<String> args) {
            InetSocketAddress listen = InetSocketAddress.createUnresolved("127.0.0.1", ClusterSettings.DEFAULT_PORT);
            List<InetSocketAddress> join = new ArrayList<>();
            int workers = Runtime.getRuntime().availableProcessors();
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                String option = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
                String value;
                if (a.contains("=")) {
                    value = a.substring(a.indexOf('=') + 1);
                } else if (i + 1 < args.size()) {
                    value = args.get(++i);
                } else {
                    throw new IllegalArgumentException("polypool --member: " + a + " needs a value");
                }
                switch (option) {
                    case "--listen" -> listen = address(option, () -> List.of(ClusterSettings.parseAddress(value))).get(0);
                    case "--join" -> join.addAll(address(option, () -> ClusterSettings.parseAddresses(value)));
                    case "--workers" -> {
                        try {
                            workers = Integer.parseInt(value);
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("polypool --member: --workers takes a number, not '"
                                    + value + "'");
                        }
                        if (workers < 1) {
                            throw new IllegalArgumentException("polypool --member: --workers must be at least 1");
                        }
                    }
                    default -> throw new IllegalArgumentException("polypool --member: unknown option " + option);
                }
            }
            return new Options(listen, List.copyOf(join), workers);
        }

        private static List<InetSocketAddress> address(String option, java.util.function.Supplier<List<InetSocketAddress>> parse) {
            try {
                return parse.get();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("polypool --member: " + option + ": " + e.getMessage());
            }
        }
    }

    /** A running member: its Hazelcast instance and the service of its requests. */
    public static final class Running implements AutoCloseable {
        private final HazelcastInstance hz;
        private final MemberService service;
        private final PrintStream log;

        private Running(HazelcastInstance hz, MemberService service, PrintStream log) {
            this.hz = hz;
            this.service = service;
            this.log = log;
        }

        /** The members of its cluster, itself included. */
        public int members() {
            return hz.getCluster().getMembers().size();
        }

        /** Stops as a killed member does: no goodbye to the cluster. */
        public void crash() {
            hz.getLifecycleService().terminate();
            service.closeAll();
        }

        /** Closes its slots and leaves the cluster. */
        @Override
        public void close() {
            service.closeAll();
            try {
                hz.shutdown();
            } catch (RuntimeException ignored) {
                // stopping anyway
            }
            log.println("polypool member: stopped");
        }
    }

    /**
     * Starts a member and checks, with the handshake, that the cluster it joined has its
     * secret.
     *
     * @param cache where program files are kept
     * @throws ClusterClient.Refused if the cluster's members have another secret, or the
     *                               member cannot start (its address is in use, say)
     */
    public static Running start(Options options, ClusterSettings settings, Path cache, PrintStream log)
            throws ClusterClient.Refused {
        ClusterSettings.quietLogging(Trace.ENABLED ? Level.INFO : Level.WARNING);
        String where = ClusterSettings.format(options.listen());
        MemberService service = new MemberService(settings, PolyglotRuntime.get(), options.workers(),
                where + " (" + options.workers() + " workers)", cache, log);
        // requests block an executor thread while their task runs: room for many slots
        Config config = settings.memberConfig(options.listen(), options.join(), Math.max(64, 16 * options.workers()));
        service.install(config);
        HazelcastInstance hz;
        try {
            hz = Hazelcast.newHazelcastInstance(config);
        } catch (RuntimeException e) {
            throw new ClusterClient.Refused("cannot start on " + where + ": " + e.getMessage());
        }
        Member self = hz.getCluster().getLocalMember();
        for (Member m : hz.getCluster().getMembers()) {
            if (m.localMember()) {
                continue;
            }
            String other = m.getAddress().getHost() + ":" + m.getAddress().getPort();
            try {
                ClusterClient.handshake(hz.getExecutorService(ClusterSettings.EXECUTOR), m, self.getUuid().toString(),
                        settings.secret(), other);
            } catch (ClusterClient.Refused e) {
                hz.shutdown(); // leaving at once: the others need not find out that it is gone
                throw new ClusterClient.Refused("refused by the cluster '" + settings.name() + "': " + e.getMessage());
            }
            break; // each member did the same check against the cluster as it joined
        }
        hz.getClientService().addClientListener(new com.hazelcast.client.ClientListener() {
            @Override
            public void clientConnected(com.hazelcast.client.Client c) {
            }

            @Override
            public void clientDisconnected(com.hazelcast.client.Client c) {
                service.clientGone(c.getUuid().toString());
            }
        });
        hz.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent e) {
                log.println("polypool member: " + describe(e.getMember()) + " joined; members: " + e.getMembers().size());
            }

            @Override
            public void memberRemoved(MembershipEvent e) {
                log.println("polypool member: " + describe(e.getMember()) + " left; members: " + e.getMembers().size());
            }
        });
        if (settings.secret().isEmpty() && !isLoopback(options.listen())) {
            log.println("polypool member: warning: no POLYPOOL_CLUSTER_SECRET: whoever reaches " + where
                    + " can run code here");
        }
        log.println("polypool member: listening on " + where + ", cluster '" + settings.name() + "', "
                + options.workers() + " workers; members: " + hz.getCluster().getMembers().size());
        return new Running(hz, service, log);
    }

    /**
     * Runs a member until the JVM is told to stop; returns only if it cannot start.
     *
     * @return the exit status: 1 if the member could not start or was refused
     */
    public static int run(Options options, ProcessEnvironment env, PrintStream log) {
        ClusterSettings settings;
        try {
            settings = ClusterSettings.fromEnvironment(env);
            PolyglotRuntime.get();
        } catch (IllegalArgumentException | IllegalStateException e) {
            log.println("polypool member: " + e.getMessage());
            return 1;
        }
        String cacheRoot = env.getenv("POLYPOOL_CACHE");
        Path cache = (cacheRoot != null && !cacheRoot.isBlank() ? Path.of(cacheRoot)
                : Path.of(System.getProperty("user.home"), ".cache", "polypool")).resolve("cluster");
        Running member;
        try {
            member = start(options, settings, cache, log);
        } catch (ClusterClient.Refused e) {
            log.println("polypool member: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            member.close();
            stopped.countDown();
        }, "polypool-member-stop"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private static String describe(Member m) {
        return "member " + m.getAddress().getHost() + ":" + m.getAddress().getPort();
    }

    private static boolean isLoopback(InetSocketAddress a) {
        String h = a.getHostString();
        return h.equals("localhost") || h.startsWith("127.") || h.equals("::1");
    }
}
