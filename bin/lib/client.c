/*
 * polypool's thin client: runs one program on the resident engine (dev.polypool.server.Server),
 * starting the server first when none listens. bin/polypool compiles it at first use.
 *
 *   polypool-client DIR N SERVER-COMMAND(N words) PROGRAM-ARGS...
 *
 * DIR is the server's directory (socket, lock, pid, server.log). It forwards the program's
 * arguments, the working directory, the environment and the isatty() of fds 0-2, answers the
 * server's requests for stdin (one read(2) each, so nothing is read ahead), copies the
 * program's stdout and stderr to fds 1 and 2, forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * (and says which of them it was started ignoring: the program starts ignoring those too, as
 * CPython does, yet may handle them later), and exits with the program's status.
 * PROGRAM-ARGS "--server status|stop|start" control the server instead. A connection the
 * server closes before its first frame (it stopped listening meanwhile) is made again. The
 * frame format is documented in dev.polypool.server.Frames.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *dir;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int sig_pipe[2];
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "polypool: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static int try_connect(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, sock_path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    close(fd);
    return -1;
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return; /* the reader went away; the program's status still matters */
        }
        p += n;
        len -= (size_t)n;
    }
}

static int send_frame(int fd, char type, const void *payload, uint32_t len) {
    unsigned char header[5] = {(unsigned char)type, len >> 24, len >> 16, len >> 8, len};
    const char *p = (const char *)header;
    size_t left = 5;
    for (int part = 0; part < 2; part++) {
        while (left > 0) {
            ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                return -1;
            }
            p += n;
            left -= (size_t)n;
        }
        p = payload;
        left = len;
    }
    return 0;
}

static int read_full(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void on_signal(int signum) {
    unsigned char b = (unsigned char)signum;
    int saved = errno;
    (void)!write(sig_pipe[1], &b, 1);
    errno = saved;
}

static long server_pid(void) {
    char path[4200], buf[32] = {0};
    snprintf(path, sizeof path, "%s/pid", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? atol(buf) : -1;
}

/* Starts the server detached: its own session, stdin /dev/null, stdout and stderr the log,
 * no other descriptor of ours (a server holding CI's pipes open would keep CI waiting). */
static pid_t spawn_server(char **command) {
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/server.log", dir);
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0) die("fork: %s", strerror(errno));
    if (child == 0) {
        setsid();
        pid_t server = fork();
        if (server != 0) {
            (void)!write(report[1], &server, sizeof server);
            _exit(0);
        }
        int in = open("/dev/null", O_RDONLY);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || log < 0) _exit(127);
        dup2(in, 0);
        dup2(log, 1);
        dup2(log, 2);
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = 3; fd < (max > 0 ? max : 1024); fd++) close((int)fd);
        signal(SIGHUP, SIG_IGN);
        execvp(command[0], command);
        _exit(127);
    }
    pid_t server = -1;
    close(report[1]);
    if (read_full(report[0], &server, sizeof server) < 0) server = -1;
    close(report[0]);
    waitpid(child, NULL, 0);
    return server;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Connects, starting a server when none listens (one client at a time starts it). */
static int connect_or_start(char **command) {
    int fd = try_connect();
    if (fd >= 0) return fd;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) die("cannot create %s", dir);
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s/start.lock", dir);
    int lock = open(lock_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) < 0) die("cannot lock %s", lock_path);
    fd = try_connect();
    if (fd < 0) {
        pid_t server = spawn_server(command);
        const char *t = getenv("POLYPOOL_SERVER_START_TIMEOUT");
        double deadline = now() + (t && *t ? atof(t) : 600);
        while ((fd = try_connect()) < 0) {
            if (server <= 0 || (kill(server, 0) < 0 && errno == ESRCH)) {
                /* it exited; a retiring server of this directory may still be handing over */
                if ((fd = try_connect()) >= 0) break;
                fprintf(stderr, "polypool: the polypool server failed to start; see %s/server.log "
                        "(POLYPOOL_SERVER=0 runs without it)\n", dir);
                exit(1);
            }
            if (now() > deadline) {
                fprintf(stderr, "polypool: the polypool server did not start listening in time; see %s/server.log\n",
                        dir);
                exit(1);
            }
            usleep(20000);
        }
    }
    close(lock);
    return fd;
}

/* Whether a session took the connection: the server's first frame says so. A connection that
 * ends before it waited in the backlog of a server that then stopped listening. */
static int accepted(int fd) {
    unsigned char header[5];
    return read_full(fd, header, 5) == 0 && header[0] == 'K' && be32(header + 1) == 0;
}

/* Appends the NUL-terminated strings to a growing buffer. */
static char *pack(char **strings, int count, uint32_t *len) {
    size_t total = 0;
    for (int i = 0; i < count; i++) total += strlen(strings[i]) + 1;
    char *buf = malloc(total ? total : 1), *p = buf;
    if (!buf) die("%s", "out of memory");
    for (int i = 0; i < count; i++) {
        size_t n = strlen(strings[i]) + 1;
        memcpy(p, strings[i], n);
        p += n;
    }
    *len = (uint32_t)total;
    return buf;
}

/* A run's status: an exit code, or SIGNALLED | n (dev.polypool.cli.Main.SIGNALLED) for a
 * program that ended as a process killed by signal n does (CPython's uncaught
 * KeyboardInterrupt kills itself with SIGINT): this client then dies of n too, so that a
 * shell or a parent's waitpid sees what CPython's parent sees. */
