/*
 * cmd_bgp.c: `keepon bgp dump` (bgpdump -m compatible text) and
 * `keepon bgp visibility` (the BGP signal as signal-point JSONL).
 * Both stream: one record in memory at a time, output flushed in 1 MiB writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cursor.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/opts.h"
#include "bgp/bgp.h"
#include "cli/cli.h"
#include "geo/geo.h"
#include "store/store.h"

#define FLUSH_AT ((size_t)1 << 20)

static int write_all(int fd, kp_buf_t *b) {
  size_t off = 0;
  while (off < b->len) {
    ssize_t k = write(fd, b->data + off, b->len - off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    off += (size_t)k;
  }
  kp_buf_reset(b);
  return 0;
}

/* Every input must be readable before anything is written (exit 2, no partial output). */
static bool inputs_readable(char **pos, int npos, const char *cmd) {
  for (int i = 0; i < npos; i++) {
    if (strcmp(pos[i], "-") != 0 && access(pos[i], R_OK) != 0) {
      fprintf(stderr, "keepon bgp %s: %s: %s\n", cmd, pos[i], strerror(errno));
      return false;
    }
  }
  return true;
}

static void report(const char *path, const kp_mrt_rec_t *r, const char *why) {
  kp_log_warnx("bgp", "%s: record at offset %llu (type %u/%u, length %u): %s; skipped", path,
               (unsigned long long)r->offset, r->type, r->subtype, r->len, why);
}

/* ---- dump ---- */

static int cmd_dump(int argc, char **argv) {
  bool m = false, v = false;
  long max_record = (long)KP_MRT_MAX_RECORD_DEFAULT;
  const kp_opt_t opts[] = {
      {"machine", 'm', KP_OPT_FLAG, NULL, "one line per entry, bgpdump -m format (the only format; default)", &m, 0, 0},
      {"verbose", 'v', KP_OPT_FLAG, NULL, "accepted for bgpdump compatibility (warnings always go to stderr)", &v, 0, 0},
      {"max-record", 0, KP_OPT_INT, "BYTES", "largest MRT record accepted (default 16 MiB); longer ones are skipped",
       &max_record, 65536, 1 << 30},
      {0},
  };
  const kp_cmd_help_t help = {
      "keepon bgp dump [-m] FILE...",
      "Print MRT files (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP, BGP4MP_ET, MRTD BGP; gzip, bzip2 or plain; "
      "'-' = stdin) exactly as `bgpdump -m` does. Corrupt records are reported on stderr with their "
      "offset and skipped; a truncated file is reported and ends that file."};
  /* bgpdump habit: -vm / -mv */
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "-vm") == 0 || strcmp(argv[i], "-mv") == 0) argv[i] = "-m";
  char **pos = NULL;
  int npos = 0;
  int rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc != 0) return kp_opts_exit(rc);
  (void)m;
  (void)v;
  if (npos == 0 || !inputs_readable(pos, npos, "dump")) {
    if (npos == 0) fprintf(stderr, "usage: %s\nno input file\n", help.usage);
    free(pos);
    return KP_EXIT_USAGE;
  }
  kp_mrt_ctx_t *ctx = NULL;
  kp_buf_t out;
  kp_buf_init(&out, (size_t)256 << 20);
  int status = KP_EXIT_OK;
  if (kp_mrt_ctx_new(&ctx) != KP_OK || kp_buf_reserve(&out, 2 * FLUSH_AT) != KP_OK) {
    status = KP_EXIT_FAIL;
    goto done;
  }
  for (int i = 0; i < npos && status == KP_EXIT_OK; i++) {
    kp_mrt_reader_t *rd = NULL;
    kp_status_t st = kp_mrt_open(pos[i], (size_t)max_record, &rd);
    if (st != KP_OK) {
      kp_log_error("bgp", "%s: %s", pos[i], st == KP_ERR_IO || st == KP_ERR_NOTFOUND ? strerror(errno) : kp_strstatus(st));
      status = KP_EXIT_FAIL;
      break;
    }
    kp_mrt_ctx_reset(ctx);
    uint64_t lines = 0;
    kp_mrt_rec_t r;
    for (;;) {
      st = kp_mrt_next(rd, &r);
      if (st == KP_ERR_NOTFOUND) break;
      if (st == KP_ERR_TRUNC) {
        kp_log_warnx("bgp", "%s: truncated record at offset %llu (%u bytes left)", pos[i],
                     (unsigned long long)r.offset, r.len);
        continue;
      }
      if (st == KP_ERR_RANGE) {
        report(pos[i], &r, "longer than --max-record");
        continue;
      }
      if (st == KP_ERR_INVAL) {
        report(pos[i], &r, "BGP4MP_ET length shorter than its microseconds field");
        continue;
      }
      if (st != KP_OK) {
        kp_log_error("bgp", "%s: read error at offset %llu: %s", pos[i], (unsigned long long)kp_mrt_reader_pos(rd),
                     kp_strstatus(st));
        status = KP_EXIT_FAIL;
        break;
      }
      st = kp_bgp_dump_record(ctx, &r, &out, &lines);
      if (st == KP_ERR_INVAL) report(pos[i], &r, kp_mrt_ctx_error(ctx));
      else if (st != KP_OK) report(pos[i], &r, kp_strstatus(st));
      if (out.len >= FLUSH_AT && write_all(1, &out) != 0) {
        status = KP_EXIT_FAIL;
        break;
      }
    }
    kp_mrt_close(rd);
  }
  if (write_all(1, &out) != 0) status = KP_EXIT_FAIL;
