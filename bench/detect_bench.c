/*
 * detect_bench.c: the IODA-rule detector over many entities of synthetic
 * 5-minute signals, generated in memory (no files), one series per entity at a
 * time per thread so memory stays flat.
 *
 *   bench_detect [ENTITIES [BINS [THREADS [HISTORY_BINS]]]]
 *   defaults: 10000 entities, 105120 bins (one year of 5-min bins), all CPUs,
 *   history 2016 bins (7 days: active probing)
 *
 * Each series: a per-entity level (100..10099), ±2 % noise, a daily wave, and
 * one injected outage (value × 0.1 for 6 hours) at an entity-dependent time.
 * Prints points, seconds, points/s, events, outages recovered and peak RSS.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "detect/detect.h"

typedef struct job {
  size_t first, stride, entities, bins;
  long history;
  size_t events, found;
  int err;
} job_t;

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void *work(void *arg) {
  job_t *j = arg;
  double *v = malloc(j->bins * sizeof *v);
  if (!v) { j->err = 1; return NULL; }
  kp_detect_cfg_t cfg;
  kp_detect_cfg_default(&cfg);
  kp_ioda_params_t p = cfg.active;
  p.history = (kp_span_t){j->history, true};
  const int64_t step = 300, t0 = 1640995200;
  for (size_t e = j->first; e < j->entities; e += j->stride) {
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ (e * 0x100000001b3ULL + 1);
    double level = 100 + (double)(rng(&s) % 10000);
    size_t out0 = 4032 + (size_t)(rng(&s) % (j->bins > 8064 ? j->bins - 8064 : 1));
    for (size_t i = 0; i < j->bins; i++) {
      double noise = ((double)(rng(&s) % 4001) / 100000.0) - 0.02;
      double wave = 0.05 * (double)((i % 288) < 144 ? (i % 288) : 288 - (i % 288)) / 144.0;
      v[i] = level * (1 + noise + wave);
      if (i >= out0 && i < out0 + 72) v[i] *= 0.1;
    }
    kp_event_list_t ev = {0};
    if (kp_ioda_run(&p, v, j->bins, t0, step, &ev) != KP_OK) { j->err = 1; break; }
    j->events += ev.n;
    int64_t o0 = t0 + (int64_t)out0 * step, o1 = o0 + 72 * step;
    for (size_t k = 0; k < ev.n; k++)
      if (ev.v[k].start == o0 && ev.v[k].end == o1 && ev.v[k].level == KP_LVL_CRITICAL) { j->found++; break; }
    kp_events_free(&ev);
  }
  free(v);
  return NULL;
}

int main(int argc, char **argv) {
  size_t entities = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
  size_t bins = argc > 2 ? strtoul(argv[2], NULL, 10) : 105120;
  long threads = argc > 3 ? strtol(argv[3], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  long history = argc > 4 ? strtol(argv[4], NULL, 10) : 2016;
  if (threads < 1) threads = 1;
  if (threads > 256) threads = 256;
  if (bins < 8200) {
    fprintf(stderr, "bench_detect: need at least 8200 bins\n");
    return 2;
  }
  job_t jobs[256];
  pthread_t th[256];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long k = 0; k < threads; k++) {
    jobs[k] = (job_t){.first = (size_t)k, .stride = (size_t)threads, .entities = entities, .bins = bins, .history = history};
    pthread_create(&th[k], NULL, work, &jobs[k]);
  }
  size_t events = 0, found = 0;
  int err = 0;
  for (long k = 0; k < threads; k++) {
    pthread_join(th[k], NULL);
    events += jobs[k].events;
    found += jobs[k].found;
    err |= jobs[k].err;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double points = (double)entities * (double)bins;
  printf("entities %zu bins %zu history %ld threads %ld\n", entities, bins, history, threads);
  printf("points %.0f seconds %.2f points_per_s %.3g cpu_seconds %.2f\n", points, secs, points / secs,
         (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6);
  printf("events %zu outages_recovered %zu/%zu peak_rss_mib %.1f\n", events, found, entities,
         (double)ru.ru_maxrss / 1024.0);
  return err ? 1 : 0;
}
