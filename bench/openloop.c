/* Open-loop HTTP/1.1 load for bench/openloop.py, in C so that the load generator's own
 * CPU (it shares the host's cores with the service) and pauses stay out of the latencies,
 * as with wrk2.
 *
 *   openloop open PORT KEY PATH RUN BATCH RATE SECONDS   -> latencies from intended starts
 *   openloop sat  PORT KEY PATH RUN BATCH CONNS SECONDS  -> requests/s, closed loop
 *
 * The i-th request is due at t0 + i/RATE; it goes out on the connection idle the longest
 * (a new one if none is idle), and its latency runs from when it was due to its answer's
 * last byte, so a stall counts for every request due during it. Bodies are 1 event per
 * item with fresh ids, as bench/openloop.py's Batches make them. Prints one JSON object.
 * Built by bench/openloop.py with the system's cc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 900
#define BUF (1 << 20)

static const char *TEXT =
    "Refactor the parser: quoted names, caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac"
    "\xe8\xaa\x9e, paths like C:/tmp/x. ";

typedef struct {
  int fd, busy, want_out; /* want_out: EPOLLOUT armed, the kernel took part of a body */
  char *out;
  size_t out_len, out_off;
  char *in;
  size_t in_len;
  double due;
} conn_t;

static conn_t conns[MAX_CONNS];
static int nconns, idle[MAX_CONNS], idle_head, idle_count;
static int port, batch, epfd;
static const char *key, *path, *run;
static long sent_count, done_count, failures, waited;
static double *latencies;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void push_idle(int i) {
  idle[(idle_head + idle_count) % MAX_CONNS] = i;
  idle_count++;
}

static int pop_idle(void) {
  int i = idle[idle_head];
  idle_head = (idle_head + 1) % MAX_CONNS;
  idle_count--;
  return i;
}

static int open_conn(void) {
  if (nconns == MAX_CONNS) {
    fprintf(stderr, "more than %d connections asked for\n", MAX_CONNS);
    exit(3);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  conn_t *c = &conns[nconns];
  c->fd = fd;
  c->out = malloc(BUF);
  c->in = malloc(BUF);
  if (!c->out || !c->in) die("malloc");
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)nconns};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  return nconns++;
}

static void flush_out(int i) {
  conn_t *c = &conns[i];
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0) {
      if (errno == EAGAIN) {
        if (!c->want_out) {
          struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
          epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
          c->want_out = 1;
        }
        return;
      }
      die("write");
    }
    c->out_off += (size_t)n;
  }
  if (c->want_out) { /* only then: a syscall per request is CPU the service's cores lose */
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = 0;
  }
}

