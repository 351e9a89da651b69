/* floorship: the least a shipper of Docker's json-file logs can do, as a measuring stick for the
 * Docker flood passes (bench/throughput.py --source floor, floor-threads).
 *
 * It follows the json-file logs it is given from their start and sends each line to the UDP
 * receiver as one datagram of the agent's size: the agent's RFC 5424 header (given as hex, made
 * by logship's own encoder), Docker's time as written, and the line's text as written (not
 * unescaped, never checked). No buffer, no routing, no positions, no checkpoints, no event
 * loop: read, find three fields, copy, sendmmsg(). Files are read in 256 KiB blocks; when a
 * round over every file finds nothing new it sleeps 1 ms (a flood never lets it).
 *
 * One thread reads every file (as the agent does), or with --threads one thread a file, each
 * with its own socket: what a shipper gets that can be scheduled on more than one core.
 *
 * Usage: floorship PORT LINES_PER_FILE BEFORE_HEX BETWEEN_HEX [--threads] FILE...
 * Once every file gave LINES_PER_FILE lines it prints on stderr "floorship: N lines, user U s,
 * sys S s" and waits for SIGTERM, so that its CPU time stays readable in /proc until the
 * benchmark has read it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (256 * 1024)
#define BATCH 256
#define SLOT 2048

static unsigned char before[1024], between[1024];
static size_t before_len, between_len;
static int port;
static long lines_per_file;

struct file {
    const char *path;
    int fd;
    char *buf;
    size_t len;
    long lines;
};

struct shipper {
    struct file *files;
    int nfiles;
    int sock;
    char slots[BATCH][SLOT];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    int pending;
};

static size_t unhex(const char *hex, unsigned char *out, size_t cap) {
    size_t n = strlen(hex) / 2;
    if (n > cap) {
        fprintf(stderr, "floorship: header too long\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return n;
}

static int udp_socket(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int sndbuf = 4 * 1024 * 1024;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) {
        perror("floorship: connect");
        exit(2);
    }
    return s;
}

static void flush(struct shipper *sh) {
    int done = 0;
    while (done < sh->pending) {
        int n = sendmmsg(sh->sock, sh->msgs + done, (unsigned)(sh->pending - done), 0);
        if (n > 0) {
            done += n;
        } else if (errno == ECONNREFUSED) {
            done++; /* as UDP goes: that datagram is gone */
        } else if (errno != EINTR) {
            perror("floorship: sendmmsg");
            exit(2);
        }
    }
    sh->pending = 0;
}

static void ship(struct shipper *sh, const char *line, size_t len) {
    static const char head[] = "{\"log\":\"", tail[] = "\",\"stream\":\"", tkey[] = "\"time\":\"";
    const char *text = line, *ts = "", *end;
    size_t text_len = len, ts_len = 0;
    if (len > sizeof head - 1 && memcmp(line, head, sizeof head - 1) == 0 &&
        (end = memmem(line, len, tail, sizeof tail - 1)) != NULL) {
        text = line + sizeof head - 1;
        text_len = (size_t)(end - text);
        if (text_len >= 2 && text[text_len - 2] == '\\' && text[text_len - 1] == 'n') text_len -= 2;
        const char *t = memmem(end, len - (size_t)(end - line), tkey, sizeof tkey - 1);
        if (t != NULL) {
            ts = t + sizeof tkey - 1;
            const char *q = memchr(ts, '"', len - (size_t)(ts - line));
            ts_len = q ? (size_t)(q - ts) : 0;
        }
    }
    char *slot = sh->slots[sh->pending];
    size_t room = SLOT - before_len - between_len - ts_len;
    if (text_len > room) text_len = room;
    memcpy(slot, before, before_len);
    memcpy(slot + before_len, ts, ts_len);
    memcpy(slot + before_len + ts_len, between, between_len);
    memcpy(slot + before_len + ts_len + between_len, text, text_len);
    sh->iov[sh->pending].iov_len = before_len + ts_len + between_len + text_len;
    if (++sh->pending == BATCH) flush(sh);
}

/* Reads what is new in f and ships its whole lines; returns the bytes read. */
static size_t step(struct shipper *sh, struct file *f) {
    if (f->fd < 0) {
        f->fd = open(f->path, O_RDONLY);
        if (f->fd < 0) return 0;
    }
    ssize_t n = read(f->fd, f->buf + f->len, BLOCK - f->len);
    if (n <= 0) return 0;
    f->len += (size_t)n;
    char *p = f->buf, *stop = f->buf + f->len, *nl;
    while ((nl = memchr(p, '\n', (size_t)(stop - p))) != NULL) {
        ship(sh, p, (size_t)(nl - p));
        f->lines++;
        p = nl + 1;
    }
    if (p == f->buf && f->len == BLOCK) { /* a line longer than the block: ship what is here */
        ship(sh, p, f->len);
        p = stop;
    }
    f->len = (size_t)(stop - p);
    memmove(f->buf, p, f->len);
    return (size_t)n;
}

static void *run(void *arg) {
    struct shipper *sh = arg;
    sh->sock = udp_socket();
    for (int i = 0; i < BATCH; i++) {
        sh->iov[i].iov_base = sh->slots[i];
        sh->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &sh->iov[i], .msg_iovlen = 1};
    }
    for (;;) {
        size_t got = 0;
        int left = 0;
        for (int i = 0; i < sh->nfiles; i++) {
            struct file *f = &sh->files[i];
            if (f->lines >= lines_per_file) continue;
            got += step(sh, f);
            left += f->lines < lines_per_file;
        }
        if (got == 0 || left == 0) flush(sh);
        if (left == 0) return NULL;
        if (got == 0) nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: floorship PORT LINES_PER_FILE BEFORE_HEX BETWEEN_HEX [--threads] FILE...\n");
        return 2;
    }
    port = atoi(argv[1]);
    lines_per_file = atol(argv[2]);
    before_len = unhex(argv[3], before, sizeof before);
    between_len = unhex(argv[4], between, sizeof between);
    int first = 5, threads = 0;
    if (strcmp(argv[5], "--threads") == 0) threads = 1, first = 6;
    int nfiles = argc - first;
    struct file *files = calloc((size_t)nfiles, sizeof *files);
    for (int i = 0; i < nfiles; i++) {
        files[i] = (struct file){.path = argv[first + i], .fd = -1, .buf = malloc(BLOCK)};
    }
    int nshippers = threads ? nfiles : 1;
    struct shipper *shippers = calloc((size_t)nshippers, sizeof *shippers);
    pthread_t *tids = calloc((size_t)nshippers, sizeof *tids);
    for (int i = 0; i < nshippers; i++) {
        shippers[i].files = threads ? &files[i] : files;
        shippers[i].nfiles = threads ? 1 : nfiles;
        pthread_create(&tids[i], NULL, run, &shippers[i]);
    }
    long lines = 0;
    for (int i = 0; i < nshippers; i++) pthread_join(tids[i], NULL);
    for (int i = 0; i < nfiles; i++) lines += files[i].lines;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "floorship: %ld lines, user %.2f s, sys %.2f s\n", lines,
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    for (;;) pause();
}
