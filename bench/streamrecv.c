/* streamrecv: the benchmark's receiver for the stream destinations.
 *
 *   --proto syslog   syslog over TCP, or over TLS with --tls CERT KEY (RFC 5425/6587: octet
 *                    counting "LEN SP MSG", or non-transparent framing, one message per line)
 *   --proto forward  Fluentd's forward protocol: Message, Forward, PackedForward and
 *                    CompressedPackedForward (gzip) messages; a "chunk" option is answered with
 *                    {"ack": chunk} once the message has been counted
 *   --proto bulk     an Elasticsearch stand-in over HTTP/1.1 (keep-alive): GET / answers like
 *                    Elasticsearch 8, POST .../_bulk counts the documents (gzip bodies too) and
 *                    answers every action with status 201, as Elasticsearch does when all went in
 *
 * Like udprecv, it finds the producer's mark "~IDX:SEQ:" (bench/producers.py) in every message,
 * forward entry or bulk document, sets a bit per line, and counts duplicates and units without a
 * mark ("unparsed"). With --delays it keeps arrival - Docker's timestamp per line: the syslog
 * header's timestamp, the forward EventTime (or integer time), the bulk document's @timestamp.
 * Arrival is when the read that completed the unit returned.
 *
 * One thread per connection (blocking reads, OpenSSL for TLS); counting is under one mutex, taken
 * once per read. Usage:
 *   streamrecv PRODUCERS LINES_PER_PRODUCER --proto P [--tls CERT KEY] [--delays]
 * Binds 127.0.0.1 on a free port and prints "PORT <n> <rcvbuf>". Then, every 100 ms:
 *   "S <lines> <distinct> <duplicates> <unparsed> <last_arrival_ns>"
 * On SIGTERM or SIGINT it prints one line "F {json}" with the totals and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "recvcommon.h"

#define READ_BYTES (256 * 1024)

enum proto { SYSLOG, FORWARD, BULK };

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static enum proto proto;
static SSL_CTX *tls_ctx = NULL;
static long producers, lines_per;
static int want_delays = 0;

/* -- counting (under `lock`) ----------------------------------------------------------------- */

/* recursive: the syslog parser runs under the lock and may report a protocol error */
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static unsigned char *seen;
static uint64_t total = 0, distinct = 0, dups = 0, unparsed = 0, bytes = 0, bad_time = 0;
static uint64_t connections = 0, units = 0, acks = 0, protocol_errors = 0, inflate_errors = 0;
static int64_t first_ns = 0, last_ns = 0;
static int64_t *delays = NULL;
static size_t ndelays = 0, delay_cap = 0;
static char first_error[256] = "";

static void protocol_error(const char *what) {
    pthread_mutex_lock(&lock);
    protocol_errors++;
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", what);
    pthread_mutex_unlock(&lock);
}

/* One line's text (a span holding its mark) and Docker's time (us, or -1 if unknown). */
static void count_line(const char *p, size_t len, int64_t time_us, int64_t arrival) {
    total++;
    if (first_ns == 0 || arrival < first_ns) first_ns = arrival;
    if (arrival > last_ns) last_ns = arrival;
    long idx, seq;
    int fresh = find_mark(p, len, &idx, &seq) ? mark_seen(seen, idx, seq, producers, lines_per)
                                               : -1;
    if (fresh > 0) distinct++;
    else if (fresh == 0) dups++;
    else unparsed++;
    if (!want_delays) return;
    if (time_us < 0) { bad_time++; return; }
    if (ndelays == delay_cap) {
        delay_cap = delay_cap ? delay_cap * 2 : 1 << 20;
        delays = realloc(delays, delay_cap * sizeof *delays);
        if (!delays) { fprintf(stderr, "streamrecv: out of memory\n"); exit(1); }
    }
    delays[ndelays++] = arrival / 1000 - time_us;
}

/* -- connections -------------------------------------------------------------------------------- */

struct conn {
    int fd;
    SSL *ssl;
    char *buf;
    size_t len, cap;
    char *out; /* inflated bodies and entries */
    size_t out_cap;
    z_stream z;
    int z_ready;
};