static void send_request(int i, double due) {
  static char body[BUF - 4096];
  conn_t *c = &conns[i];
  long n = ++sent_count;
  size_t len = 0;
  body[len++] = '[';
  for (int k = 0; k < batch; k++) {
    len += (size_t)snprintf(body + len, sizeof body - len,
                            "%s{\"id\":\"%s-%ld-%d\",\"session_id\":\"%s-s%ld\","
                            "\"occurred_at\":\"2026-05-05T12:00:00Z\",\"source\":\"agent\","
                            "\"type\":\"note\",\"text\":\"%s%s%s%s%s%s%s%s\"}",
                            k ? "," : "", run, n, k, run, n % 512, TEXT, TEXT, TEXT, TEXT, TEXT,
                            TEXT, TEXT, TEXT);
  }
  body[len++] = ']';
  c->out_len = (size_t)snprintf(c->out, BUF,
                                "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Clone-API-Key: %s\r\n"
                                "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                                path, key, len);
  memcpy(c->out + c->out_len, body, len);
  c->out_len += len;
  c->out_off = 0;
  c->busy = 1;
  c->due = due;
  flush_out(i);
}

/* The length of the whole answer at the start of c->in once its headers are in, else 0. */
static size_t answer_length(conn_t *c) {
  c->in[c->in_len] = 0;
  char *end = strstr(c->in, "\r\n\r\n");
  if (!end) return 0;
  size_t length = 0;
  for (char *p = c->in; p < end; p++) {
    if (strncasecmp(p, "\r\ncontent-length:", 17) == 0) {
      length = strtoul(p + 17, NULL, 10);
      break;
    }
  }
  return (size_t)(end + 4 - c->in) + length;
}

/* 1 when a whole answer is in; its status is checked, the buffer emptied. Reads stop at a
 * whole answer (one read, most often), not at EAGAIN: a read fewer per request. */
static int read_answer(int i) {
  conn_t *c = &conns[i];
  size_t whole = 0;
  for (;;) {
    ssize_t n = read(c->fd, c->in + c->in_len, BUF - 1 - c->in_len);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      fprintf(stderr, "connection closed by the service\n");
      exit(4);
    }
    c->in_len += (size_t)n;
    whole = answer_length(c);
    if (whole && c->in_len >= whole) break;
  }
  if (!whole || c->in_len < whole) return 0;
  int status = atoi(c->in + 9);
  if (status != 200 && status != 201) failures++;
  c->in_len = 0;
  c->busy = 0;
  return 1;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: openloop open|sat PORT KEY PATH RUN BATCH RATE|CONNS SECONDS\n");
    return 2;
  }
  int open_loop = strcmp(argv[1], "open") == 0;
  port = atoi(argv[2]);
  key = argv[3];
  path = argv[4];
  run = argv[5];
  batch = atoi(argv[6]);
  double rate = atof(argv[7]), seconds = atof(argv[8]);
  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  struct epoll_event events[MAX_CONNS + 1];

  if (!open_loop) { /* closed loop: CONNS senders, each sends again on its answer */
    int senders = (int)rate;
    for (int k = 0; k < senders; k++) send_request(open_conn(), 0);
    double start = now(), deadline = start + seconds;
    while (now() < deadline) {
      int n = epoll_wait(epfd, events, MAX_CONNS, 100);
      for (int e = 0; e < n; e++) {
        int i = (int)events[e].data.u32;
        if (events[e].events & EPOLLOUT) flush_out(i);
        if ((events[e].events & EPOLLIN) && read_answer(i)) {
          done_count++;
          send_request(i, 0);
        }
      }
    }
    printf("{\"requests\":%ld,\"rps\":%.1f,\"failures\":%ld}\n", done_count,
           done_count / (now() - start), failures);
    return 0;
  }

  long total = (long)(rate * seconds);
  latencies = malloc(sizeof(double) * (size_t)total);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.u32 = MAX_CONNS};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
  for (int k = 0; k < 16; k++) push_idle(open_conn()); /* as many as the warm Python pool */
  double t0 = now() + 0.05;
  long next = 0, last_waiting = -1;
  while (done_count < total) {
    double t = now();
    int blocked = 0;
    while (next < total && t0 + next / rate <= t) {
      if (!idle_count && nconns == MAX_CONNS) { /* far past saturation: wait for an answer, */
        blocked = 1; /* as wrk2's connections do; the latency still counts from the due time */
        if (next > last_waiting) waited++, last_waiting = next; /* each request once */
        break;
      }
      int i = idle_count ? pop_idle() : open_conn();
      send_request(i, t0 + next / rate);
      next++;
    }
    if (next < total && !blocked) { /* wake when the next request is due */
      double due = t0 + next / rate;
      struct itimerspec its = {0};
      its.it_value.tv_sec = (time_t)due;
      its.it_value.tv_nsec = (long)((due - (double)(time_t)due) * 1e9);
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    int n = epoll_wait(epfd, events, MAX_CONNS + 1, 1000);
    for (int e = 0; e < n; e++) {
      uint32_t i = events[e].data.u32;
      if (i == MAX_CONNS) {
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd");
        continue;
      }
      if (events[e].events & EPOLLOUT) flush_out((int)i);
      if ((events[e].events & EPOLLIN) && read_answer((int)i)) {
        latencies[done_count++] = now() - conns[i].due;
        push_idle((int)i);
      }
    }
  }
  double elapsed = now() - t0;
  qsort(latencies, (size_t)total, sizeof(double), cmp);
#define AT(q) (latencies[(long)((q) * total) < total ? (long)((q) * total) : total - 1] * 1000)
  printf("{\"rate\":%.1f,\"requests\":%ld,\"achieved_rate\":%.1f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
         "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"failures\":%ld,\"connections\":%d,"
         "\"waits_for_a_connection\":%ld}\n",
         rate, total, total / elapsed, AT(0.50), AT(0.90), AT(0.99),
         latencies[total - 1] * 1000, failures, nconns, waited);
  return 0;
}
