/*
 * store_bench.c: timings of the store API itself (the calls `keepon serve` makes), the same
 * for every backend, so bench/store.sh can put SQLite and ClickHouse side by side.
 *
 *   store_bench ingest URL WRITERS TOTAL BATCH   WRITERS processes, each its own store handle,
 *                                                put_batch of distinct measurements; prints
 *                                                "ingest writers=W batch=B msm/s=R"
 *   store_bench agg URL RUNS                     OONI aggregation axis_x=measurement_start_day,
 *                                                axis_y=probe_cc, test_name=web_connectivity
 *   store_bench list URL RUNS                    listing: probe_cc=IR, web_connectivity,
 *                                                anomaly=1, one month, 50 rows
 *   store_bench signals URL RUNS ENTITIES DAYS   one random entity's month (DAYS) of points
 *   The query modes print "NAME runs=N p50_ms=X p99_ms=Y rows=R" (R: rows of the last run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static void report(const char *name, double *t, int n, long rows) {
  qsort(t, (size_t)n, sizeof *t, cmp_d);
  int i99 = (int)(0.99 * (n - 1) + 0.5);
  printf("%s runs=%d p50_ms=%.1f p99_ms=%.1f rows=%ld\n", name, n, t[(n - 1) / 2] * 1e3, t[i99] * 1e3, rows);
}

static kp_store_t *open_or_die(const char *url) {
  kp_store_t *s = NULL;
  kp_status_t st = kp_store_open(url, &s);
  if (st != KP_OK) {
    fprintf(stderr, "store_bench: cannot open %s: %s\n", url, kp_strstatus(st));
    exit(1);
  }
  return s;
}

static int writer(const char *url, int id, int count, int batch) {
  kp_store_t *s = open_or_die(url);
  kp_store_msm_t *m = calloc((size_t)batch, sizeof *m);
  kp_store_put_result_t *r = calloc((size_t)batch, sizeof *r);
  char (*uid)[48] = calloc((size_t)batch, 48), (*hash)[72] = calloc((size_t)batch, 72),
       (*body)[700] = calloc((size_t)batch, 700);
  static const char *const cc[] = {"IT", "KZ", "IR", "RU", "MM"};
  long salt = (long)time(NULL);
  for (int done = 0; done < count;) {
    int k = count - done < batch ? count - done : batch;
    for (int i = 0; i < k; i++) {
      int n = done + i;
      snprintf(uid[i], 48, "w%d_%d_%ld", id, n, salt);
      snprintf(hash[i], 72, "%016lx%08x%08x", salt, (unsigned)id, (unsigned)n);
      int bl = snprintf(body[i], 700,
                        "{\"probe_cc\":\"%s\",\"probe_asn\":\"AS1234\",\"test_name\":\"web_connectivity\","
                        "\"test_start_time\":\"2022-01-05 10:00:00\",\"measurement_start_time\":\"2022-01-05 10:00:0%d\","
                        "\"input\":\"https://load.example/%d/%d\",\"test_keys\":{\"dns_experiment_failure\":null,"
                        "\"blocking\":false,\"accessible\":true,\"keepon_verdict\":\"ok\",\"keepon_technique\":null,"
                        "\"queries\":[{\"hostname\":\"load.example\",\"answers\":[{\"ipv4\":\"198.18.0.1\"}]}],"
                        "\"requests\":[{\"response\":{\"code\":200,\"body\":\"<html>hello</html>\"}}]}}",
                        cc[n % 5], n % 10, id, n);
      m[i] = (kp_store_msm_t){.uid = uid[i], .content_hash = hash[i], .report_id = "r", .probe_cc = cc[n % 5],
                              .probe_asn = "AS1234", .test_name = "web_connectivity", .input = body[i],
                              .domain = "load.example", .start_time = 1641376800 + n, .recv_time = 1641376800 + n,
                              .blocking_type = "", .seq = -1, .body = body[i], .body_len = (size_t)bl};
    }
    if (kp_store_put_batch(s, m, (size_t)k, r) != KP_OK) return 1;
    done += k;
  }
  kp_store_close(s);
  return 0;
}

static int cb_count(void *ctx, const void *x) {
  (void)x;
  (*(long *)ctx)++;
  return 0;
}
static int msm_cb(void *ctx, const kp_store_msm_t *m) { return cb_count(ctx, m); }
static int agg_cb(void *ctx, const kp_store_agg_row_t *r) { return cb_count(ctx, r); }
static int sig_cb(void *ctx, const kp_store_signal_t *g) { return cb_count(ctx, g); }

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: store_bench ingest|agg|list|signals URL ...\n");
    return 2;
  }
  const char *mode = argv[1], *url = argv[2];
  if (!strcmp(mode, "ingest") && argc == 6) {
    int w = atoi(argv[3]), total = atoi(argv[4]), batch = atoi(argv[5]);
    kp_store_close(open_or_die(url)); /* migrations once, before the writers race */
    double t0 = now_s();
    for (int i = 0; i < w; i++)
      if (fork() == 0) _exit(writer(url, i, total / w, batch));
    int bad = 0, st;
    while (wait(&st) > 0) bad |= !WIFEXITED(st) || WEXITSTATUS(st);
    double dt = now_s() - t0;
    printf("ingest writers=%d batch=%d msm/s=%.0f secs=%.2f%s\n", w, batch, (total / w) * w / dt, dt,
           bad ? " (a writer failed)" : "");
    return bad;
  }
  int runs = atoi(argv[3]);
  if (runs < 1 || runs > 10000) return 2;
  double *t = calloc((size_t)runs, sizeof *t);
  kp_store_t *s = open_or_die(url);
  long rows = 0;
  unsigned seed = 7;
  for (int i = 0; i < runs; i++) {
    kp_store_filter_t f;
    kp_store_filter_init(&f);
    rows = 0;
    double t0 = now_s();
    kp_status_t st = KP_ERR_INVAL;
    if (!strcmp(mode, "agg")) {
      f.test_name = "web_connectivity";
      kp_store_agg_t a = {.axis_x = "measurement_start_day", .axis_y = "probe_cc", .time_grain = "day"};
      st = kp_store_aggregate(s, &f, &a, agg_cb, &rows);
    } else if (!strcmp(mode, "list")) {
      f.probe_cc = "IR", f.test_name = "web_connectivity", f.anomaly = 1;
      f.since = 1640995200 + 86400 * 30 * (i % 11), f.until = f.since + 86400 * 30, f.limit = 50;
      st = kp_store_query(s, &f, msm_cb, &rows);
    } else if (!strcmp(mode, "signals") && argc == 6) {
      int ents = atoi(argv[4]), days = atoi(argv[5]);
      seed = seed * 1103515245u + 12345u;
      char code[16];
      snprintf(code, sizeof code, "E%u", 1000000u + (seed >> 8) % (unsigned)ents);
      st = kp_store_query_signals(s, "asn", code, NULL, 1640995200, 1640995200 + 86400LL * days, sig_cb, &rows);
    }
    t[i] = now_s() - t0;
    if (st != KP_OK) {
      fprintf(stderr, "store_bench %s: %s\n", mode, kp_strstatus(st));
      return 1;
    }
  }
  report(mode, t, runs, rows);
  kp_store_close(s);
  return 0;
}