static long conn_read(struct conn *c, char *into, size_t n) {
    if (c->ssl) {
        int r = SSL_read(c->ssl, into, (int)n);
        return r > 0 ? r : -1;
    }
    for (;;) {
        ssize_t r = read(c->fd, into, n);
        if (r < 0 && errno == EINTR) continue;
        return r > 0 ? (long)r : -1;
    }
}

static int conn_write(struct conn *c, const char *p, size_t n) {
    while (n > 0) {
        long w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, (int)n);
            w = r > 0 ? r : -1;
        } else {
            w = write(c->fd, p, n);
            if (w < 0 && errno == EINTR) continue;
        }
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* gzip or zlib `in` -> c->out (grown as needed); its length, or -1 */
static long inflate_into(struct conn *c, const char *in, size_t n) {
    if (!c->z_ready) {
        if (inflateInit2(&c->z, 15 + 32) != Z_OK) return -1;
        c->z_ready = 1;
    } else if (inflateReset(&c->z) != Z_OK) {
        return -1;
    }
    c->z.next_in = (unsigned char *)in;
    c->z.avail_in = (uInt)n;
    size_t have = 0;
    for (;;) {
        if (c->out_cap - have < 65536) {
            c->out_cap = c->out_cap ? c->out_cap * 2 : 1 << 20;
            c->out = realloc(c->out, c->out_cap);
            if (!c->out) { fprintf(stderr, "streamrecv: out of memory\n"); exit(1); }
        }
        c->z.next_out = (unsigned char *)c->out + have;
        c->z.avail_out = (uInt)(c->out_cap - have);
        int rc = inflate(&c->z, Z_NO_FLUSH);
        have = c->out_cap - c->z.avail_out;
        if (rc == Z_STREAM_END) return (long)have;
        if (rc != Z_OK && rc != Z_BUF_ERROR) return -1;
        if (rc == Z_BUF_ERROR && c->z.avail_out != 0) return -1; /* input ended early */
    }
}

/* -- syslog: octet counting or one message per line ------------------------------------------ */

/* Complete messages at the start of c->buf are counted; returns bytes used, or -1. */
static long syslog_units(struct conn *c, int64_t arrival) {
    const char *p = c->buf, *end = c->buf + c->len;
    while (p < end) {
        const char *msg;
        size_t n;
        if (*p >= '1' && *p <= '9') {
            size_t size = 0;
            const char *q = p;
            while (q < end && *q >= '0' && *q <= '9' && q - p < 10) size = size * 10 + (size_t)(*q++ - '0');
            if (q == end) break;
            if (*q != ' ') { protocol_error("syslog: bad octet count"); return -1; }
            if ((size_t)(end - q - 1) < size) break;
            msg = q + 1;
            n = size;
            p = msg + size;
        } else if (*p == '<') {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) break;
            msg = p;
            n = (size_t)(nl - p);
            p = nl + 1;
        } else if (*p == '\n' || *p == '\r') {
            p++;
            continue;
        } else {
            protocol_error("syslog: a message starts with neither a length nor '<'");
            return -1;
        }
        count_line(msg, n, want_delays ? syslog_time_us(msg, n) : -1, arrival);
        units++;
    }
    return p - c->buf;
}

/* -- forward: a small msgpack reader ------------------------------------------------------- */

