/*
 * cmd_locate.c: `keepon locate` and the locate step shared by `probe im` / `probe web`
 * (KP_CLI_LOCATE_OPTS + kp_cli_locate). The library (src/locate) does the lookups; this file
 * only turns flags into a kp_locate_cfg_t and applies the --probe-cc/--probe-asn overrides.
 * Printing the probe address is opt-in (--with-probe-ip); nothing here writes it to disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/addr.h"
#include "base/opts.h"
#include "cli.h"
#include "geo/geo.h"
#include "httpc/httpc.h"
#include "locate/locate.h"

#define MAX_ITEMS 16

static bool exists(const char *p) {
  struct stat s;
  return stat(p, &s) == 0;
}

/* var/geo/NAME, else $KEEPON_HOME/geo/NAME (where scripts/geodata.sh puts them), else NULL */
static const char *geo_default(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "var/geo/%s", name);
  if (exists(buf)) return buf;
  const char *home = getenv("KEEPON_HOME");
  if (home) {
    snprintf(buf, cap, "%s/geo/%s", home, name);
    if (exists(buf)) return buf;
  }
  return NULL;
}

/* Split a comma list into items[] (NULL-terminated); "none" or "" gives an empty list. */
static int split(const char *s, char *buf, size_t cap, const char **items) {
  size_t n = 0;
  items[0] = NULL;
  if (!s) return 0;
  if (strlen(s) >= cap) return -1;
  snprintf(buf, cap, "%s", s);
  if (!strcmp(buf, "none")) return 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (n + 1 >= MAX_ITEMS) return -1;
    items[n++] = t;
  }
  items[n] = NULL;
  return 0;
}

int kp_cli_locate(const kp_cli_locate_t *v, const char *resolver, const char *cc_flag, const char *asn_flag,
                  const char *net_flag, kp_cli_where_t *w, kp_locate_result_t *raw) {
  memset(w, 0, sizeof *w);
  memset(raw, 0, sizeof *raw);
  char sbuf[1024], ubuf[2048], cbuf[1024], abuf[1024], aa[1024];
  const char *stun[MAX_ITEMS], *urls[MAX_ITEMS];
  if (split(v->stun, sbuf, sizeof sbuf, stun) != 0 || split(v->urls, ubuf, sizeof ubuf, urls) != 0) {
    fprintf(stderr, "keepon: --stun / --ip-lookup: at most %d items of a sane length\n", MAX_ITEMS - 1);
    return KP_EXIT_USAGE;
  }
  kp_locate_cfg_t cfg = {.stun = v->stun ? stun : NULL, .urls = v->urls ? urls : NULL, .whoami = v->whoami,
                         .timeout_ms = 3000};
  if (resolver) {
    char rh[256];
    uint16_t rp = 53;
    if (kp_addr_parse(resolver, &cfg.resolver) != KP_OK &&
        (kp_hostport_parse(resolver, rh, sizeof rh, &rp) != KP_OK || kp_addr_parse(rh, &cfg.resolver) != KP_OK)) {
      fprintf(stderr, "keepon: --resolver wants an IP address or IP:port, got '%s'\n", resolver);
      return KP_EXIT_USAGE;
    }
    cfg.resolver_port = rp;
  }
  bool need_probe = !(cc_flag && asn_flag) && !v->no_locate;
  if (!need_probe) cfg.stun = cfg.urls = (const char *const[]){NULL};
  if (v->no_locate) cfg.whoami = "";
  kp_geo_t *geo = NULL;
  const char *city = v->city ? v->city : v->geo_table ? NULL : geo_default("city.mmdb", cbuf, sizeof cbuf);
  const char *asn = v->asn ? v->asn : v->geo_table ? NULL : geo_default("asn.mmdb", abuf, sizeof abuf);
  if (!asn && !v->asn && !v->geo_table) asn = geo_default("asn.csv", aa, sizeof aa);
  if (city || asn || v->geo_table) {
    kp_geo_config_t gc = {.city_mmdb = city, .asn_mmdb = asn, .table = v->geo_table};
    kp_status_t st = kp_geo_open(&gc, &geo);
    if (st != KP_OK) {
      fprintf(stderr, "keepon: cannot open the geo databases: %s\n", kp_strstatus(st));
      return KP_EXIT_USAGE;
    }
  }
  cfg.geo = geo;
  kp_httpc_t *http = NULL;
  /* never through --proxy: through a proxy (Tor) the lookup would find the proxy's exit, and
     the measurement would be filed under the wrong country */
  kp_httpc_opts_t ho = {.connect_timeout_ms = 3000, .timeout_ms = 5000, .max_body = 64 << 10, .ca_file = v->lookup_ca};
  if (need_probe && kp_httpc_new(&ho, &http) != KP_OK) {
    if (v->lookup_ca) {
      fprintf(stderr, "keepon: --ip-lookup-ca %s: not a readable CA bundle\n", v->lookup_ca);
      kp_geo_close(geo);
      return KP_EXIT_USAGE;
    }
    http = NULL;
  }
  cfg.http = http;
  kp_locate(&cfg, raw);
  kp_httpc_free(http);
  kp_geo_close(geo);

  snprintf(w->cc, sizeof w->cc, "%s", cc_flag ? cc_flag : raw->cc[0] ? raw->cc : "ZZ");
  if (asn_flag) snprintf(w->asn, sizeof w->asn, "%s", asn_flag);
  else snprintf(w->asn, sizeof w->asn, "AS%u", (unsigned)raw->asn);
  snprintf(w->network_name, sizeof w->network_name, "%s", net_flag ? net_flag : asn_flag ? "" : raw->network_name);
  snprintf(w->resolver_ip, sizeof w->resolver_ip, "%s", raw->resolver_ip);
  snprintf(w->resolver_asn, sizeof w->resolver_asn, "AS%u", (unsigned)raw->resolver_asn);
  snprintf(w->resolver_network_name, sizeof w->resolver_network_name, "%s", raw->resolver_network_name);
  return KP_EXIT_OK;
}

