/* criwriter.c: writes container logs in the CRI format as containerd does on a Kubernetes
 * node, for the benchmark's CRI scenarios (bench/criwriter.py starts it).
 *
 *   criwriter [options] FILE...
 *
 * Each FILE is one container's log (<pods>/<ns>_<pod>_<uid>/<container>/0.log, made by the
 * caller). File k gets LINES lines whose message is the producers' mark "~K:SEQ:" padded with
 * zeros to LINE_BYTES bytes counting the newline, so the receivers count them like Docker
 * producers' lines. Every line is "<time> stdout <P|F> <message>\n": the time is
 * CLOCK_REALTIME read for that line, in RFC 3339 with nanoseconds and trailing zeros trimmed
 * (Go's RFC3339Nano, as containerd writes it).
 *
 * It writes nothing until a byte arrives on stdin ("go"), then:
 *   - flood (no --rate): as fast as it can, a block of BLOCK_BYTES per file in turn;
 *   - steady (--rate R): R lines/s per file, one write(2) per line as containerd does.
 * --partial-every N: every Nth line is written as two pieces, "P" then "F" (the runtime's
 * split of a long line), which a reader joins back into one message.
 * --rotate-bytes B (with --rotate-check-ms M): every M ms, a file of B bytes or more is
 * rotated as the kubelet does it: renamed to 0.log.<YYYYMMDD-HHMMSS>, and the writer reopens
 * 0.log (containerd's ReopenContainerLog). At most one rotation per file per second (the
 * name has whole seconds). Rotated files are kept (the kubelet would gzip all but the newest
 * and delete the oldest; a reader never reads those).
 *
 * At the end it prints one JSON line with what it did and its own CPU time, and exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_BYTES (64 * 1024)
#define MAX_LINE 4096

typedef struct {
    const char *path;
    int fd;
    long written;      /* lines (messages) so far */
    long bytes;        /* bytes in the current file */
    time_t rotated_at; /* second of the last rotation */
} logfile;

static long lines = 1000, line_bytes = 100, partial_every = 0, rotate_bytes = 0;
static long rotate_check_ms = 1000, idx_width = 3, seq_width = 8;
static double rate = 0;
static long rotations = 0, pieces = 0;
static int64_t total_bytes = 0;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "2026-12-05T15:08:21.12345Z" for now: whole seconds formatted once per second */
static size_t stamp(char *out) {
    static time_t cached = -1;
    static char head[32];
    static size_t head_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        head_len = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
        cached = ts.tv_sec;
    }
    memcpy(out, head, head_len);
    size_t n = head_len;
    long ns = ts.tv_nsec;
    if (ns) {
        char frac[9];
        for (int i = 8; i >= 0; i--, ns /= 10) frac[i] = (char)('0' + ns % 10);
        int keep = 9;
        while (frac[keep - 1] == '0') keep--;
        out[n++] = '.';
        memcpy(out + n, frac, (size_t)keep);
        n += (size_t)keep;
    }
    out[n++] = 'Z';
    return n;
}

static void put_number(char *out, long v, long width) {
    for (long i = width - 1; i >= 0; i--, v /= 10) out[i] = (char)('0' + v % 10);
}

/* one message's CRI line(s) for file k, line seq, appended at out; returns the bytes */
static size_t cri_lines(char *out, long k, long seq, const char *pad, size_t pad_len) {
    char msg[MAX_LINE];
    size_t m = 0;
    msg[m++] = '~';
    put_number(msg + m, k, idx_width);
    m += (size_t)idx_width;
    msg[m++] = ':';
    put_number(msg + m, seq, seq_width);
    m += (size_t)seq_width;
    msg[m++] = ':';
    memcpy(msg + m, pad, pad_len);
    m += pad_len; /* the message, without its newline */
    size_t n = 0;
    size_t split = partial_every > 0 && (seq + 1) % partial_every == 0 ? m / 2 : 0;
    if (split) {
        n += stamp(out + n);
        memcpy(out + n, " stdout P ", 10);
        n += 10;
        memcpy(out + n, msg, split);
        n += split;
        out[n++] = '\n';
        pieces++;
    }
    n += stamp(out + n);
    memcpy(out + n, " stdout F ", 10);
    n += 10;
    memcpy(out + n, msg + split, m - split);
    n += m - split;
    out[n++] = '\n';
    return n;
}

static int open_log(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "criwriter: cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

static void write_all(logfile *f, const char *buf, size_t len) {
    while (len) {
        ssize_t w = write(f->fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "criwriter: write %s: %s\n", f->path, strerror(errno));
            exit(1);
        }
        buf += w;
        len -= (size_t)w;
        f->bytes += w;
        total_bytes += w;
    }
}

