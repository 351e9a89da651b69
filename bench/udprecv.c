/* udprecv: the benchmark's syslog-over-UDP receiver.
 *
 * Counts datagrams the agent sends, and for each one finds the producer's mark at the end of the
 * message ("~IDX:SEQ:", written by bench/producers.py) to count distinct lines and duplicates.
 * With --delays it also reads the RFC 5424 timestamp (Docker's time, in microseconds) and keeps
 * arrival - timestamp per datagram, the arrival being the kernel's receive time (SO_TIMESTAMPNS),
 * so a receiver that runs late does not inflate the delay.
 *
 * Written in C because on 2 cores a Python receiver competes with the agent and the engine for
 * CPU at flood rates (see bench/README.md, "Why the receiver is in C").
 *
 * Usage: udprecv PRODUCERS LINES_PER_PRODUCER [--delays]
 * Binds 127.0.0.1 on a free port and prints "PORT <n>". Then, every 100 ms:
 *   "S <datagrams> <distinct> <duplicates> <unparsed> <last_arrival_ns>"
 * On SIGTERM or SIGINT it prints one line "F {json}" with the totals and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define DGRAM_MAX 65536
#define RCVBUF_BYTES (64 * 1024 * 1024)

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* "<PRI>1 2026-11-27T05:24:33.719017Z ..." -> microseconds since the epoch, or -1 */
static int64_t syslog_time_us(const char *buf, size_t len) {
    const char *p = memchr(buf, '>', len < 8 ? len : 8);
    if (!p) return -1;
    p += 1;
    const char *end = buf + len;
    if (end - p < 2 + 20 || p[0] != '1' || p[1] != ' ') return -1;
    p += 2;
    int Y, M, D, h, m, s;
    if (!digits(p, 4, &Y) || p[4] != '-' || !digits(p + 5, 2, &M) || p[7] != '-' ||
        !digits(p + 8, 2, &D) || p[10] != 'T' || !digits(p + 11, 2, &h) || p[13] != ':' ||
        !digits(p + 14, 2, &m) || p[16] != ':' || !digits(p + 17, 2, &s))
        return -1;
    p += 19;
    int64_t us = 0;
    int n = 0;
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6) us = us * 10 + (*p - '0');
    }
    for (; n < 6; n++) us *= 10;
    if (p >= end || *p != 'Z') return -1;
    int64_t secs = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + m * 60 + s;
    return secs * 1000000 + us;
}

