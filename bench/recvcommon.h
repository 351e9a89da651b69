/* recvcommon.h: what the benchmark's C receivers (udprecv.c, streamrecv.c) share: the clock,
 * RFC 3339 timestamps, the producer's "~IDX:SEQ:" mark, percentiles. Static functions only, so
 * each receiver stays one translation unit. */
#ifndef LOGSHIP_BENCH_RECVCOMMON_H
#define LOGSHIP_BENCH_RECVCOMMON_H

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil) */
static inline int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static inline int digits(const char *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* "2026-11-27T05:24:33.719017123Z" at p -> microseconds since the epoch, or -1 */
static inline int64_t rfc3339_us(const char *p, const char *end) {
    if (end - p < 20) return -1;
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

/* "<PRI>1 2026-11-27T05:24:33.719017Z ..." -> microseconds since the epoch, or -1 */
static inline int64_t syslog_time_us(const char *buf, size_t len) {
    const char *p = memchr(buf, '>', len < 8 ? len : 8);
    if (!p) return -1;
    p += 1;
    const char *end = buf + len;
    if (end - p < 2 + 20 || p[0] != '1' || p[1] != ' ') return -1;
    return rfc3339_us(p + 2, end);
}

/* the producer's mark "~IDX:SEQ:" nearest the end of the message */
static inline int parse_mark(const char *buf, size_t len, long *idx, long *seq) {
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

/* the first well-formed mark "~IDX:SEQ:" in a message that may hold other '~'s (GELF's _command
   field holds the producer's script, whose printf format has "~%03d:") */
static inline int find_mark(const char *buf, size_t len, long *idx, long *seq) {
    const char *p = buf, *end = buf + len;
    while ((p = memchr(p, '~', (size_t)(end - p))) != NULL) {
        p++;
        long a = 0, b = 0;
        const char *q = p;
        for (; q < end && *q >= '0' && *q <= '9' && q - p < 18; q++) a = a * 10 + (*q - '0');
        if (q == p || q >= end || *q != ':') continue;
        const char *r = ++q;
        for (; q < end && *q >= '0' && *q <= '9' && q - r < 18; q++) b = b * 10 + (*q - '0');
        if (q == r || q >= end || *q != ':') continue;
        *idx = a;
        *seq = b;
        return 1;
    }
    return 0;
}

/* Line (producer idx, line seq) arrived: 1 the first time, 0 for a duplicate, -1 when the
   mark is out of range (counted as unparsed by the callers). */
static inline int mark_seen(unsigned char *seen, long idx, long seq, long producers,
                            long lines_per) {
    if (idx < 0 || idx >= producers || seq < 0 || seq >= lines_per) return -1;
    size_t bit = (size_t)idx * (size_t)lines_per + (size_t)seq;
    unsigned char mask = (unsigned char)(1u << (bit & 7));
    if (seen[bit >> 3] & mask) return 0;
    seen[bit >> 3] |= mask;
    return 1;
}

static inline int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static inline int64_t pct(const int64_t *v, size_t n, double q) {
    if (n == 0) return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Tell the bench where the bound socket listens and its receive buffer ("PORT port rcvbuf");
   returns the receive buffer's size, which the report repeats. */
static inline int announce_port(int fd) {
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &alen);
    int got = 0;
    socklen_t glen = sizeof got;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &glen);
    printf("PORT %d %d\n", ntohs(addr.sin_port), got);
    fflush(stdout);
    return got;
}

/* The report's "delay_us" member (``delays`` sorted), after the members before it. */
static inline void print_delays(const int64_t *delays, size_t n, uint64_t bad_timestamps) {
    printf(", \"delay_us\": {\"count\": %zu, \"bad_timestamps\": %" PRIu64 ", \"min\": %" PRId64
           ", \"p50\": %" PRId64 ", \"p90\": %" PRId64 ", \"p99\": %" PRId64
           ", \"p999\": %" PRId64 ", \"max\": %" PRId64 "}",
           n, bad_timestamps, pct(delays, n, 0), pct(delays, n, 0.5), pct(delays, n, 0.9),
           pct(delays, n, 0.99), pct(delays, n, 0.999), pct(delays, n, 1));
}

#endif