/* the kubelet's rotation: rename 0.log to 0.log.<time>, then the runtime reopens 0.log */
static void maybe_rotate(logfile *f) {
    if (!rotate_bytes || f->bytes < rotate_bytes) return;
    time_t now = time(NULL);
    if (now == f->rotated_at) return;
    struct tm tm;
    gmtime_r(&now, &tm);
    char suffix[32], target[4096];
    strftime(suffix, sizeof suffix, "%Y%m%d-%H%M%S", &tm);
    snprintf(target, sizeof target, "%s.%s", f->path, suffix);
    if (rename(f->path, target) != 0) {
        fprintf(stderr, "criwriter: rename %s: %s\n", f->path, strerror(errno));
        exit(1);
    }
    close(f->fd);
    f->fd = open_log(f->path);
    f->bytes = 0;
    f->rotated_at = now;
    rotations++;
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--lines N] [--line-bytes B] [--rate R] [--partial-every N]\n"
            "          [--rotate-bytes B] [--rotate-check-ms M] [--idx-width W] [--seq-width W]"
            " FILE...\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc) usage(argv[0]);
        const char *v = argv[i + 1];
        if (!strcmp(argv[i], "--lines")) lines = atol(v);
        else if (!strcmp(argv[i], "--line-bytes")) line_bytes = atol(v);
        else if (!strcmp(argv[i], "--rate")) rate = atof(v);
        else if (!strcmp(argv[i], "--partial-every")) partial_every = atol(v);
        else if (!strcmp(argv[i], "--rotate-bytes")) rotate_bytes = atol(v);
        else if (!strcmp(argv[i], "--rotate-check-ms")) rotate_check_ms = atol(v);
        else if (!strcmp(argv[i], "--idx-width")) idx_width = atol(v);
        else if (!strcmp(argv[i], "--seq-width")) seq_width = atol(v);
        else usage(argv[0]);
    }
    int nfiles = argc - i;
    long pad_len = line_bytes - 1 - (1 + idx_width + 1 + seq_width + 1);
    if (nfiles < 1 || lines < 1 || pad_len < 0 || line_bytes > MAX_LINE - 64) usage(argv[0]);
    char pad[MAX_LINE];
    memset(pad, '0', (size_t)pad_len);
    logfile *files = calloc((size_t)nfiles, sizeof *files);
    for (int k = 0; k < nfiles; k++) {
        files[k].path = argv[i + k];
        files[k].fd = open_log(files[k].path);
        files[k].rotated_at = -1;
    }
    printf("READY\n");
    fflush(stdout);
    char go;
    if (read(0, &go, 1) != 1) return 1; /* the benchmark closed stdin: never started */

    int64_t start = now_ns(), started = mono_ns();
    int64_t next_check = started + rotate_check_ms * 1000000;
    char *block = malloc(BLOCK_BYTES + 2 * MAX_LINE);
    int left = nfiles;
    if (rate <= 0) { /* flood: a block per file in turn */
        while (left) {
            for (int k = 0; k < nfiles; k++) {
                logfile *f = &files[k];
                if (f->written >= lines) continue;
                size_t n = 0;
                while (n < BLOCK_BYTES && f->written < lines)
                    n += cri_lines(block + n, k, f->written++, pad, (size_t)pad_len);
                write_all(f, block, n);
                if (f->written >= lines) left--;
            }
            if (rotate_bytes && mono_ns() >= next_check) {
                for (int k = 0; k < nfiles; k++) maybe_rotate(&files[k]);
                next_check = mono_ns() + rotate_check_ms * 1000000;
            }
        }
    } else { /* steady: each file's due lines, one write per line, every 10 ms */
        while (left) {
            double elapsed = (double)(mono_ns() - started) / 1e9;
            long due = (long)(elapsed * rate) + 1;
            if (due > lines) due = lines;
            for (int k = 0; k < nfiles; k++) {
                logfile *f = &files[k];
                while (f->written < due) {
                    size_t n = cri_lines(block, k, f->written++, pad, (size_t)pad_len);
                    write_all(f, block, n);
                    if (f->written >= lines) left--;
                }
            }
            if (rotate_bytes && mono_ns() >= next_check) {
                for (int k = 0; k < nfiles; k++) maybe_rotate(&files[k]);
                next_check = mono_ns() + rotate_check_ms * 1000000;
            }
            if (left) {
                struct timespec nap = {0, 10 * 1000000};
                nanosleep(&nap, NULL);
            }
        }
    }
    int64_t end = now_ns();
    for (int k = 0; k < nfiles; k++) close(files[k].fd);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("{\"files\": %d, \"lines\": %ld, \"bytes\": %" PRId64 ", \"pieces\": %ld, "
           "\"rotations\": %ld, \"start_ns\": %" PRId64 ", \"end_ns\": %" PRId64
           ", \"cpu_secs\": %.3f}\n",
           nfiles, lines * nfiles, total_bytes, pieces, rotations, start, end, cpu);
    return 0;
}
