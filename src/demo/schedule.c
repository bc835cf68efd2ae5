/*
 * schedule.c: what the kz2022 demo injects, in simulated UTC time (January 2022).
 *
 * Source: /work/shared/data/README.md (Cloudflare Radar, RIPE Labs, net4people/bbs#99):
 * messaging apps restricted and mobile data throttled from Jan 4 ~14:30; nationwide cut from
 * Jan 5 ~10:30 with BGP still up; connectivity windows Jan 5 17:30–22:00, Jan 6 10:30–14:00,
 * Jan 7 02:30–06:00, Jan 8 02:30–10:00, Jan 9 02:30–06:00; stable again Jan 11 ~02:15.
 * The down windows below are the complement of those connectivity windows inside the cut.
 * Techniques per app are the lab's (docs/lab.md); which app got which technique in 2022 is not
 * public in that detail, so the demo uses one distinct technique per app to show that each
 * is told apart. "throttled" on facebook_messenger stands in for the mobile throttling.
 * Mobile and fixed apart (issue 16): mobile data went first, with the app blocking on Jan 4
 * ~14:30, and stayed off until the restoration; fixed lines went with the nationwide cut. The
 * lab's mobile path is a probe namespace behind the client (lab/demo/kz2022.sh) whose
 * forwarding the "mobile" action stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "demo/demo.h"

#define JAN(d, h, m) ((int64_t)1640995200 + ((int64_t)(d) - 1) * 86400 + (int64_t)(h) * 3600 + (int64_t)(m) * 60)

typedef struct block {
  const char *app, *tech;
  int64_t start, end;
} block_t;

static const block_t BLOCKS[] = {
  {"whatsapp", "tls_sni_reset", JAN(4, 14, 30), JAN(11, 2, 15)},
  {"telegram", "tcp_reset", JAN(4, 14, 30), JAN(11, 2, 15)},
  {"signal", "dns_forged", JAN(4, 14, 30), JAN(11, 2, 15)},
  {"facebook_messenger", "throttled", JAN(4, 14, 30), JAN(11, 2, 15)},
};

static const int64_t DOWN[][2] = {
  {JAN(5, 10, 30), JAN(5, 17, 30)}, {JAN(5, 22, 0), JAN(6, 10, 30)}, {JAN(6, 14, 0), JAN(7, 2, 30)},
  {JAN(7, 6, 0), JAN(8, 2, 30)},    {JAN(8, 10, 0), JAN(9, 2, 30)},  {JAN(9, 6, 0), JAN(11, 2, 15)},
};

/* What stayed reachable (docs/demo.md, issue 16): the TCP holes of January 2022 (179, 3785;
 * net4people/bbs#102) pass through every down window; in one of them (the night of Jan 5-6, a
 * partial restoration) the censor also lets two domestic services and the domestic resolver
 * through: a whitelist window. The lab's stand-ins (data/domestic/lab.tsv, lab/hosts.sh):
 * kaspi.kz 198.19.9.1, egov.kz 198.19.9.2, the resolver 198.19.10.53. */
#define WHITELIST_DOWN 1 /* index in DOWN */
static const char ALLOW_HOLES[] = "tcp:179 tcp:3785";
static const char ALLOW_WHITELIST[] = "198.19.9.1 198.19.9.2 198.19.10.53 tcp:179 tcp:3785";
/* the resolver answers in every down window: DNS on 53 stayed open in 2022, and in the lab the
 * censor's own resolver (dns_forged for signal) keeps answering through the cut */
static const char *const WORKED_HOLES[] = {"resolver", "tcp/179", "tcp/3785", NULL};
static const char *const WORKED_WHITELIST[] = {"kaspi.kz", "egov.kz", "resolver", "tcp/179", "tcp/3785", NULL};

/* mobile data disrupted: the mobile path is down in [start, end) */
static const int64_t MOBILE[2] = {JAN(4, 14, 30), JAN(11, 2, 15)};

/* the burst of BGP updates seen at ~10:45 while prefixes stayed visible: every route is
 * re-announced once (BIRD "reload out"), nothing is withdrawn */
static const int64_t BGP_SPIKE = JAN(5, 10, 45);

#define NBLOCKS (sizeof BLOCKS / sizeof *BLOCKS)
#define NDOWN (sizeof DOWN / sizeof *DOWN)

