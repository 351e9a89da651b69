/* udprecv: the benchmark's syslog-over-UDP receiver.
 *
 * Counts datagrams the agent sends, and for each one finds the producer's mark at the end of the
 * message ("~IDX:SEQ:", written by bench/producers.py) to count distinct lines and duplicates.
 * With --delays it also reads the RFC 5424 timestamp (Docker's time, in microseconds) and keeps
 * arrival - timestamp per datagram, the arrival being the kernel's receive time (SO_TIMESTAMPNS),
 * so a receiver that runs late does not inflate the delay.
 *
 * With --gelf every datagram is a GELF message instead: GELF chunks (1e 0f, 8-byte message id,
 * sequence number, count) are reassembled, gzip or zlib payloads inflated (zlib), and the delay
 * is taken from the "timestamp" field (seconds since the epoch, with a fraction). A message's
 * chunks still missing at the end are counted as "incomplete".
 *
 * Written in C because on 2 cores a Python receiver competes with the agent and the engine for
 * CPU at flood rates (see bench/README.md, "Why the receivers are in C").
 *
 * Usage: udprecv PRODUCERS LINES_PER_PRODUCER [--delays] [--gelf]
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
#include <zlib.h>

#include "recvcommon.h"

#define BATCH 256
#define DGRAM_MAX 65536
#define RCVBUF_BYTES (64 * 1024 * 1024)

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

/* -- GELF: chunk reassembly and inflation ------------------------------------------------- */

#define GELF_MAX_CHUNKS 128
#define GELF_SLOTS 4096
#define GELF_MAX_BYTES (4 * 1024 * 1024)

struct gelf_slot {
    int used;
    unsigned char id[8];
    int count, have;
    char *part[GELF_MAX_CHUNKS];
    size_t len[GELF_MAX_CHUNKS];
};

static struct gelf_slot gelf_slots[GELF_SLOTS];
static uint64_t gelf_chunks = 0, gelf_chunked_messages = 0, gelf_evicted = 0,
                gelf_inflate_errors = 0, gelf_bad_chunks = 0;
static z_stream gelf_z;
static char *gelf_out, *gelf_joined;

static void gelf_free_slot(struct gelf_slot *s) {
    for (int i = 0; i < GELF_MAX_CHUNKS; i++) { free(s->part[i]); s->part[i] = NULL; }
    s->used = 0;
}

/* One chunk in; returns the reassembled message's length in gelf_joined once every chunk of its
   message arrived, else 0. A duplicate chunk is ignored. */
static size_t gelf_chunk(const char *buf, size_t len) {
    if (len < 12) { gelf_bad_chunks++; return 0; }
    const unsigned char *id = (const unsigned char *)buf + 2;
    int seq = (unsigned char)buf[10], count = (unsigned char)buf[11];
    if (count < 1 || count > GELF_MAX_CHUNKS || seq >= count) { gelf_bad_chunks++; return 0; }
    gelf_chunks++;
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 8; i++) h = (h ^ id[i]) * 1099511628211ULL;
    size_t at = (size_t)(h % GELF_SLOTS);
    struct gelf_slot *s = NULL;
    for (size_t probe = 0; probe < GELF_SLOTS; probe++) {
        struct gelf_slot *c = &gelf_slots[(at + probe) % GELF_SLOTS];
        if (c->used && memcmp(c->id, id, 8) == 0) { s = c; break; }
        if (!c->used) { s = c; break; }
    }
    if (!s) { /* table full: drop the slot we hashed to */
        s = &gelf_slots[at];
        gelf_free_slot(s);
        gelf_evicted++;
    }
    if (!s->used) {
        s->used = 1;
        memcpy(s->id, id, 8);
        s->count = count;
        s->have = 0;
    }
    if (s->count != count) { gelf_bad_chunks++; return 0; }
    if (s->part[seq]) return 0;
    s->part[seq] = malloc(len - 12);
    if (!s->part[seq]) { fprintf(stderr, "udprecv: out of memory\n"); exit(1); }
    memcpy(s->part[seq], buf + 12, len - 12);
    s->len[seq] = len - 12;
    if (++s->have < s->count) return 0;
    size_t total = 0;
    for (int i = 0; i < s->count; i++) {
        if (total + s->len[i] > GELF_MAX_BYTES) { gelf_free_slot(s); gelf_bad_chunks++; return 0; }
        memcpy(gelf_joined + total, s->part[i], s->len[i]);
        total += s->len[i];
    }
    gelf_free_slot(s);
    gelf_chunked_messages++;
    return total;
}