/* the producer's mark "~IDX:SEQ:" nearest the end of the datagram */
static int parse_mark(const char *buf, size_t len, long *idx, long *seq) {
    const char *p = NULL;
    for (size_t i = len; i-- > 0;)
        if (buf[i] == '~') { p = buf + i + 1; break; }
    if (!p) return 0;
    const char *end = buf + len;
    char *q;
    char tmp[48];
    size_t n = (size_t)(end - p) < sizeof tmp - 1 ? (size_t)(end - p) : sizeof tmp - 1;
    memcpy(tmp, p, n);
    tmp[n] = 0;
    *idx = strtol(tmp, &q, 10);
    if (q == tmp || *q != ':') return 0;
    char *r = q + 1;
    *seq = strtol(r, &q, 10);
    if (q == r || *q != ':') return 0;
    return 1;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pct(const int64_t *v, size_t n, double q) {
    if (n == 0) return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PRODUCERS LINES_PER_PRODUCER [--delays]\n", argv[0]);
        return 2;
    }
    long producers = atol(argv[1]), lines = atol(argv[2]);
    int want_delays = argc > 3 && strcmp(argv[3], "--delays") == 0;
    if (producers < 1 || lines < 1) {
        fprintf(stderr, "udprecv: PRODUCERS and LINES_PER_PRODUCER must be positive\n");
        return 2;
    }
    size_t nbits = (size_t)producers * (size_t)lines;
    unsigned char *seen = calloc(nbits / 8 + 1, 1);
    size_t delay_cap = want_delays ? nbits + 16 : 0, ndelays = 0;
    int64_t *delays = want_delays ? malloc(delay_cap * sizeof *delays) : NULL;
    if (!seen || (want_delays && !delays)) {
        fprintf(stderr, "udprecv: out of memory\n");
        return 1;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal; /* no SA_RESTART: recvmmsg returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int size = RCVBUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    struct timeval tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    int got = 0;
    socklen_t glen = sizeof got;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &glen);
    printf("PORT %d %d\n", ntohs(addr.sin_port), got);
    fflush(stdout);

    static char bufs[BATCH][DGRAM_MAX];
    static char ctrl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    uint64_t total = 0, distinct = 0, dups = 0, unparsed = 0, bytes = 0, bad_time = 0;
    int64_t first_ns = 0, last_ns = 0, next_status = now_ns();

    int used = BATCH; /* entries the last call filled, to be made ready again */
    while (!stopping) {
        for (int i = 0; i < used; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = DGRAM_MAX;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = ctrl[i];
            msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        used = n > 0 ? n : 0;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            perror("recvmmsg");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len;
            int64_t arrival = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
                 c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    arrival = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                }
            if (arrival == 0) arrival = now_ns();
            if (first_ns == 0 || arrival < first_ns) first_ns = arrival;
            if (arrival > last_ns) last_ns = arrival;
            total++;
            bytes += len;
            long idx, seq;
            if (parse_mark(bufs[i], len, &idx, &seq) && idx >= 0 && idx < producers && seq >= 0 &&
                seq < lines) {
                size_t bit = (size_t)idx * (size_t)lines + (size_t)seq;
                if (seen[bit >> 3] & (1u << (bit & 7))) {
                    dups++;
                } else {
                    seen[bit >> 3] |= (unsigned char)(1u << (bit & 7));
                    distinct++;
                }
            } else {
                unparsed++;
            }
            if (want_delays) {
                int64_t t = syslog_time_us(bufs[i], len);
                if (t < 0) {
                    bad_time++;
                } else {
                    if (ndelays == delay_cap) {
                        delay_cap *= 2;
                        delays = realloc(delays, delay_cap * sizeof *delays);
                        if (!delays) { fprintf(stderr, "udprecv: out of memory\n"); return 1; }
                    }
                    delays[ndelays++] = arrival / 1000 - t;
                }
            }
        }
        if (n >= 0 && n < BATCH / 4) {
            /* a trickle: let datagrams gather instead of waking for each one (the kernel
               stamps arrival times, so waiting does not change the measured delay) */
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
        }
        int64_t now = now_ns();
        if (now >= next_status) {
            printf("S %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 "\n", total,
                   distinct, dups, unparsed, last_ns);
            fflush(stdout);
            next_status = now + 100000000;
        }
    }

    qsort(delays, ndelays, sizeof *delays, cmp_i64);
    printf("F {\"datagrams\": %" PRIu64 ", \"distinct\": %" PRIu64 ", \"duplicates\": %" PRIu64
           ", \"unparsed\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"first_arrival_ns\": %" PRId64
           ", \"last_arrival_ns\": %" PRId64 ", \"rcvbuf_bytes\": %d",
           total, distinct, dups, unparsed, bytes, first_ns, last_ns, got);
    if (want_delays)
        printf(", \"delay_us\": {\"count\": %zu, \"bad_timestamps\": %" PRIu64 ", \"min\": %" PRId64
               ", \"p50\": %" PRId64 ", \"p90\": %" PRId64 ", \"p99\": %" PRId64
               ", \"p999\": %" PRId64 ", \"max\": %" PRId64 "}",
               ndelays, bad_time, pct(delays, ndelays, 0), pct(delays, ndelays, 0.5),
               pct(delays, ndelays, 0.9), pct(delays, ndelays, 0.99), pct(delays, ndelays, 0.999),
               pct(delays, ndelays, 1));
    printf("}\n");
    fflush(stdout);
    return 0;
}