#define MP_INCOMPLETE ((const unsigned char *)0)
#define MP_INVALID ((const unsigned char *)1)

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* The end of the msgpack object at p, MP_INCOMPLETE, or MP_INVALID. */
static const unsigned char *mp_skip(const unsigned char *p, const unsigned char *end) {
    uint64_t pending = 1;
    while (pending) {
        if (p >= end) return MP_INCOMPLETE;
        unsigned c = *p++;
        pending--;
        uint64_t n = 0;
        int hdr = 0;
        if (c <= 0x7f || c >= 0xe0) continue;
        if ((c & 0xf0) == 0x80) { pending += 2 * (c & 0x0f); continue; }
        if ((c & 0xf0) == 0x90) { pending += c & 0x0f; continue; }
        if ((c & 0xe0) == 0xa0) { n = c & 0x1f; goto data; }
        switch (c) {
        case 0xc0: case 0xc2: case 0xc3: continue;
        case 0xc4: case 0xd9: hdr = 1; break;
        case 0xc5: case 0xda: hdr = 2; break;
        case 0xc6: case 0xdb: hdr = 4; break;
        case 0xc7: hdr = 1; n = 1; break;  /* ext 8: length, type */
        case 0xc8: hdr = 2; n = 1; break;
        case 0xc9: hdr = 4; n = 1; break;
        case 0xca: n = 4; goto data;
        case 0xcb: n = 8; goto data;
        case 0xcc: case 0xd0: n = 1; goto data;
        case 0xcd: case 0xd1: n = 2; goto data;
        case 0xce: case 0xd2: n = 4; goto data;
        case 0xcf: case 0xd3: n = 8; goto data;
        case 0xd4: n = 2; goto data;
        case 0xd5: n = 3; goto data;
        case 0xd6: n = 5; goto data;
        case 0xd7: n = 9; goto data;
        case 0xd8: n = 17; goto data;
        case 0xdc: case 0xdd: case 0xde: case 0xdf: {
            int w = (c & 1) ? 4 : 2;
            if (end - p < w) return MP_INCOMPLETE;
            uint64_t k = be(p, w);
            p += w;
            pending += c >= 0xde ? 2 * k : k;
            continue;
        }
        default: return MP_INVALID;
        }
        if (end - p < hdr) return MP_INCOMPLETE;
        n += be(p, hdr);
        p += hdr;
    data:
        if ((uint64_t)(end - p) < n) return MP_INCOMPLETE;
        p += n;
    }
    return p;
}

/* str or bin at p -> its bytes; the end of the object, or NULL if p is neither */
static const unsigned char *mp_bytes(const unsigned char *p, const unsigned char *end,
                                     const unsigned char **data, size_t *n) {
    if (p >= end) return NULL;
    unsigned c = *p;
    int hdr;
    if ((c & 0xe0) == 0xa0) { *n = c & 0x1f; hdr = 0; }
    else if (c == 0xd9 || c == 0xc4) hdr = 1;
    else if (c == 0xda || c == 0xc5) hdr = 2;
    else if (c == 0xdb || c == 0xc6) hdr = 4;
    else return NULL;
    p++;
    if (end - p < hdr) return NULL;
    if (hdr) { *n = (size_t)be(p, hdr); p += hdr; }
    if ((size_t)(end - p) < *n) return NULL;
    *data = p;
    return p + *n;
}

/* array or map header at p -> its count (maps: pairs); the first element, or NULL */
static const unsigned char *mp_container(const unsigned char *p, const unsigned char *end,
                                         int map, uint64_t *count) {
    if (p >= end) return NULL;
    unsigned c = *p++;
    unsigned fix = map ? 0x80 : 0x90, w16 = map ? 0xde : 0xdc;
    if ((c & 0xf0) == fix) { *count = c & 0x0f; return p; }
    int w = c == w16 ? 2 : c == w16 + 1 ? 4 : 0;
    if (!w || end - p < w) return NULL;
    *count = be(p, w);
    return p + w;
}

/* EventTime (ext 0) or an integer at p -> microseconds since the epoch, or -1 */
static int64_t mp_time_us(const unsigned char *p, const unsigned char *end) {
    if (end - p >= 10 && p[0] == 0xd7 && p[1] == 0x00)
        return (int64_t)be(p + 2, 4) * 1000000 + (int64_t)be(p + 6, 4) / 1000;
    if (end - p >= 6 && p[0] == 0xc7 && p[1] == 8 && p[2] == 0x00)
        return (int64_t)be(p + 3, 4) * 1000000 + (int64_t)be(p + 7, 4) / 1000;
    if (p < end && *p <= 0x7f) return (int64_t)*p * 1000000;
    if (end - p >= 5 && (p[0] == 0xce || p[0] == 0xd2)) return (int64_t)be(p + 1, 4) * 1000000;
    if (end - p >= 9 && (p[0] == 0xcf || p[0] == 0xd3)) return (int64_t)be(p + 1, 8) * 1000000;
    return -1;
}