done:
  kp_buf_free(&out);
  kp_mrt_ctx_free(ctx);
  free(pos);
  return status;
}

/* ---- visibility ---- */

typedef struct vis_run {
  kp_bgp_vis_t *vis;
  kp_buf_t *out;
  kp_status_t st;
} vis_run_t;

static int vis_elem(void *arg, const kp_bgp_elem_t *e) {
  vis_run_t *vr = arg;
  vr->st = kp_bgp_vis_add(vr->vis, e, vr->out);
  return vr->st != KP_OK;
}

/* Put the signal points of the JSONL in b[0..n) into the store, in batches (one transaction each). */
static kp_status_t store_points(kp_store_t *store, const uint8_t *b, size_t n) {
  enum { BATCH = 512 };
  kp_json_doc_t *docs[BATCH];
  kp_store_signal_t sig[BATCH];
  size_t k = 0, len;
  kp_status_t st = KP_OK;
  kp_json_limits_t lim = {.max_depth = 8, .max_bytes = 1 << 16};
  kp_cur_t c = kp_cur_make(b, n);
  const uint8_t *l;
  while (st == KP_OK && kp_cur_line(&c, &l, &len)) {
    kp_json_doc_t *doc = NULL;
    if (len > 0 && kp_json_parse(l, len, &lim, &doc, NULL) == KP_OK) {
      const kp_json_t *o = kp_json_root(doc), *v = kp_json_get(o, "value");
      int64_t t = 0, step = 0;
      kp_store_signal_t *g = &sig[k];
      g->entity_type = kp_json_get_str(o, "entity_type");
      g->entity_code = kp_json_get_str(o, "entity_code");
      g->datasource = kp_json_get_str(o, "datasource");
      g->has_value = v && kp_json_is(v, KP_JSON_NUMBER);
      g->value = g->has_value ? kp_json_num(v) : 0;
      if (g->entity_type && g->entity_code && g->datasource && kp_json_get_int(o, "t", &t) &&
          kp_json_get_int(o, "step", &step)) {
        g->t = t, g->step = step;
        docs[k++] = doc;
        doc = NULL;
      }
      kp_json_doc_free(doc);
    }
    if (k == BATCH || (k > 0 && kp_cur_left(&c) == 0)) {
      st = kp_store_put_signals(store, sig, k);
      for (size_t i = 0; i < k; i++) kp_json_doc_free(docs[i]);
      k = 0;
    }
  }
  for (size_t i = 0; i < k; i++) kp_json_doc_free(docs[i]);
  return st;
}