kp_status_t kp_demo_span_parse(const char *s, kp_demo_span_t *out) {
  if (!s || !*s) return KP_ERR_INVAL;
  char *end;
  long a = strtol(s, &end, 10), b = a;
  if (end == s) return KP_ERR_INVAL;
  if (*end == '-') {
    const char *q = end + 1;
    b = strtol(q, &end, 10);
    if (end == q) return KP_ERR_INVAL;
  }
  if (*end || a < 4 || a > 11 || b < a || b > 11) return KP_ERR_INVAL;
  out->first_day = (int)a;
  out->last_day = (int)b;
  out->sim_start = a == 4 ? JAN(4, 12, 0) : JAN(a, 0, 0);
  out->sim_end = b == 11 ? JAN(11, 6, 0) : JAN(b + 1, 0, 0);
  return KP_OK;
}

typedef struct action {
  int64_t sim;
  int kind; /* 0 censor, 1 outage, 2 bgp update spike, 3 mobile data cut */
  const block_t *b;
  bool on;
  int down; /* kind 1: index in DOWN */
} action_t;

static int cmp_action(const void *x, const void *y) {
  const action_t *a = x, *b = y;
  if (a->sim != b->sim) return a->sim < b->sim ? -1 : 1;
  /* at equal times: switch off before on, outages before app rules (stable order) */
  if (a->on != b->on) return a->on ? 1 : -1;
  return a->kind != b->kind ? (a->kind > b->kind ? -1 : 1) : 0;
}

kp_status_t kp_demo_actions(const kp_demo_span_t *sp, double speed, kp_buf_t *out) {
  if (!(speed > 0)) return KP_ERR_INVAL;
  action_t acts[2 * (NBLOCKS + NDOWN) + 3];
  size_t n = 0;
  acts[n++] = (action_t){BGP_SPIKE, 2, NULL, true, 0};
  acts[n++] = (action_t){MOBILE[0], 3, NULL, true, 0};
  acts[n++] = (action_t){MOBILE[1], 3, NULL, false, 0};
  for (size_t i = 0; i < NBLOCKS; i++) {
    acts[n++] = (action_t){BLOCKS[i].start, 0, &BLOCKS[i], true, 0};
    acts[n++] = (action_t){BLOCKS[i].end, 0, &BLOCKS[i], false, 0};
  }
  for (size_t i = 0; i < NDOWN; i++) {
    acts[n++] = (action_t){DOWN[i][0], 1, NULL, true, (int)i};
    acts[n++] = (action_t){DOWN[i][1], 1, NULL, false, (int)i};
  }
  qsort(acts, n, sizeof *acts, cmp_action);
  kp_jw_t w;
  kp_jw_init(&w, out);
  /* states already in force at the start */
  for (size_t i = 0; i < n; i++) {
    const action_t *a = &acts[i];
    if (!a->on || a->sim > sp->sim_start || a->kind == 2) continue;
    int64_t end = a->kind == 0 ? a->b->end : a->kind == 3 ? MOBILE[1] : 0;
    if (a->kind == 1)
      for (size_t k = 0; k < NDOWN; k++)
        if (DOWN[k][0] == a->sim) end = DOWN[k][1];
    if (end <= sp->sim_start) continue;
    acts[i].sim = sp->sim_start; /* re-timed to the start */
  }
  for (size_t i = 0; i < n && w.st == KP_OK; i++) {
    const action_t *a = &acts[i];
    if (a->sim < sp->sim_start || a->sim >= sp->sim_end) continue;
    if (a->sim == sp->sim_start && !a->on) continue;
    kp_jw_obj_begin(&w);
    kp_jw_kint(&w, "sim", a->sim);
    kp_jw_key(&w, "at");
    kp_jw_fixed(&w, (double)(a->sim - sp->sim_start) / 3600.0 * speed, 2);
    kp_jw_kstr(&w, "action", a->kind == 0 ? "censor" : a->kind == 1 ? "outage" : a->kind == 3 ? "mobile" : "bgp_updates");
    if (a->kind == 0) {
      kp_jw_kstr(&w, "tech", a->b->tech);
      kp_jw_kstr(&w, "target", a->b->app);
    }
    kp_jw_kbool(&w, "on", a->on);
    if (a->kind == 1 && a->on) kp_jw_kstr(&w, "allow", a->down == WHITELIST_DOWN ? ALLOW_WHITELIST : ALLOW_HOLES);
    kp_jw_obj_end(&w);
    kp_buf_putc(out, '\n');
    kp_jw_init(&w, out); /* one object per line */
  }
  return w.st;
}