static uint64_t gelf_incomplete(void) {
    uint64_t n = 0;
    for (size_t i = 0; i < GELF_SLOTS; i++) n += gelf_slots[i].used;
    return n;
}

/* A whole GELF message (gzip, zlib or plain JSON) -> the JSON in *out; its length, or -1 */
static long gelf_payload(const char *buf, size_t len, const char **out) {
    const unsigned char *u = (const unsigned char *)buf;
    if (len >= 2 && ((u[0] == 0x1f && u[1] == 0x8b) || (u[0] == 0x78))) {
        if (inflateReset2(&gelf_z, 15 + 32) != Z_OK) return -1; /* 15 + 32: gzip or zlib */
        gelf_z.next_in = (unsigned char *)buf;
        gelf_z.avail_in = (uInt)len;
        gelf_z.next_out = (unsigned char *)gelf_out;
        gelf_z.avail_out = GELF_MAX_BYTES;
        int rc = inflate(&gelf_z, Z_FINISH);
        if (rc != Z_STREAM_END) { gelf_inflate_errors++; return -1; }
        *out = gelf_out;
        return (long)(GELF_MAX_BYTES - gelf_z.avail_out);
    }
    *out = buf;
    return (long)len;
}

/* "timestamp":1764221073.719017 in a GELF message -> microseconds since the epoch, or -1 */
static int64_t gelf_time_us(const char *buf, size_t len) {
    static const char key[] = "\"timestamp\":";
    const char *p = memmem(buf, len, key, sizeof key - 1);
    if (!p) return -1;
    const char *end = buf + len;
    p += sizeof key - 1;
    while (p < end && *p == ' ') p++;
    int64_t secs = 0, us = 0;
    int n = 0, any = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, any = 1) secs = secs * 10 + (*p - '0');
    if (!any) return -1;
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6) us = us * 10 + (*p - '0');
    for (; n < 6; n++) us *= 10;
    return secs * 1000000 + us;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PRODUCERS LINES_PER_PRODUCER [--delays] [--gelf]\n", argv[0]);
        return 2;
    }
    long producers = atol(argv[1]), lines = atol(argv[2]);
    int want_delays = 0, gelf = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--delays") == 0) want_delays = 1;
        else if (strcmp(argv[i], "--gelf") == 0) gelf = 1;
        else { fprintf(stderr, "udprecv: unknown option %s\n", argv[i]); return 2; }
    }
    if (gelf) {
        gelf_out = malloc(GELF_MAX_BYTES);
        gelf_joined = malloc(GELF_MAX_BYTES);
        if (!gelf_out || !gelf_joined || inflateInit2(&gelf_z, 15 + 32) != Z_OK) {
            fprintf(stderr, "udprecv: cannot set up zlib\n");
            return 1;
        }
    }
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
    int got = announce_port(fd);

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
            const char *msg = bufs[i];
            if (gelf) {
                size_t whole = len;
                if (len >= 2 && (unsigned char)msg[0] == 0x1e && (unsigned char)msg[1] == 0x0f) {
                    whole = gelf_chunk(msg, len);
                    if (whole == 0) continue; /* more chunks to come */
                    msg = gelf_joined;
                }
                long n_json = gelf_payload(msg, whole, &msg);
                if (n_json < 0) { unparsed++; continue; }
                len = (size_t)n_json;
            }
            long idx, seq;
            int found = gelf ? find_mark(msg, len, &idx, &seq) : parse_mark(msg, len, &idx, &seq);
            int fresh = found ? mark_seen(seen, idx, seq, producers, lines) : -1;
            if (fresh > 0) distinct++;
            else if (fresh == 0) dups++;
            else unparsed++;
            if (want_delays) {
                int64_t t = gelf ? gelf_time_us(msg, len) : syslog_time_us(msg, len);
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
    if (gelf)
        printf(", \"gelf\": {\"chunks\": %" PRIu64 ", \"chunked_messages\": %" PRIu64
               ", \"incomplete\": %" PRIu64 ", \"evicted\": %" PRIu64 ", \"bad_chunks\": %" PRIu64
               ", \"inflate_errors\": %" PRIu64 "}",
               gelf_chunks, gelf_chunked_messages, gelf_incomplete(), gelf_evicted,
               gelf_bad_chunks, gelf_inflate_errors);
    if (want_delays) print_delays(delays, ndelays, bad_time);
    printf("}\n");
    fflush(stdout);
    return 0;
}