/* One entry [time, record] -> counted; returns its end, or NULL */
static const unsigned char *forward_entry(const unsigned char *p, const unsigned char *end,
                                          int64_t arrival) {
    uint64_t n;
    const unsigned char *q = mp_container(p, end, 0, &n);
    if (!q || n != 2) return NULL;
    const unsigned char *record = mp_skip(q, end);
    if (record <= MP_INVALID) return NULL;
    const unsigned char *after = mp_skip(record, end);
    if (after <= MP_INVALID) return NULL;
    count_line((const char *)record, (size_t)(after - record),
               want_delays ? mp_time_us(q, end) : -1, arrival);
    return after;
}

/* The value of "chunk" in an option map, if any */
static int option_chunk(const unsigned char *p, const unsigned char *end, const unsigned char **chunk,
                        size_t *n, int *gzip) {
    uint64_t pairs;
    p = mp_container(p, end, 1, &pairs);
    if (!p) return 0;
    int found = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        const unsigned char *key, *val;
        size_t klen, vlen;
        const unsigned char *v = mp_bytes(p, end, &key, &klen);
        if (!v) return found;
        const unsigned char *next = mp_skip(v, end);
        if (next <= MP_INVALID) return found;
        if (mp_bytes(v, end, &val, &vlen)) {
            if (klen == 5 && memcmp(key, "chunk", 5) == 0) { *chunk = val; *n = vlen; found = 1; }
            if (klen == 10 && memcmp(key, "compressed", 10) == 0 && vlen == 4 &&
                memcmp(val, "gzip", 4) == 0)
                *gzip = 1;
        }
        p = next;
    }
    return found;
}

/* One whole message [tag, time, record(, option)] / [tag, entries(, option)]: counted, acked */
static int forward_message(struct conn *c, const unsigned char *p, const unsigned char *end,
                           int64_t arrival) {
    uint64_t n;
    const unsigned char *q = mp_container(p, end, 0, &n);
    if (!q || n < 2 || n > 4) { protocol_error("forward: a message is not a 2-4 array"); return -1; }
    const unsigned char *tag;
    size_t tag_len;
    q = mp_bytes(q, end, &tag, &tag_len);
    if (!q) { protocol_error("forward: no tag"); return -1; }
    const unsigned char *second = q, *option = NULL;
    const unsigned char *after = mp_skip(second, end);
    if (after <= MP_INVALID) return -1;
    unsigned first = *second;
    int message_mode = !((first & 0xf0) == 0x90 || first == 0xdc || first == 0xdd ||
                         mp_bytes(second, end, &tag, &tag_len));
    if (message_mode) { /* [tag, time, record, option?] */
        const unsigned char *rec_end = mp_skip(after, end);
        if (rec_end <= MP_INVALID) return -1;
        pthread_mutex_lock(&lock);
        count_line((const char *)after, (size_t)(rec_end - after),
                   want_delays ? mp_time_us(second, end) : -1, arrival);
        pthread_mutex_unlock(&lock);
        option = n == 4 ? rec_end : NULL;
    } else {
        option = n == 3 ? after : NULL;
    }
    const unsigned char *chunk = NULL;
    size_t chunk_len = 0;
    int gzip = 0, has_chunk = option ? option_chunk(option, end, &chunk, &chunk_len, &gzip) : 0;
    if (!message_mode) {
        const unsigned char *e, *e_end;
        const unsigned char *data;
        size_t data_len;
        if (mp_bytes(second, end, &data, &data_len)) { /* (Compressed)PackedForward */
            if (gzip) {
                long got = inflate_into(c, (const char *)data, data_len);
                if (got < 0) {
                    pthread_mutex_lock(&lock);
                    inflate_errors++;
                    pthread_mutex_unlock(&lock);
                    return -1;
                }
                data = (const unsigned char *)c->out;
                data_len = (size_t)got;
            }
            e = data;
            e_end = data + data_len;
            pthread_mutex_lock(&lock);
            while (e < e_end) {
                e = forward_entry(e, e_end, arrival);
                if (!e) { unparsed++; break; }
            }
            pthread_mutex_unlock(&lock);
        } else { /* Forward: an array of entries */
            uint64_t count;
            e = mp_container(second, end, 0, &count);
            pthread_mutex_lock(&lock);
            for (uint64_t i = 0; e && i < count; i++) e = forward_entry(e, end, arrival);
            if (!e) unparsed++;
            pthread_mutex_unlock(&lock);
        }
    }
    pthread_mutex_lock(&lock);
    units++;
    pthread_mutex_unlock(&lock);
    if (has_chunk) {
        char ack[300];
        size_t k = 0;
        if (chunk_len > 255) { protocol_error("forward: chunk id too long"); return -1; }
        ack[k++] = (char)0x81;
        ack[k++] = (char)0xa3;
        memcpy(ack + k, "ack", 3);
        k += 3;
        if (chunk_len < 32) ack[k++] = (char)(0xa0 | chunk_len);
        else { ack[k++] = (char)0xd9; ack[k++] = (char)chunk_len; }
        memcpy(ack + k, chunk, chunk_len);
        k += chunk_len;
        if (conn_write(c, ack, k) < 0) return -1;
        pthread_mutex_lock(&lock);
        acks++;
        pthread_mutex_unlock(&lock);
    }
    return 0;
}

