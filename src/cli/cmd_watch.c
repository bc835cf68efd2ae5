/*
 * cmd_watch.c: `keepon watch`: Trinocular rounds over a census of /24 blocks, through the icmp
 * or sim driver, writing per-block records and per-entity signal points (JSON Lines).
 *
 * Order of work: parse options, load and validate every input (census/model, CIDR limits,
 * blocklist, geo) and only then open outputs, so bad input (exit 2) leaves nothing written.
 * The icmp driver opens its raw socket and drops privileges before the first round.
 * SIGINT/SIGTERM end the run at once: the current round is abandoned (no records for it).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/addr.h"
#include "base/json.h"
#include "base/log.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "cli/watch_vantage.h"
#include "geo/geo.h"
#include "httpc/httpc.h"
#include "store/store.h"
#include "watch/watch.h"

#define FLUSH_AT ((size_t)1 << 20)

static volatile int g_stop; /* set by the signal handler only (int: read by the engine too) */
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

typedef struct out_ctx {
  FILE *blocks, *signals;
  kp_buf_t bb, sb;
  int detail;          /* 0 none, 1 changes, 2 all */
  double step;
  bool io_error;
  kp_store_t *store;          /* --store: signal points also go here, one batch per round */
  kp_store_signal_t *pend;
  size_t npend, cappend;
  const char *vantage;        /* --vantage: written on every record */
  kp_cli_vant_t *post;        /* --collector: each round's block states are posted */
} out_ctx_t;

static void flush(out_ctx_t *o, FILE *f, kp_buf_t *b, bool force) {
  if (!f || (!force && b->len < FLUSH_AT)) return;
  if (b->len && fwrite(b->data, 1, b->len, f) != b->len) o->io_error = true;
  if (force && fflush(f) != 0) o->io_error = true;
  kp_buf_reset(b);
}

static void fmt_block(char *out, uint32_t block) {
  char a[KP_ADDR_STRLEN];
  kp_addr_t ad = kp_addr_v4(block);
  snprintf(out, KP_ADDR_STRLEN + 4, "%s/24", kp_addr_fmt(&ad, a));
}

static void on_block(void *ctx, uint64_t round, int64_t t, const kp_watch_block_rec_t *r) {
  out_ctx_t *o = ctx;
  if (o->post) kp_cli_vant_block(o->post, t, o->step, r);
  if (o->detail == 0 || (o->detail == 1 && !r->changed)) return;
  char pfx[KP_ADDR_STRLEN + 4];
  fmt_block(pfx, r->block);
  kp_jw_t w;
  kp_jw_init(&w, &o->bb);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "block");
  if (o->vantage) kp_jw_kstr(&w, "vantage", o->vantage);
  kp_jw_kint(&w, "round", (int64_t)round);
  kp_jw_kint(&w, "t", t / 1000000000);
  kp_jw_kint(&w, "t_ms", t / 1000000);
  kp_jw_kstr(&w, "block", pfx);
  kp_jw_key(&w, "belief");
  kp_jw_fixed(&w, r->belief, 4);
  kp_jw_kstr(&w, "state", kp_tri_state_name(r->state));
  kp_jw_kint(&w, "pos", r->pos);
  kp_jw_kint(&w, "neg", r->neg);
  kp_jw_obj_end(&w);
  kp_buf_putc(&o->bb, '\n');
  flush(o, o->blocks, &o->bb, false);
}