#define SIGNALLED 0x100
static int exit_status(int status) {
    if (!(status & SIGNALLED)) return status;
    int signum = status & 0xff;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signum);
    signal(signum, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(signum);
    return 128 + signum; /* a signal whose default action does not end a process */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: polypool-client DIR N SERVER-COMMAND... PROGRAM-ARGS...\n");
        return 2;
    }
    dir = argv[1];
    int n = atoi(argv[2]);
    if (n < 1 || 3 + n > argc) die("%s", "bad server command");
    if (snprintf(sock_path, sizeof sock_path, "%s/socket", dir) >= (int)sizeof sock_path)
        die("the server directory's path is too long for a socket: %s", dir);
    char **command = malloc(sizeof(char *) * (n + 1));
    memcpy(command, argv + 3, sizeof(char *) * n);
    command[n] = NULL;
    char **prog = argv + 3 + n;
    int nprog = argc - 3 - n;

    const char *control = NULL;
    if (nprog >= 1 && strcmp(prog[0], "--server") == 0) {
        control = nprog >= 2 ? prog[1] : "";
        if (strcmp(control, "status") && strcmp(control, "stop") && strcmp(control, "start")) {
            fprintf(stderr, "usage: polypool --server status|stop|start\n");
            return 2;
        }
    }
    int fd = -1;
    for (int attempt = 1; fd < 0; attempt++) {
        if (control && strcmp(control, "start") != 0) {
            fd = try_connect();
            if (fd < 0) return 3; /* nobody listens: bin/polypool says so once for all directories */
        } else {
            fd = connect_or_start(command);
        }
        if (!accepted(fd)) {
            /* the server stopped listening with us in its backlog: its socket is gone, or a
             * successor's is there, by the time we try again */
            close(fd);
            fd = -1;
            if (attempt == 20) die("the polypool server closed 20 connections unanswered; see %s/server.log", dir);
            usleep(10000);
        }
    }

    if (control) {
        const char *what = strcmp(control, "start") == 0 ? "status" : control;
        send_frame(fd, 'Q', what, (uint32_t)strlen(what));
    } else {
        uint32_t len;
        char *buf = pack(prog - 1, nprog + 1, &len); /* argv[0] is a placeholder */
        send_frame(fd, 'A', buf, len);
        free(buf);
        char *cwd = getcwd(NULL, 0);
        if (!cwd) die("cannot get the working directory: %s", strerror(errno));
        send_frame(fd, 'C', cwd, (uint32_t)strlen(cwd));
        int count = 0;
        while (environ[count]) count++;
        buf = pack(environ, count, &len);
        send_frame(fd, 'V', buf, len);
        free(buf);
        char tty[3] = {(char)isatty(0), (char)isatty(1), (char)isatty(2)};
        send_frame(fd, 'T', tty, 3);
        unsigned char ignored[4 * sizeof forwarded / sizeof *forwarded];
        uint32_t nignored = 0;
        for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
            struct sigaction old;
            if (sigaction(forwarded[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) {
                unsigned char *b = ignored + 4 * nignored++;
                b[0] = b[1] = b[2] = 0;
                b[3] = (unsigned char)forwarded[i];
            }
        }
        send_frame(fd, 'D', ignored, 4 * nignored);
        send_frame(fd, 'G', "", 0);
    }

    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) die("pipe: %s", strerror(errno));
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaction(forwarded[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    uint32_t stdin_wanted = 0;
    static char buf[1 << 16];
    while (1) {
        struct pollfd fds[3] = {{fd, POLLIN, 0}, {sig_pipe[0], POLLIN, 0}, {0, POLLIN, 0}};
        int nfds = stdin_wanted ? 3 : 2;
        if (poll(fds, nfds, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll: %s", strerror(errno));
        }
        if (fds[1].revents & POLLIN) {
            unsigned char s;
            while (read(sig_pipe[0], &s, 1) == 1) {
                unsigned char payload[4] = {0, 0, 0, s};
                send_frame(fd, 'S', payload, 4);
            }
        }
        if (nfds == 3 && fds[2].revents) {
            ssize_t got;
            do {
                got = read(0, buf, stdin_wanted < sizeof buf ? stdin_wanted : sizeof buf);
            } while (got < 0 && errno == EINTR);
            send_frame(fd, 'I', buf, got > 0 ? (uint32_t)got : 0);
            stdin_wanted = 0;
        }
        if (fds[0].revents) {
            unsigned char header[5];
            if (read_full(fd, header, 5) < 0) break;
            uint32_t len = be32(header + 1);
            char *payload = len <= sizeof buf ? buf : malloc(len);
            if (!payload || read_full(fd, payload, len) < 0) break;
            switch (header[0]) {
            case 'O': write_all(1, payload, len); break;
            case 'E': write_all(2, payload, len); break;
            case 'N': stdin_wanted = len == 4 ? be32((unsigned char *)payload) : 0; break;
            case 'X': return len == 4 ? exit_status((int)be32((unsigned char *)payload)) : 1;
            }
            if (payload != buf) free(payload);
        }
    }
    char who[64] = "";
    long pid = server_pid();
    if (pid > 0) snprintf(who, sizeof who, " (pid %ld)", pid);
    fprintf(stderr, "polypool: the polypool server%s ended during this run (killed or crashed; see %s/server.log);"
            " the next run starts a new one\n", who, dir);
    return 1;
}