static long forward_units(struct conn *c, int64_t arrival) {
    const unsigned char *p = (const unsigned char *)c->buf, *end = p + c->len;
    while (p < end) {
        const unsigned char *next = mp_skip(p, end);
        if (next == MP_INCOMPLETE) break;
        if (next == MP_INVALID) { protocol_error("forward: invalid msgpack"); return -1; }
        if (forward_message(c, p, next, arrival) < 0) return -1;
        p = next;
    }
    return (const char *)p - c->buf;
}

/* -- bulk: HTTP/1.1, GET / and POST _bulk ---------------------------------------------------- */

static const char info_body[] =
    "{\"name\":\"logship-bench\",\"cluster_name\":\"logship-bench\",\"version\":{\"number\":"
    "\"8.11.0\",\"build_flavor\":\"default\",\"lucene_version\":\"9.8.0\"},\"tagline\":\"You "
    "Know, for Search\"}";
static const char item[] = "{\"create\":{\"status\":201}}";

/* head and body in one write: two writes would meet Nagle's algorithm and the client's delayed
   ACK, and every answer would wait ~40 ms for nothing (the stand-in's lag, not the agent's) */
static int http_answer(struct conn *c, int status, const char *body, size_t n) {
    char *answer = malloc(n + 256);
    if (!answer) { fprintf(stderr, "streamrecv: out of memory\n"); exit(1); }
    int k = snprintf(answer, 256,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nX-elastic-product: "
                     "Elasticsearch\r\nContent-Length: %zu\r\n\r\n",
                     status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request", n);
    memcpy(answer + k, body, n);
    int rc = conn_write(c, answer, (size_t)k + n);
    free(answer);
    return rc;
}

static const char *header_value(const char *head, const char *head_end, const char *name) {
    size_t n = strlen(name);
    for (const char *p = head; p && p < head_end;) {
        const char *nl = memchr(p, '\n', (size_t)(head_end - p));
        if (!nl) break;
        p = nl + 1;
        if ((size_t)(head_end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') v++;
            return v;
        }
    }
    return NULL;
}

/* the documents of one _bulk body; returns the number of actions */
static uint64_t bulk_body(const char *p, size_t n, int64_t arrival) {
    const char *end = p + n;
    uint64_t actions = 0;
    pthread_mutex_lock(&lock);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (line_end == p) { p = line_end + 1; continue; }
        actions++;
        int has_source = line_end - p > 10 && memcmp(p, "{\"delete\"", 9) != 0;
        p = nl ? nl + 1 : end;
        if (!has_source || p >= end) continue;
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        int64_t t = -1;
        if (want_delays) {
            static const char key[] = "\"@timestamp\":";
            const char *ts = memmem(p, (size_t)(line_end - p), key, sizeof key - 1);
            if (ts) {
                ts += sizeof key - 1;
                while (ts < line_end && *ts == ' ') ts++;
                if (ts < line_end && *ts == '"') t = rfc3339_us(ts + 1, line_end);
            }
        }
        count_line(p, (size_t)(line_end - p), t, arrival);
        p = nl ? nl + 1 : end;
    }
    pthread_mutex_unlock(&lock);
    return actions;
}

static long bulk_units(struct conn *c, int64_t arrival) {
    char *p = c->buf, *end = c->buf + c->len;
    while (p < end) {
        char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!head_end) break;
        const char *cl = header_value(p, head_end, "Content-Length");
        const char *te = header_value(p, head_end, "Transfer-Encoding");
        if (te) { protocol_error("bulk: chunked bodies are not supported"); return -1; }
        size_t body_len = cl ? (size_t)strtoull(cl, NULL, 10) : 0;
        char *body = head_end + 4;
        if ((size_t)(end - body) < body_len) break;
        const char *enc = header_value(p, head_end, "Content-Encoding");
        int is_get = strncmp(p, "GET ", 4) == 0, is_post = strncmp(p, "POST ", 5) == 0;
        const char *line_end = memchr(p, '\r', (size_t)(head_end - p));
        int is_bulk = is_post && memmem(p, (size_t)(line_end - p), "/_bulk", 6) != NULL;
        if (is_get) {
            if (http_answer(c, 200, info_body, sizeof info_body - 1) < 0) return -1;
        } else if (is_bulk) {
            const char *docs = body;
            size_t docs_len = body_len;
            if (enc && strncasecmp(enc, "gzip", 4) == 0) {
                long got = inflate_into(c, body, body_len);
                if (got < 0) { protocol_error("bulk: body does not inflate"); return -1; }
                docs = c->out;
                docs_len = (size_t)got;
            }
            uint64_t actions = bulk_body(docs, docs_len, arrival);
            size_t size = 30 + actions * (sizeof item);
            char *answer = malloc(size);
            if (!answer) { fprintf(stderr, "streamrecv: out of memory\n"); exit(1); }
            size_t k = (size_t)sprintf(answer, "{\"errors\":false,\"items\":[");
            for (uint64_t i = 0; i < actions; i++) {
                if (i) answer[k++] = ',';
                memcpy(answer + k, item, sizeof item - 1);
                k += sizeof item - 1;
            }
            answer[k++] = ']';
            answer[k++] = '}';
            int rc = http_answer(c, 200, answer, k);
            free(answer);
            if (rc < 0) return -1;
            pthread_mutex_lock(&lock);
            units++;
            pthread_mutex_unlock(&lock);
        } else {
            static const char nf[] = "{\"error\":\"not found\",\"status\":404}";
            if (http_answer(c, 404, nf, sizeof nf - 1) < 0) return -1;
        }
        p = body + body_len;
    }
    return p - c->buf;
}