static void on_entity(void *ctx, uint64_t round, int64_t t, const char *type, const char *code,
                      unsigned up, unsigned down, unsigned unc) {
  (void)round;
  out_ctx_t *o = ctx;
  kp_jw_t w;
  kp_jw_init(&w, &o->sb);
  kp_jw_obj_begin(&w);
  kp_jw_kstr(&w, "type", "signal");
  kp_jw_kstr(&w, "entity_type", type);
  kp_jw_kstr(&w, "entity_code", code);
  kp_jw_kstr(&w, "datasource", "ping-slash24");
  kp_jw_kint(&w, "t", t / 1000000000);
  kp_jw_kint(&w, "step", (int64_t)(o->step < 1 ? 1 : o->step));
  kp_jw_kint(&w, "value", up);
  kp_jw_kint(&w, "down", down);
  kp_jw_kint(&w, "uncertain", unc);
  if (o->vantage) kp_jw_kstr(&w, "vantage", o->vantage);
  kp_jw_obj_end(&w);
  kp_buf_putc(&o->sb, '\n');
  flush(o, o->signals, &o->sb, false);
  if (o->store) { /* type and code strings live in the universe for the whole run */
    if (o->npend == o->cappend) {
      size_t nc = o->cappend ? o->cappend * 2 : 64;
      kp_store_signal_t *np = realloc(o->pend, nc * sizeof *np);
      if (!np) {
        o->io_error = true;
        return;
      }
      o->pend = np;
      o->cappend = nc;
    }
    o->pend[o->npend++] = (kp_store_signal_t){.entity_type = type, .entity_code = code,
                                              .datasource = "ping-slash24", .t = t / 1000000000,
                                              .step = (int64_t)(o->step < 1 ? 1 : o->step),
                                              .value = up, .has_value = true};
  }
}

static void on_would_send(void *ctx, uint32_t addr) {
  (void)ctx;
  char a[KP_ADDR_STRLEN];
  kp_addr_t ad = kp_addr_v4(addr);
  printf("would send icmp echo to %s\n", kp_addr_fmt(&ad, a));
}

static bool exists(const char *p) {
  struct stat s;
  return stat(p, &s) == 0;
}

/* --city-mmdb/--asn-mmdb, else var/geo or $KEEPON_HOME/geo when scripts/geodata.sh put them there */
static const char *default_geo(const char *given, const char *name, char *buf, size_t cap,
                               bool no_default) {
  if (given || no_default) return given;
  snprintf(buf, cap, "var/geo/%s", name);
  if (exists(buf)) return buf;
  const char *home = getenv("KEEPON_HOME");
  if (home) {
    snprintf(buf, cap, "%s/geo/%s", home, name);
    if (exists(buf)) return buf;
  }
  return NULL;
}

