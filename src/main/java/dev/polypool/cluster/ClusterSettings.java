package dev.polypool.cluster;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.logging.Level;
import java.util.logging.Logger;

import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.JavaSerializationFilterConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;

import dev.polypool.engine.ProcessEnvironment;

/**
 * What members and scripts agree on: the cluster's name and secret, and the Hazelcast
 * configuration both sides use. Members find each other by TCP/IP on explicit addresses only
 * (multicast and auto-detection off), Hazelcast phones nobody home, and its logging is quiet:
 * warnings and worse from a member, nothing from a script unless {@code POLYPOOL_TRACE} is set.
 *
 * @param name   {@code POLYPOOL_CLUSTER_NAME}, the Hazelcast cluster name
 * @param secret {@code POLYPOOL_CLUSTER_SECRET}, the key of the handshake ({@link Handshake}); may be empty
 */
public record ClusterSettings(String name, String secret) {
    /** The port a member listens on when none is given. */
    public static final int DEFAULT_PORT = 5701;
    /** The executor every request runs on. */
    static final String EXECUTOR = "polypool";
    // kept: java.util.logging holds its loggers weakly, and a collected one forgets its level
    private static final Logger HAZELCAST_LOG = Logger.getLogger("com.hazelcast");

    public ClusterSettings {
        Objects.requireNonNull(name);
        Objects.requireNonNull(secret);
        if (name.isBlank()) {
            throw new IllegalArgumentException("POLYPOOL_CLUSTER_NAME is empty");
        }
    }

    /** The settings of {@code POLYPOOL_CLUSTER_NAME} (default {@code polypool}) and {@code POLYPOOL_CLUSTER_SECRET}. */
    public static ClusterSettings fromEnvironment(ProcessEnvironment env) {
        String name = env.getenv("POLYPOOL_CLUSTER_NAME");
        String secret = env.getenv("POLYPOOL_CLUSTER_SECRET");
        return new ClusterSettings(name == null || name.isBlank() ? "polypool" : name.strip(),
                secret == null ? "" : secret);
    }

    /**
     * Parses {@code HOST:PORT[,HOST:PORT...]}; a missing port is {@link #DEFAULT_PORT}.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static List<InetSocketAddress> parseAddresses(String text) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String part : text.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            out.add(parseAddress(p));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no address in '" + text + "'");
        }
        return out;
    }

    /** Parses one {@code HOST[:PORT]}, or {@code [V6ADDRESS][:PORT]}. */
    public static InetSocketAddress parseAddress(String text) {
        String host = text;
        String portText = null;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            String rest = close < 0 ? "" : text.substring(close + 1);
            if (close < 0 || !rest.isEmpty() && !rest.startsWith(":")) {
                throw new IllegalArgumentException("bad address '" + text + "'");
            }
            host = text.substring(1, close);
            portText = rest.isEmpty() ? null : rest.substring(1);
        } else if (text.indexOf(':') >= 0 && text.indexOf(':') == text.lastIndexOf(':')) {
            host = text.substring(0, text.indexOf(':'));
            portText = text.substring(text.indexOf(':') + 1);
        }
        int port = DEFAULT_PORT;
        if (portText != null) {
            try {
                port = Integer.parseInt(portText);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad port in '" + text + "'");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port out of range in '" + text + "'");
            }
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("no host in '" + text + "'");
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

    static String format(InetSocketAddress a) {
        String host = a.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /** Quietens Hazelcast's own logging (java.util.logging): {@code level} and worse only. */
    static void quietLogging(Level level) {
        HAZELCAST_LOG.setLevel(level);
    }

    /** The configuration of a member that listens on {@code listen} and joins {@code join}. */
    Config memberConfig(InetSocketAddress listen, List<InetSocketAddress> join, int executorThreads) {
        Config c = new Config();
        c.setClusterName(name);
        common(c::setProperty);
        c.setProperty("hazelcast.socket.bind.any", "false");
        c.setProperty("hazelcast.local.localAddress", listen.getHostString());
        NetworkConfig net = c.getNetworkConfig();
        net.setPort(listen.getPort()).setPortAutoIncrement(false);
        JoinConfig j = net.getJoin();
        j.getMulticastConfig().setEnabled(false);
        j.getAutoDetectionConfig().setEnabled(false);
        j.getTcpIpConfig().setEnabled(true);
        j.getTcpIpConfig().addMember(format(listen));
        for (InetSocketAddress a : join) {
            j.getTcpIpConfig().addMember(format(a));
        }
        c.getExecutorConfig(EXECUTOR).setPoolSize(executorThreads);
        c.getSerializationConfig().addDataSerializableFactory(Requests.FACTORY_ID, new Requests.Factory());
        c.getSerializationConfig().setJavaSerializationFilterConfig(javaSerializationFilter());
        return c;
    }

    /** The configuration of a script's client of the members at {@code addresses}. */
    ClientConfig clientConfig(List<InetSocketAddress> addresses, long connectTimeoutMillis) {
        ClientConfig c = new ClientConfig();
        c.setClusterName(name);
        common(c::setProperty);
        for (InetSocketAddress a : addresses) {
            c.getNetworkConfig().addAddress(format(a));
        }
        c.getConnectionStrategyConfig().getConnectionRetryConfig()
                .setClusterConnectTimeoutMillis(connectTimeoutMillis)
                .setInitialBackoffMillis(200).setMaxBackoffMillis(1000);
        c.getSerializationConfig().addDataSerializableFactory(Requests.FACTORY_ID, new Requests.Factory());
        c.getSerializationConfig().setJavaSerializationFilterConfig(javaSerializationFilter());
        return c;
    }

    /**
     * Every request and reply is an IdentifiedDataSerializable, and the values in them are
     * types Hazelcast serializes itself, so polypool needs no Java deserialization; what
     * Hazelcast might deserialize, on either side, is limited to its default prefixes (the
     * JDK's and its own classes) and polypool's cluster package: no library's gadget chain is
     * reachable through it.
     */
    private static JavaSerializationFilterConfig javaSerializationFilter() {
        JavaSerializationFilterConfig filter = new JavaSerializationFilterConfig();
        filter.getWhitelist().addPrefixes("dev.polypool.cluster.");
        return filter;
    }

    private static void common(java.util.function.BiConsumer<String, String> property) {
        property.accept("hazelcast.logging.type", "jdk");
        property.accept("hazelcast.phone.home.enabled", "false");
        property.accept("hazelcast.shutdownhook.enabled", "false");
    }
}