/* -- threads ------------------------------------------------------------------------------- */

static void *serve(void *arg) {
    struct conn *c = arg;
    if (tls_ctx) {
        c->ssl = SSL_new(tls_ctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_accept(c->ssl) != 1) {
            char why[200];
            snprintf(why, sizeof why, "TLS handshake: %s",
                     ERR_reason_error_string(ERR_get_error()) ?: "failed");
            protocol_error(why);
            goto done;
        }
    }
    for (;;) {
        if (c->cap - c->len < READ_BYTES) {
            c->cap = c->cap ? c->cap * 2 : 4 * READ_BYTES;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf) { fprintf(stderr, "streamrecv: out of memory\n"); exit(1); }
        }
        long r = conn_read(c, c->buf + c->len, c->cap - c->len);
        if (r <= 0) break;
        int64_t arrival = now_ns();
        c->len += (size_t)r;
        long used;
        if (proto == SYSLOG) {
            pthread_mutex_lock(&lock);
            used = syslog_units(c, arrival);
            pthread_mutex_unlock(&lock);
        } else if (proto == FORWARD) {
            used = forward_units(c, arrival);
        } else {
            used = bulk_units(c, arrival);
        }
        pthread_mutex_lock(&lock);
        bytes += (uint64_t)r;
        pthread_mutex_unlock(&lock);
        if (used < 0) break;
        memmove(c->buf, c->buf + used, c->len - (size_t)used);
        c->len -= (size_t)used;
    }