int kp_cmd_watch(int argc, char **argv) {
  const char *driver = "icmp", *sim = NULL, *census = NULL, *history = NULL, *cidr = NULL;
  const char *allow_reserved = NULL; /* reserved ranges are never probed unless listed here */
  const char *blocklist = NULL, *out = NULL, *signals = NULL, *detail = "all", *src = NULL;
  const char *user = NULL, *geo_table = NULL, *city = NULL, *asn = NULL, *cc = NULL;
  const char *geo_cidr = NULL, *store = NULL, *vantage = NULL, *collector = NULL, *token_file = NULL;
  kp_cli_httpc_t hv = {0};
  bool align = false;
  double round_s = 600, timeout_s = 3, spread = 0.5, rate = -1, min_avail = 0.1, recovery_miss = 0.2;
  long rounds = 0, seed = 1, min_hosts = 15;
  bool dry_run = false, no_drop = false, no_geo_default = false, verbose = false;
  const kp_opt_t opts[] = {
      {"driver", 0, KP_OPT_STR, "NAME", "icmp (raw sockets, needs root) or sim (default icmp)", &driver, 0, 0},
      {"sim", 0, KP_OPT_STR, "FILE", "sim model (JSON, docs/watch.md); implies --driver sim", &sim, 0, 0},
      {"census", 0, KP_OPT_STR, "FILE", "census from `keepon census` (JSON Lines): the blocks and E(b)", &census, 0, 0},
      {"history", 0, KP_OPT_STR, "FILE", "ANT-format address history instead of --census", &history, 0, 0},
      {"cidr", 0, KP_OPT_STR, "FILE", "only blocks inside this CIDR list (never a packet outside it)", &cidr, 0, 0},
      {"round", 0, KP_OPT_DOUBLE, "SECONDS", "round length (default 600)", &round_s, 0.2, 86400},
      {"rounds", 0, KP_OPT_INT, "N", "stop after N rounds (default 0 = until interrupted)", &rounds, 0, 1e9},
      {"timeout", 0, KP_OPT_DOUBLE, "SECONDS", "probe timeout (default 3)", &timeout_s, 0.001, 60},
      {"spread", 0, KP_OPT_DOUBLE, "FRACTION", "part of the round over which periodic probes go out (default 0.5)", &spread, 0.01, 1},
      {"recovery-miss", 0, KP_OPT_DOUBLE, "P", "recovery probes per DOWN block so that (1-A)^k <= P (default 0.2, Trinocular's)", &recovery_miss, 0.0001, 0.9},
      {"rate", 0, KP_OPT_DOUBLE, "PPS", "global packets/s cap (default 1000 for icmp, none for sim; 0 = none)", &rate, 0, 1e8},
      {"blocklist", 0, KP_OPT_STR, "FILE", "zmap-format list of addresses never to probe", &blocklist, 0, 0},
      {"allow-reserved", 0, KP_OPT_STR, "PREFIXES", "probe these reserved ranges (comma-separated; the lab: 198.18.0.0/15)", &allow_reserved, 0, 0},
      {"dry-run", 0, KP_OPT_FLAG, NULL, "print the probes of one round instead of sending them", &dry_run, 0, 0},
      {"out", 'o', KP_OPT_STR, "FILE", "per-block records, JSON Lines (default stdout)", &out, 0, 0},
      {"signals", 0, KP_OPT_STR, "FILE", "per-entity signal points (default: the --out stream)", &signals, 0, 0},
      {"store", 0, KP_OPT_STR, "URL", "also put the signal points into keepon's store (SQLite PATH or clickhouse://..., as keepon serve uses)", &store, 0, 0},
      {"vantage", 0, KP_OPT_STR, "ID", "this vantage's id (1-32 of A-Za-z0-9._-), written on every record; with --collector the rounds are merged with other vantages' (docs/watch.md)", &vantage, 0, 0},
      {"collector", 0, KP_OPT_STR, "URL", "post each round's block states to this keepon serve (https://NAME[:PORT]; needs --vantage and --token-file)", &collector, 0, 0},
      {"token-file", 0, KP_OPT_STR, "PATH", "the collector's admin token (first line) for --collector", &token_file, 0, 0},
      {"align", 0, KP_OPT_FLAG, NULL, "start rounds on multiples of --round (wall clock), so that vantages' rounds coincide", &align, 0, 0},
      KP_CLI_HTTPC_OPTS(&hv),
      {"detail", 0, KP_OPT_STR, "all|changes|none", "which block records to write (default all)", &detail, 0, 0},
      {"min-hosts", 0, KP_OPT_INT, "N", "keep blocks with |E(b)| >= N (default 15)", &min_hosts, 1, 256},
      {"min-avail", 0, KP_OPT_DOUBLE, "A", "keep blocks with A(E(b)) >= A (default 0.1)", &min_avail, 0.0001, 1},
      {"geo-table", 0, KP_OPT_STR, "FILE", "keepon geo table (prefix,cc,region,asn,as_name) for entities", &geo_table, 0, 0},
      {"geo-cidr", 0, KP_OPT_STR, "FILES", "comma-separated <cc>.cidr lists for the country entity", &geo_cidr, 0, 0},
      {"city-mmdb", 0, KP_OPT_STR, "FILE", "city mmdb (default var/geo/city.mmdb or $KEEPON_HOME/geo/ when present)", &city, 0, 0},
      {"asn-mmdb", 0, KP_OPT_STR, "FILE", "ASN mmdb or ip-location-db ASN CSV (default var/geo/asn.csv when present)", &asn, 0, 0},
      {"no-geo-default", 0, KP_OPT_FLAG, NULL, "do not look for databases in the default places", &no_geo_default, 0, 0},
      {"cc", 0, KP_OPT_STR, "CC", "country of blocks that no geo source knows", &cc, 0, 0},
      {"src", 0, KP_OPT_STR, "ADDR", "icmp: source address", &src, 0, 0},
      {"no-drop", 0, KP_OPT_FLAG, NULL, "icmp: keep root privileges after opening the socket", &no_drop, 0, 0},
      {"user", 0, KP_OPT_STR, "NAME", "icmp: user to drop privileges to (default nobody)", &user, 0, 0},
      {"seed", 0, KP_OPT_INT, "N", "shuffling seed (default 1)", &seed, 0, 2e9},
      {"verbose", 'v', KP_OPT_FLAG, NULL, "per-round statistics on stderr", &verbose, 0, 0},
      {0},
  };
  const kp_cmd_help_t help = {
      "keepon watch (--census FILE | --history FILE | --sim FILE) [options]",
      "Trinocular adaptive probing of IPv4 /24 blocks: each round every block gets a periodic "
      "echo to one of its ever-responsive addresses and up to 14 adaptive ones; a Bayesian belief "
      "decides up/down/uncertain. Writes per-block records and per-entity (country, region, ASN) "
      "signal points, datasource ping-slash24. See docs/watch.md."};
  char **pos = NULL;
  int npos = 0;
  int rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  free(pos);
  if (rc != 0) return kp_opts_exit(rc);
  if (npos > 0) {
    fprintf(stderr, "keepon watch: unexpected argument\n");
    return KP_EXIT_USAGE;
  }
  if (sim) driver = "sim";
  bool is_sim = strcmp(driver, "sim") == 0;
  if (!is_sim && strcmp(driver, "icmp") != 0) {
    fprintf(stderr, "keepon watch: unknown --driver %s (icmp, sim)\n", driver);
    return KP_EXIT_USAGE;
  }
  if (is_sim && !sim) {
    fprintf(stderr, "keepon watch: --driver sim needs --sim FILE\n");
    return KP_EXIT_USAGE;
  }
  if (!is_sim && !census && !history) {
    fprintf(stderr, "keepon watch: the icmp driver needs --census FILE (run `keepon census`) or --history FILE\n");
    return KP_EXIT_USAGE;
  }
  if (census && history) {
    fprintf(stderr, "keepon watch: --census and --history are exclusive\n");
    return KP_EXIT_USAGE;
  }
  int det = strcmp(detail, "all") == 0 ? 2 : strcmp(detail, "changes") == 0 ? 1
          : strcmp(detail, "none") == 0 ? 0 : -1;
  if (det < 0) {
    fprintf(stderr, "keepon watch: --detail must be all, changes or none\n");
    return KP_EXIT_USAGE;
  }
  if (timeout_s * 2 > round_s) {
    fprintf(stderr, "keepon watch: --timeout must be at most half of --round\n");
    return KP_EXIT_USAGE;
  }
  if (cc && strlen(cc) != 2) {
    fprintf(stderr, "keepon watch: --cc takes a two-letter country code\n");
    return KP_EXIT_USAGE;
  }
  if (rate < 0) rate = is_sim ? 0 : 1000;
  if (vantage && !kp_vantage_id_ok(vantage)) {
    fprintf(stderr, "keepon watch: --vantage takes 1-32 of A-Za-z0-9._-\n");
    return KP_EXIT_USAGE;
  }
  if (collector && (!vantage || !token_file)) {
    fprintf(stderr, "keepon watch: --collector needs --vantage and --token-file\n");
    return KP_EXIT_USAGE;
  }
  if (collector && strncmp(collector, "http://", 7) && !kp_httpc_is_https(collector)) {
    fprintf(stderr, "keepon watch: --collector must be https:// or http://\n");
    return KP_EXIT_USAGE;
  }
  if (align && is_sim) {
    fprintf(stderr, "keepon watch: --align needs a real clock (not --sim)\n");
    return KP_EXIT_USAGE;
  }

  int status = KP_EXIT_USAGE;
  kp_wsim_t *model = NULL;
  kp_wuniv_t *u = NULL;
  kp_wblock_t *bl = NULL;
  kp_geo_t *geo = NULL;
  kp_watch_t *w = NULL;
  kp_wdriver_t drv = {0};
  uint32_t *allowed = NULL;
  size_t nallowed = 0;
  char *cidr_list = NULL;
  const char *cidr_files[33] = {0};
  out_ctx_t o = {.detail = det, .step = round_s, .vantage = vantage};
  kp_cli_vant_t vpost = {0};
  kp_buf_init(&o.bb, (size_t)64 << 20);
  kp_buf_init(&o.sb, (size_t)64 << 20);
  kp_wuniv_limits_t lim = {.min_hosts = (unsigned)min_hosts, .min_avail = min_avail};
  char err[256] = "";

  if (kp_wuniv_create(&u) != KP_OK) { status = KP_EXIT_FAIL; goto done; }
  if (is_sim && kp_wsim_load(sim, &model, err, sizeof err) != KP_OK) {
    fprintf(stderr, "keepon watch: %s: %s\n", sim, err);
    goto done;
  }
  if (census && kp_wuniv_load_census(u, &lim, census) != KP_OK) goto done;
  if (history && kp_wuniv_load_history(u, &lim, history) != KP_OK) goto done;
  if (!census && !history && kp_wsim_universe(model, u, &lim) != KP_OK) goto done;
  if (cidr) {
    if (kp_geo_cidr_blocks(cidr, &allowed, &nallowed) != KP_OK) goto done;
    size_t dropped = kp_wuniv_restrict(u, allowed, nallowed);
    if (dropped) kp_log_info("watch", "%zu census blocks outside %s dropped", dropped, cidr);
  }
  if (blocklist && kp_wblock_load(blocklist, &bl) != KP_OK) goto done;
  /* the built-in reserved ranges, except in a pure simulation (nothing sent or listed) */
  if ((!is_sim || dry_run) && kp_wblock_with_reserved(&bl, allow_reserved) != KP_OK) {
    fprintf(stderr, "keepon watch: --allow-reserved: not a list of IPv4 prefixes: %s\n", allow_reserved);
    status = KP_EXIT_USAGE;
    goto done;
  }
  {
    char cbuf[4096], abuf[4096];
    kp_geo_config_t gc = {.table = geo_table,
                          .city_mmdb = default_geo(city, "city.mmdb", cbuf, sizeof cbuf, no_geo_default),
                          .asn_mmdb = default_geo(asn, "asn.csv", abuf, sizeof abuf, no_geo_default)};
    if (geo_cidr) {
      cidr_list = strdup(geo_cidr);
      size_t k = 0;
      for (char *tok = strtok(cidr_list, ","); tok && k < 32; tok = strtok(NULL, ",")) cidr_files[k++] = tok;
      gc.cidr_files = cidr_files;
    }
    if ((gc.table || gc.city_mmdb || gc.asn_mmdb || gc.cidr_files) && kp_geo_open(&gc, &geo) != KP_OK) {
      fprintf(stderr, "keepon watch: cannot open the geolocation sources\n");
      goto done;
    }
  }
  if (kp_wuniv_seal(u, geo, cc, (uint64_t)seed) != KP_OK) { status = KP_EXIT_FAIL; goto done; }
  if (kp_wuniv_count(u) == 0) {
    fprintf(stderr, "keepon watch: no block passes |E(b)| >= %ld and A >= %g (%zu rejected)\n",
            min_hosts, min_avail, kp_wuniv_rejected(u));
    goto done;
  }
  /* inputs are good: from here on failures are run failures. Outputs are opened before the
   * icmp driver drops privileges. */
  status = KP_EXIT_FAIL;
  if (!dry_run) {
    kp_cli_privacy_notice();
    o.blocks = out ? fopen(out, "w") : stdout;
    o.signals = signals ? fopen(signals, "w") : o.blocks;
    if (!o.blocks || !o.signals) {
      fprintf(stderr, "keepon watch: cannot open output: %s\n", strerror(errno));
      goto done;
    }
    if (collector) {
      if (kp_cli_vant_open(&vpost, &hv, vantage, collector, token_file, u, round_s) != KP_OK) goto done;
      o.post = &vpost;
    }
    if (store && kp_store_open(store, &o.store) != KP_OK) {
      fprintf(stderr, "keepon watch: cannot open the store %s\n", store);
      goto done;
    }
  }
  kp_wicmp_config_t ic = {.src = src, .no_drop = no_drop, .drop_user = user};
  kp_status_t dst = kp_wdriver_select(is_sim, dry_run, &ic, &model, &drv);
  if (dst != KP_OK) {
    fprintf(stderr, "keepon watch: cannot open the %s driver: %s\n", is_sim ? "sim" : "icmp", kp_strstatus(dst));
    goto done;
  }
  kp_watch_config_t wc = {.round_s = round_s, .timeout_s = timeout_s, .spread = spread, .recovery_miss = recovery_miss,
                          .rate = rate, .seed = (uint64_t)seed, .blocklist = bl, .dry_run = dry_run,
                          .align = align, .stop = &g_stop};
  if (kp_watch_create(&wc, u, drv, &w) != KP_OK) goto done;
  kp_log_info("watch", "%zu blocks (%zu rejected), %zu entities, driver %s", kp_wuniv_count(u),
              kp_wuniv_rejected(u), kp_wuniv_nentities(u), drv.ops->name);
  if (verbose) {
    size_t per_block, pool;
    kp_wuniv_memory(u, &per_block, &pool);
    fprintf(stderr, "keepon watch: %zu blocks; state per block: %zu B decision state + %zu B universe "
            "+ %.1f B of E(b) pool (%zu B)\n", kp_wuniv_count(u), kp_watch_state_bytes(), per_block,
            (double)pool / (double)kp_wuniv_count(u), pool);
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  kp_watch_sinks_t sk = {.block = on_block, .entity = on_entity, .would_send = on_would_send, .ctx = &o};
  for (long r = 0; !g_stop && (rounds == 0 || r < rounds); r++) {
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    kp_watch_stats_t s0 = kp_watch_stats(w);
    kp_status_t rst = kp_watch_round(w, &sk);
    if (rst == KP_ERR_TIMEOUT && g_stop) break;
    if (rst != KP_OK) goto done;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    kp_watch_stats_t s1 = kp_watch_stats(w);
    if (s1.skipped > s0.skipped)
      kp_log_warnx("watch", "%llu scheduled round(s) skipped: the previous round's output and upload "
                  "ran past their send window", (unsigned long long)(s1.skipped - s0.skipped));
    if (s1.reanchored > s0.reanchored)
      kp_log_warnx("watch", "the wall clock went back about %.0f s: rounds re-aligned to it; round "
                  "times already written will repeat", (double)s1.step_back_ns / 1e9);
    flush(&o, o.blocks, &o.bb, true);
    flush(&o, o.signals, &o.sb, true);
    if (o.post) kp_cli_vant_round_end(o.post);
    if (o.store && o.npend) {
      if (kp_store_put_signals(o.store, o.pend, o.npend) != KP_OK) o.io_error = true;
      o.npend = 0;
    }
    if (o.io_error) {
      fprintf(stderr, "keepon watch: write error\n");
      goto done;
    }
    if (verbose) {
      kp_watch_stats_t s = kp_watch_stats(w);
      double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
      fprintf(stderr, "keepon watch: round %ld: sent %llu replies %llu timeouts %llu unmatched %llu "
              "unprobed %llu lag %.3f s cpu %.3f s\n", r, (unsigned long long)(s.sent - s0.sent),
              (unsigned long long)(s.replies - s0.replies), (unsigned long long)(s.timeouts - s0.timeouts),
              (unsigned long long)(s.unmatched - s0.unmatched), (unsigned long long)(s.unprobed - s0.unprobed),
              (double)s.lag_ns * 1e-9, cpu);
    }
    if (dry_run) break;
  }
  status = KP_EXIT_OK;
done:
  if (o.signals && o.signals != o.blocks && o.signals != stdout) fclose(o.signals);
  if (o.blocks && o.blocks != stdout) fclose(o.blocks);
  kp_buf_free(&o.bb);
  kp_buf_free(&o.sb);
  if (o.store) kp_store_close(o.store);
  kp_cli_vant_close(&vpost); /* also after a failed open: frees what it had made */
  free(o.pend);
  kp_watch_free(w);
  if (drv.ops && drv.ops->close) drv.ops->close(drv.ctx);
  kp_wsim_free(model);
  kp_wuniv_free(u);
  kp_wblock_free(bl);
  kp_geo_close(geo);
  free(allowed);
  free(cidr_list);
  return status;
}