/* split "a,b,c" in place into a NULL-terminated array (at most cap-1 items) */
static size_t split_list(char *s, const char **items, size_t cap) {
  size_t n = 0;
  for (char *tok = strtok(s, ","); tok && n + 1 < cap; tok = strtok(NULL, ","))
    if (*tok) items[n++] = tok;
  items[n] = NULL;
  return n;
}

static int cmd_visibility(int argc, char **argv) {
  long bin = 300, ffmin = 400000, stale = 0, max_record = (long)KP_MRT_MAX_RECORD_DEFAULT;
  double frac = 0.5;
  const char *cidr = NULL, *table = NULL, *city = NULL, *asnmmdb = NULL, *countries = NULL, *asns = NULL,
             *signals = NULL, *store_path = NULL;
  bool no_asn = false, no_region = false;
  const kp_opt_t opts[] = {
      {"bin", 0, KP_OPT_INT, "SECONDS", "bin length (default 300)", &bin, 1, 86400},
      {"full-feed-min", 0, KP_OPT_INT, "N", "IPv4 routes a peer needs to count as full-feed (default 400000)", &ffmin,
       1, 10000000},
      {"vis-frac", 0, KP_OPT_DOUBLE, "F", "share of full-feed peers that must see a /24 (default 0.5)", &frac, 0.0001, 1},
      {"stale-after", 0, KP_OPT_INT, "SECONDS", "ignore peers silent this long (default 0 = never)", &stale, 0,
       100000000},
      {"geo-cidr", 0, KP_OPT_STR, "FILES", "comma-separated <cc>.cidr lists (country universe)", &cidr, 0, 0},
      {"geo-table", 0, KP_OPT_STR, "FILE", "keepon geo table (prefix,cc,region,asn,as_name)", &table, 0, 0},
      {"city-mmdb", 0, KP_OPT_STR, "FILE", "MaxMind-format city database", &city, 0, 0},
      {"asn-mmdb", 0, KP_OPT_STR, "FILE", "MaxMind-format ASN database", &asnmmdb, 0, 0},
      {"country", 0, KP_OPT_STR, "CC,..", "countries to report (default: those of --geo-cidr)", &countries, 0, 0},
      {"asn", 0, KP_OPT_STR, "AS,..", "origin ASNs to report (default: every origin seen)", &asns, 0, 0},
      {"no-asn", 0, KP_OPT_FLAG, NULL, "no per-ASN points", &no_asn, 0, 0},
      {"no-region", 0, KP_OPT_FLAG, NULL, "no per-region points", &no_region, 0, 0},
      {"signals", 'o', KP_OPT_STR, "FILE", "write the JSONL here (atomically) instead of stdout", &signals, 0, 0},
      {"store", 0, KP_OPT_STR, "PATH", "also put the points into this store (sqlite:PATH, PATH or clickhouse://...)", &store_path, 0,
       0},
      {"max-record", 0, KP_OPT_INT, "BYTES", "largest MRT record accepted (default 16 MiB)", &max_record, 65536,
       1 << 30},
      {0},
  };
  const kp_cmd_help_t help = {
      "keepon bgp visibility [options] FILE...",
      "Rebuild per-peer RIBs from MRT files (a RIB dump, then update files, in time order) and print, per "
      "bin, signal points (docs/formats.md): datasource 'bgp' = /24s visible to >= --vis-frac of the "
      "full-feed peers, 'bgp-updates' = announcements + withdrawals, per country, region (CC/Region) and "
      "origin AS. A bin with no full-feed peer has value null."};
  char **pos = NULL;
  int npos = 0;
  int rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc != 0) return kp_opts_exit(rc);
  int status = KP_EXIT_OK;
  char *cidr_copy = cidr ? strdup(cidr) : NULL, *cc_copy = countries ? strdup(countries) : NULL;
  char *asn_copy = asns ? strdup(asns) : NULL;
  const char *cidr_files[256], *cc_list[256], *asn_items[4096];
  uint32_t asn_vals[4096];
  char cc_from_files[256][3];
  size_t nasn = 0;
  kp_geo_t *geo = NULL;
  kp_bgp_vis_t *vis = NULL;
  kp_mrt_ctx_t *ctx = NULL;
  kp_store_t *store = NULL;
  kp_buf_t out;
  kp_buf_init(&out, (size_t)1 << 30);
  if (npos == 0 || !inputs_readable(pos, npos, "visibility")) {
    if (npos == 0) fprintf(stderr, "usage: %s\nno input file\n", help.usage);
    status = KP_EXIT_USAGE;
    goto done;
  }
  size_t ncidr = cidr_copy ? split_list(cidr_copy, cidr_files, 256) : 0;
  if (cc_copy) {
    split_list(cc_copy, cc_list, 256);
  } else {
    size_t k = 0;
    for (size_t i = 0; i < ncidr; i++) {
      const char *b = strrchr(cidr_files[i], '/');
      b = b ? b + 1 : cidr_files[i];
      if (strlen(b) == 7 && strcmp(b + 2, ".cidr") == 0) {
        cc_from_files[k][0] = b[0], cc_from_files[k][1] = b[1], cc_from_files[k][2] = 0;
        cc_list[k] = cc_from_files[k];
        k++;
      }
    }
    cc_list[k] = NULL;
  }
  if (asn_copy) {
    size_t n = split_list(asn_copy, asn_items, 4096);
    for (size_t i = 0; i < n; i++) {
      const char *a = asn_items[i];
      if ((a[0] == 'A' || a[0] == 'a') && (a[1] == 'S' || a[1] == 's')) a += 2;
      char *end;
      unsigned long x = strtoul(a, &end, 10);
      if (*end || x == 0 || x > 0xFFFFFFFFul) {
        fprintf(stderr, "usage: %s\n--asn: not an AS number: '%s'\n", help.usage, asn_items[i]);
        status = KP_EXIT_USAGE;
        goto done;
      }
      asn_vals[nasn++] = (uint32_t)x;
    }
  }
  if (ncidr || table || city || asnmmdb) {
    kp_geo_config_t gc = {.city_mmdb = city, .asn_mmdb = asnmmdb, .cidr_files = ncidr ? cidr_files : NULL,
                          .table = table};
    kp_status_t st = kp_geo_open(&gc, &geo);
    if (st != KP_OK) {
      fprintf(stderr, "keepon bgp visibility: cannot load geolocation: %s\n", kp_strstatus(st));
      status = KP_EXIT_USAGE;
      goto done;
    }
  }
  kp_bgp_vis_config_t vc = {.bin = (uint32_t)bin, .full_feed_min = (uint32_t)ffmin, .vis_frac = frac,
                            .stale_after = (uint32_t)stale, .geo = geo, .countries = cc_list[0] ? cc_list : NULL,
                            .asns = asn_copy ? asn_vals : NULL, .nasns = nasn, .per_country = geo != NULL,
                            .per_region = geo != NULL && !no_region, .per_asn = !no_asn};
  if (!geo) cc_list[0] = NULL;
  if (store_path && kp_store_open(store_path, &store) != KP_OK) {
    fprintf(stderr, "keepon bgp visibility: cannot open the store %s\n", store_path);
    status = KP_EXIT_FAIL;
    goto done;
  }
  if (kp_bgp_vis_new(&vc, &vis) != KP_OK || kp_mrt_ctx_new(&ctx) != KP_OK) {
    status = KP_EXIT_FAIL;
    goto done;
  }
  vis_run_t vr = {vis, &out, KP_OK};
  for (int i = 0; i < npos && status == KP_EXIT_OK; i++) {
    kp_mrt_reader_t *rd = NULL;
    kp_status_t st = kp_mrt_open(pos[i], (size_t)max_record, &rd);
    if (st != KP_OK) {
      fprintf(stderr, "keepon bgp visibility: %s: %s\n", pos[i], strerror(errno));
      status = KP_EXIT_USAGE;
      break;
    }
    kp_mrt_ctx_reset(ctx);
    kp_mrt_rec_t r;
    while ((st = kp_mrt_next(rd, &r)) != KP_ERR_NOTFOUND) {
      if (st == KP_ERR_TRUNC || st == KP_ERR_RANGE || st == KP_ERR_INVAL) {
        report(pos[i], &r, st == KP_ERR_TRUNC ? "truncated" : kp_strstatus(st));
        continue;
      }
      if (st != KP_OK) {
        kp_log_error("bgp", "%s: read error: %s", pos[i], kp_strstatus(st));
        status = KP_EXIT_FAIL;
        break;
      }
      st = kp_bgp_elems(ctx, &r, vis_elem, &vr);
      if (st == KP_ERR_INVAL) report(pos[i], &r, kp_mrt_ctx_error(ctx));
      if (vr.st != KP_OK) {
        kp_log_error("bgp", "visibility: %s", kp_strstatus(vr.st));
        status = KP_EXIT_FAIL;
        break;
      }
      if (!signals && out.len >= FLUSH_AT) {
        if (store && store_points(store, out.data, out.len) != KP_OK) status = KP_EXIT_FAIL;
        if (write_all(1, &out) != 0) status = KP_EXIT_FAIL;
      }
    }
    kp_mrt_close(rd);
  }
  if (status == KP_EXIT_OK && kp_bgp_vis_flush(vis, &out) != KP_OK) status = KP_EXIT_FAIL;
  if (status == KP_EXIT_OK) {
    size_t peers, full;
    kp_bgp_vis_stats(vis, &peers, &full);
    kp_log_info("bgp", "%zu peers, %zu full-feed at the end", peers, full);
    if (store && out.len && store_points(store, out.data, out.len) != KP_OK) {
      fprintf(stderr, "keepon bgp visibility: cannot write to the store\n");
      status = KP_EXIT_FAIL;
    }
    if (status != KP_EXIT_OK) {
    } else if (signals) {
      if (kp_file_write_atomic(signals, out.data ? out.data : (const uint8_t *)"", out.len, 0644) != KP_OK) {
        fprintf(stderr, "keepon bgp visibility: cannot write %s: %s\n", signals, strerror(errno));
        status = KP_EXIT_FAIL;
      }
    } else if (write_all(1, &out) != 0) {
      status = KP_EXIT_FAIL;
    }
  }
done:
  kp_buf_free(&out);
  kp_mrt_ctx_free(ctx);
  kp_bgp_vis_free(vis);
  kp_geo_close(geo);
  if (store) kp_store_close(store);
  free(cidr_copy), free(cc_copy), free(asn_copy), free(pos);
  return status;
}

int kp_cmd_bgp(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    FILE *f = argc < 2 ? stderr : stdout;
    fprintf(f,
            "usage: keepon bgp SUBCOMMAND [options]\n\n"
            "  dump [-m] FILE...        MRT -> bgpdump -m text\n"
            "  visibility [options] FILE...  MRT -> BGP signal points (JSONL)\n\n"
            "'keepon bgp SUBCOMMAND --help' describes a subcommand.\n");
    return argc < 2 ? KP_EXIT_USAGE : KP_EXIT_OK;
  }
  if (strcmp(argv[1], "dump") == 0) return cmd_dump(argc - 1, argv + 1);
  if (strcmp(argv[1], "visibility") == 0) return cmd_visibility(argc - 1, argv + 1);
  fprintf(stderr, "keepon bgp: unknown subcommand '%s'\n", argv[1]);
  return KP_EXIT_USAGE;
}