kp_status_t kp_demo_truth(const kp_demo_span_t *sp, double speed, kp_buf_t *out) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "cc", "KZ");
  kp_jw_kstr(&w, "event", "Kazakhstan, January 2022");
  kp_jw_kint(&w, "sim_start", sp->sim_start);
  kp_jw_kint(&w, "sim_end", sp->sim_end);
  kp_jw_key(&w, "speed");
  kp_jw_fixed(&w, speed, 3);
  kp_jw_key(&w, "blocking");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < NBLOCKS; i++) {
    const block_t *b = &BLOCKS[i];
    if (b->end <= sp->sim_start || b->start >= sp->sim_end) continue;
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "app", b->app);
    kp_jw_kstr(&w, "technique", b->tech);
    kp_jw_kint(&w, "start", b->start > sp->sim_start ? b->start : sp->sim_start);
    kp_jw_kint(&w, "end", b->end < sp->sim_end ? b->end : sp->sim_end);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_key(&w, "outages");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < NDOWN; i++) {
    if (DOWN[i][1] <= sp->sim_start || DOWN[i][0] >= sp->sim_end) continue;
    kp_jw_obj_begin(&w);
    kp_jw_kint(&w, "start", DOWN[i][0] > sp->sim_start ? DOWN[i][0] : sp->sim_start);
    kp_jw_kint(&w, "end", DOWN[i][1] < sp->sim_end ? DOWN[i][1] : sp->sim_end);
    kp_jw_kbool(&w, "clipped_start", DOWN[i][0] <= sp->sim_start);
    kp_jw_kbool(&w, "clipped_end", DOWN[i][1] >= sp->sim_end);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  /* what the reach probe must find in each down window (its class, what worked throughout) */
  kp_jw_key(&w, "reach");
  kp_jw_arr_begin(&w);
  for (size_t i = 0; i < NDOWN; i++) {
    if (DOWN[i][1] <= sp->sim_start || DOWN[i][0] >= sp->sim_end) continue;
    kp_jw_obj_begin(&w);
    kp_jw_kint(&w, "start", DOWN[i][0] > sp->sim_start ? DOWN[i][0] : sp->sim_start);
    kp_jw_kint(&w, "end", DOWN[i][1] < sp->sim_end ? DOWN[i][1] : sp->sim_end);
    kp_jw_kstr(&w, "class", i == WHITELIST_DOWN ? "whitelist" : "full_cut");
    kp_jw_key(&w, "worked");
    kp_jw_arr_begin(&w);
    for (const char *const *x = i == WHITELIST_DOWN ? WORKED_WHITELIST : WORKED_HOLES; *x; x++) kp_jw_str(&w, *x);
    kp_jw_arr_end(&w);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  /* when each access type's network went down (the mobile path's cut, the nationwide cut) */
  kp_jw_key(&w, "access");
  kp_jw_arr_begin(&w);
  const int64_t down_from[2] = {MOBILE[0], DOWN[0][0]}, down_end[2] = {MOBILE[1], DOWN[NDOWN - 1][1]};
  for (int k = 0; k < 2; k++) {
    if (down_end[k] <= sp->sim_start || down_from[k] >= sp->sim_end) continue;
    kp_jw_obj_begin(&w);
    kp_jw_kstr(&w, "type", k ? "fixed" : "mobile");
    kp_jw_kint(&w, "down_from", down_from[k] > sp->sim_start ? down_from[k] : sp->sim_start);
    kp_jw_kbool(&w, "clipped_start", down_from[k] <= sp->sim_start);
    kp_jw_obj_end(&w);
  }
  kp_jw_arr_end(&w);
  kp_jw_key(&w, "bgp_update_spikes");
  kp_jw_arr_begin(&w);
  if (BGP_SPIKE >= sp->sim_start && BGP_SPIKE < sp->sim_end) kp_jw_int(&w, BGP_SPIKE);
  kp_jw_arr_end(&w);
  kp_jw_kstr(&w, "bgp", "unchanged");
  kp_jw_obj_end(&w);
  if (w.st == KP_OK) kp_buf_putc(out, '\n');
  return w.st;
}
