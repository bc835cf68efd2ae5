/*
 * cmd_census.c: `keepon census`: find each /24's ever-responsive addresses E(b) and A(E(b)) by
 * probing every address a few times (icmp or sim driver), or import an ANT history file, and
 * write the census (JSON Lines) that `keepon watch --census` reads. Only blocks with
 * |E(b)| >= --min-hosts and A >= --min-avail are written. A probing census opens its output
 * before the icmp driver drops privileges and writes it only when complete (a failed run
 * leaves it empty); an imported history is written atomically.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/file.h"
#include "base/log.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "geo/geo.h"
#include "watch/watch.h"

static void on_would_send(void *ctx, uint32_t addr) {
  (void)ctx;
  char a[KP_ADDR_STRLEN];
  kp_addr_t ad = kp_addr_v4(addr);
  printf("would send icmp echo to %s\n", kp_addr_fmt(&ad, a));
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int kp_cmd_census(int argc, char **argv) {
  const char *driver = "icmp", *sim = NULL, *cidr = NULL, *country = NULL, *history = NULL;
  const char *allow_reserved = NULL; /* reserved ranges are never probed unless listed here */
  const char *blocklist = NULL, *out = NULL, *src = NULL, *user = NULL, *city = NULL;
  const char *asn = NULL, *geo_table = NULL;
  long passes = 3, min_hosts = 15;
  double rate = -1, timeout_s = 3, min_avail = 0.1;
  bool dry_run = false, no_drop = false;
  const kp_opt_t opts[] = {
      {"driver", 0, KP_OPT_STR, "NAME", "icmp (raw sockets, needs root) or sim (default icmp)", &driver, 0, 0},
      {"sim", 0, KP_OPT_STR, "FILE", "sim model (implies --driver sim; its blocks are the universe unless --cidr)", &sim, 0, 0},
      {"cidr", 0, KP_OPT_STR, "FILE", "the universe: every /24 of this CIDR list", &cidr, 0, 0},
      {"country", 0, KP_OPT_STR, "CC", "the universe: the /24s a geo source assigns to CC", &country, 0, 0},
      {"geo-table", 0, KP_OPT_STR, "FILE", "keepon geo table for --country", &geo_table, 0, 0},
      {"city-mmdb", 0, KP_OPT_STR, "FILE", "city mmdb for --country (see scripts/geodata.sh)", &city, 0, 0},
      {"asn-mmdb", 0, KP_OPT_STR, "FILE", "ASN mmdb/CSV (unused by census; accepted for symmetry)", &asn, 0, 0},
      {"history", 0, KP_OPT_STR, "FILE", "import an ANT address-history file instead of probing", &history, 0, 0},
      {"passes", 0, KP_OPT_INT, "N", "probes per address (default 3)", &passes, 1, 255},
      {"rate", 0, KP_OPT_DOUBLE, "PPS", "global packets/s cap (default 1000 for icmp, none for sim; 0 = none)", &rate, 0, 1e8},
      {"timeout", 0, KP_OPT_DOUBLE, "SECONDS", "wait after each pass (default 3)", &timeout_s, 0.001, 60},
      {"blocklist", 0, KP_OPT_STR, "FILE", "zmap-format list of addresses never to probe", &blocklist, 0, 0},
      {"allow-reserved", 0, KP_OPT_STR, "PREFIXES", "probe these reserved ranges (comma-separated; the lab: 198.18.0.0/15)", &allow_reserved, 0, 0},
      {"dry-run", 0, KP_OPT_FLAG, NULL, "print what would be sent, send nothing", &dry_run, 0, 0},
      {"min-hosts", 0, KP_OPT_INT, "N", "keep blocks with |E(b)| >= N (default 15)", &min_hosts, 1, 256},
      {"min-avail", 0, KP_OPT_DOUBLE, "A", "keep blocks with A(E(b)) >= A (default 0.1)", &min_avail, 0.0001, 1},
      {"out", 'o', KP_OPT_STR, "FILE", "census output (default stdout)", &out, 0, 0},
      {"src", 0, KP_OPT_STR, "ADDR", "icmp: source address", &src, 0, 0},
      {"no-drop", 0, KP_OPT_FLAG, NULL, "icmp: keep root privileges after opening the socket", &no_drop, 0, 0},
      {"user", 0, KP_OPT_STR, "NAME", "icmp: user to drop privileges to (default nobody)", &user, 0, 0},
      {0},
  };
  const kp_cmd_help_t help = {
      "keepon census (--cidr FILE | --country CC | --sim FILE | --history FILE) [options]",
      "Probe every address of every /24 --passes times and keep each block's ever-responsive "
      "addresses E(b) and their availability A(E(b)); blocks below the limits are dropped. "
      "The output is the --census input of keepon watch (docs/watch.md)."};
  char **pos = NULL;
  int npos = 0;
  int rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  free(pos);
  if (rc != 0) return kp_opts_exit(rc);
  (void)asn;
  if (npos > 0) {
    fprintf(stderr, "keepon census: unexpected argument\n");
    return KP_EXIT_USAGE;
  }
  if (sim) driver = "sim";
  bool is_sim = strcmp(driver, "sim") == 0;
  if (!is_sim && strcmp(driver, "icmp") != 0) {
    fprintf(stderr, "keepon census: unknown --driver %s\n", driver);
    return KP_EXIT_USAGE;
  }
  if (!history && !cidr && !country && !sim) {
    fprintf(stderr, "keepon census: give the universe: --cidr FILE, --country CC, --sim FILE or --history FILE\n");
    return KP_EXIT_USAGE;
  }
  if (is_sim && !sim) {
    fprintf(stderr, "keepon census: --driver sim needs --sim FILE\n");
    return KP_EXIT_USAGE;
  }
  if (rate < 0) rate = is_sim ? 0 : 1000;
  kp_wuniv_limits_t lim = {.min_hosts = (unsigned)min_hosts, .min_avail = min_avail};
  int status = KP_EXIT_USAGE;
  kp_buf_t lines;
  kp_buf_init(&lines, (size_t)1 << 31);
  uint32_t *blocks = NULL;
  size_t n = 0;
  kp_wsim_t *model = NULL;
  kp_wblock_t *bl = NULL;
  kp_geo_t *geo = NULL;
  kp_wuniv_t *u = NULL;
  kp_wdriver_t drv = {0};
  FILE *outf = NULL;
  char err[256] = "";

  if (history) { /* import: no probing */
    if (kp_wuniv_create(&u) != KP_OK || kp_wuniv_load_history(u, &lim, history) != KP_OK) goto done;
    if (kp_wuniv_seal(u, NULL, NULL, 0) != KP_OK) goto done;
    for (size_t i = 0; i < kp_wuniv_count(u); i++) {
      const uint8_t *h;
      size_t nh = kp_wuniv_hosts(u, i, &h);
      if (kp_wuniv_census_line(&lines, kp_wuniv_block(u, i), h, nh, kp_wuniv_avail(u, i)) != KP_OK) {
        status = KP_EXIT_FAIL;
        goto done;
      }
    }
    kp_log_info("census", "%zu blocks kept, %zu rejected", kp_wuniv_count(u), kp_wuniv_rejected(u));
  } else {
    if (sim && kp_wsim_load(sim, &model, err, sizeof err) != KP_OK) {
      fprintf(stderr, "keepon census: %s: %s\n", sim, err);
      goto done;
    }
    if (blocklist && kp_wblock_load(blocklist, &bl) != KP_OK) goto done;
    /* the built-in reserved ranges, except in a pure simulation (nothing sent or listed) */
    if ((!is_sim || dry_run) && kp_wblock_with_reserved(&bl, allow_reserved) != KP_OK) {
      fprintf(stderr, "keepon census: --allow-reserved: not a list of IPv4 prefixes: %s\n", allow_reserved);
      status = KP_EXIT_USAGE;
      goto done;
    }
    if (cidr) {
      if (kp_geo_cidr_blocks(cidr, &blocks, &n) != KP_OK) goto done;
    } else if (country) {
      kp_geo_config_t gc = {.table = geo_table, .city_mmdb = city};
      if (kp_geo_open(&gc, &geo) != KP_OK) goto done;
      if (kp_geo_country_blocks(geo, country, &blocks, &n) != KP_OK) {
        fprintf(stderr, "keepon census: no /24 known for %s\n", country);
        goto done;
      }
    } else { /* the sim model's blocks */
      if (kp_wuniv_create(&u) != KP_OK) goto done;
      kp_wuniv_limits_t all = {.min_hosts = 1, .min_avail = 0.0001};
      if (kp_wsim_universe(model, u, &all) != KP_OK) goto done;
      n = kp_wuniv_count(u);
      blocks = malloc((n ? n : 1) * sizeof *blocks);
      if (!blocks) goto done;
      for (size_t i = 0; i < n; i++) blocks[i] = kp_wuniv_block(u, i);
      qsort(blocks, n, sizeof *blocks, cmp_u32);
    }
    if (n == 0) {
      fprintf(stderr, "keepon census: empty universe\n");
      goto done;
    }
    status = KP_EXIT_FAIL;
    if (!dry_run) kp_cli_privacy_notice();
    /* the output is opened before the icmp driver drops privileges; it stays empty until the
     * census is complete */
    if (!dry_run && out && !(outf = fopen(out, "w"))) {
      fprintf(stderr, "keepon census: cannot open %s\n", out);
      goto done;
    }
    kp_wicmp_config_t ic = {.src = src, .no_drop = no_drop, .drop_user = user};
    kp_status_t dst = kp_wdriver_select(is_sim, dry_run, &ic, &model, &drv);
    if (dst != KP_OK) {
      fprintf(stderr, "keepon census: cannot open the %s driver: %s\n", is_sim ? "sim" : "icmp", kp_strstatus(dst));
      goto done;
    }
    kp_census_config_t cc = {.passes = (unsigned)passes, .rate = rate, .timeout_s = timeout_s,
                             .blocklist = bl, .dry_run = dry_run, .limits = lim};
    kp_census_stats_t cs;
    if (kp_census_run(&cc, blocks, n, drv, &lines, on_would_send, NULL, &cs) != KP_OK) goto done;
    if (dry_run) {
      status = KP_EXIT_OK;
      goto done;
    }
    kp_log_info("census", "%zu blocks: sent %llu, replies %llu, kept %llu, rejected %llu, silent %llu", n,
                (unsigned long long)cs.sent, (unsigned long long)cs.replies, (unsigned long long)cs.kept,
                (unsigned long long)cs.rejected, (unsigned long long)cs.silent);
  }
  status = KP_EXIT_FAIL;
  if (out && !outf) { /* --history: nothing was probed, write atomically */
    if (kp_file_write_atomic(out, lines.data ? lines.data : (const uint8_t *)"", lines.len, 0644) != KP_OK) {
      fprintf(stderr, "keepon census: cannot write %s\n", out);
      goto done;
    }
  } else {
    FILE *f = outf ? outf : stdout;
    if ((lines.len && fwrite(lines.data, 1, lines.len, f) != lines.len) || fflush(f) != 0) {
      fprintf(stderr, "keepon census: write error\n");
      goto done;
    }
  }
  status = KP_EXIT_OK;
done:
  if (outf) {
    if (status != KP_EXIT_OK && ftruncate(fileno(outf), 0) != 0) status = KP_EXIT_FAIL;
    fclose(outf);
  }
  if (drv.ops && drv.ops->close) drv.ops->close(drv.ctx);
  kp_buf_free(&lines);
  free(blocks);
  kp_wsim_free(model);
  kp_wblock_free(bl);
  kp_geo_close(geo);
  kp_wuniv_free(u);
  return status;
}