done:
    if (c->ssl) { SSL_shutdown(c->ssl); SSL_free(c->ssl); }
    close(c->fd);
    if (c->z_ready) inflateEnd(&c->z);
    free(c->buf);
    free(c->out);
    free(c);
    return NULL;
}

int main(int argc, char **argv) {
    const char *proto_name = NULL, *cert = NULL, *key = NULL;
    if (argc < 3) goto usage;
    producers = atol(argv[1]);
    lines_per = atol(argv[2]);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--delays") == 0) want_delays = 1;
        else if (strcmp(argv[i], "--proto") == 0 && i + 1 < argc) proto_name = argv[++i];
        else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) { cert = argv[++i]; key = argv[++i]; }
        else goto usage;
    }
    if (!proto_name || producers < 1 || lines_per < 1) goto usage;
    if (strcmp(proto_name, "syslog") == 0) proto = SYSLOG;
    else if (strcmp(proto_name, "forward") == 0) proto = FORWARD;
    else if (strcmp(proto_name, "bulk") == 0) proto = BULK;
    else goto usage;
    seen = calloc((size_t)producers * (size_t)lines_per / 8 + 1, 1);
    if (!seen) { fprintf(stderr, "streamrecv: out of memory\n"); return 1; }
    if (cert) {
        tls_ctx = SSL_CTX_new(TLS_server_method());
        if (!tls_ctx || SSL_CTX_use_certificate_chain_file(tls_ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls_ctx, key, SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "streamrecv: cannot load %s / %s\n", cert, key);
            ERR_print_errors_fp(stderr);
            return 1;
        }
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0) {
        perror("bind/listen");
        return 1;
    }
    int got = announce_port(fd);

    while (!stopping) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) {
            int cfd = accept(fd, NULL, NULL);
            if (cfd >= 0) {
                struct conn *c = calloc(1, sizeof *c);
                if (!c) { fprintf(stderr, "streamrecv: out of memory\n"); return 1; }
                c->fd = cfd;
                int nodelay = 1; /* acks and answers go out at once */
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
                pthread_mutex_lock(&lock);
                connections++;
                pthread_mutex_unlock(&lock);
                pthread_t t;
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                if (pthread_create(&t, &attr, serve, c) != 0) { close(cfd); free(c); }
                pthread_attr_destroy(&attr);
            }
        }
        pthread_mutex_lock(&lock);
        printf("S %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 "\n", total, distinct,
               dups, unparsed, last_ns);
        pthread_mutex_unlock(&lock);
        fflush(stdout);
    }

    pthread_mutex_lock(&lock); /* connection threads stop counting from here */
    qsort(delays, ndelays, sizeof *delays, cmp_i64);
    printf("F {\"datagrams\": %" PRIu64 ", \"distinct\": %" PRIu64 ", \"duplicates\": %" PRIu64
           ", \"unparsed\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"first_arrival_ns\": %" PRId64
           ", \"last_arrival_ns\": %" PRId64 ", \"rcvbuf_bytes\": %d, \"connections\": %" PRIu64
           ", \"units\": %" PRIu64 ", \"acks\": %" PRIu64 ", \"protocol_errors\": %" PRIu64
           ", \"inflate_errors\": %" PRIu64 ", \"first_error\": \"",
           total, distinct, dups, unparsed, bytes, first_ns, last_ns, got, connections, units, acks,
           protocol_errors, inflate_errors);
    for (const char *e = first_error; *e; e++)
        if (*e != '"' && *e != '\\' && (unsigned char)*e >= 0x20) putchar(*e);
    printf("\"");
    if (want_delays) print_delays(delays, ndelays, bad_time);
    printf("}\n");
    fflush(stdout);
    return 0;

usage:
    fprintf(stderr,
            "usage: %s PRODUCERS LINES_PER_PRODUCER --proto syslog|forward|bulk "
            "[--tls CERT KEY] [--delays]\n",
            argv[0]);
    return 2;
}