int kp_cmd_locate(int argc, char **argv) {
  kp_cli_locate_t lv = {0};
  const char *resolver = "8.8.8.8";
  bool with_ip = false;
  const kp_opt_t opts[] = {
    KP_CLI_LOCATE_OPTS(&lv),
    {"resolver", 'r', KP_OPT_STR, "ADDR", "resolver to ask the whoami name (default 8.8.8.8)", &resolver, 0, 0},
    {"with-probe-ip", 0, KP_OPT_FLAG, NULL, "also print the public address found (default: never shown)", &with_ip, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon locate [options]",
    "Finds where the probe is, as OONI's probe does: its public address by STUN (then HTTPS IP lookup), "
    "mapped to country, ASN and network name; and the resolver's address by a whoami lookup. "
    "Prints what it found; the probe's own address only with --with-probe-ip.",
  };
  char *pos[4];
  int npos = 0;
  if (argc > 64) return KP_EXIT_USAGE;
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc == 1) return KP_EXIT_OK;
  if (rc != 0 || npos) return KP_EXIT_USAGE;
  kp_cli_where_t w;
  kp_locate_result_t raw;
  if ((rc = kp_cli_locate(&lv, resolver, NULL, NULL, NULL, &w, &raw)) != KP_EXIT_OK) return rc;
  printf("probe_cc: %s\nprobe_asn: %s\nprobe_network_name: %s\n", w.cc, w.asn, w.network_name);
  printf("found_by: %s\n", raw.found ? raw.method : "(nothing answered)");
  if (with_ip && raw.found) {
    char ip[KP_ADDR_STRLEN];
    printf("probe_ip: %s\n", kp_addr_fmt(&raw.probe_addr, ip));
  }
  printf("resolver_ip: %s%s\nresolver_asn: %s\nresolver_network_name: %s\n", w.resolver_ip,
         raw.resolver_found ? "" : " (whoami did not answer: the configured resolver)", w.resolver_asn,
         w.resolver_network_name);
  memset(&raw.probe_addr, 0, sizeof raw.probe_addr);
  return raw.found ? KP_EXIT_OK : KP_EXIT_FAIL;
}
