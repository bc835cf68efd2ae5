/*
 * targets.c: the IM target file (JSON) into kp_targets_t, pure.
 *
 * Format (docs/probe.md):
 *   {"format":"keepon-im-targets/1",
 *    "blockpage_patterns":["..."],
 *    "control":{"url":"https://example.org/","expected_networks":[...]},
 *    "apps":{"whatsapp":{"expected_networks":["cidr",...],
 *                        "targets":[{"url":"tcpconnect://e1.whatsapp.net","ports":[443,5222],
 *                                    "role":"endpoint"}, ...]}, ...}}
 * URL schemes: tcpconnect://host[:port], tls://host[:port], http(s)://host[:port]/path,
 * dnslookup://host. An entry with "ports" expands into one target per port.
 * Every string is length-checked; unknown keys are ignored (forward compatible);
 * anything malformed is an error naming the entry.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe.h"

static kp_status_t fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static kp_status_t fail(char *err, size_t cap, const char *fmt, ...) {
  if (err && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return KP_ERR_INVAL;
}

static bool copy(char *dst, size_t cap, const char *s) {
  if (!s || strlen(s) >= cap) return false;
  memcpy(dst, s, strlen(s) + 1);
  return true;
}

/* Split a URL into scheme/host/port/path. */
static kp_status_t parse_url(const char *url, kp_target_t *t) {
  static const struct { const char *pfx; kp_scheme_t s; uint16_t port; } schemes[] = {
    {"tcpconnect://", KP_SCHEME_TCP, 443}, {"tls://", KP_SCHEME_TLS, 443}, {"https://", KP_SCHEME_HTTPS, 443},
    {"http://", KP_SCHEME_HTTP, 80},       {"dnslookup://", KP_SCHEME_DNS, 0},
  };
  const char *rest = NULL;
  for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
    if (strncmp(url, schemes[i].pfx, strlen(schemes[i].pfx)) == 0) {
      t->scheme = schemes[i].s;
      t->port = schemes[i].port;
      rest = url + strlen(schemes[i].pfx);
      break;
    }
  if (!rest) return KP_ERR_INVAL;
  const char *slash = strchr(rest, '/');
  size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
  if (hl == 0 || hl >= sizeof t->host) return KP_ERR_INVAL;
  char hp[256];
  memcpy(hp, rest, hl);
  hp[hl] = 0;
  if (!copy(t->path, sizeof t->path, slash ? slash : "/")) return KP_ERR_INVAL;
  /* host, [v6], host:port, [v6]:port */
  char *colon = NULL;
  if (hp[0] == '[') {
    char *rb = strchr(hp, ']');
    if (!rb) return KP_ERR_INVAL;
    *rb = 0;
    memmove(hp, hp + 1, strlen(hp + 1) + 1);
    colon = rb[1] == ':' ? rb + 1 : NULL;
    if (rb[1] && !colon) return KP_ERR_INVAL;
  } else {
    colon = strchr(hp, ':');
  }
  if (colon) {
    char *end;
    *colon = 0;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535) return KP_ERR_INVAL;
    t->port = (uint16_t)p;
  }
  if (!hp[0] || !copy(t->host, sizeof t->host, hp)) return KP_ERR_INVAL;
  for (const char *c = t->host; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
          *c == '.' || *c == ':' || *c == '_'))
      return KP_ERR_INVAL;
  t->host_is_ip = kp_addr_parse(t->host, &t->ip) == KP_OK;
  if (t->scheme == KP_SCHEME_DNS && t->host_is_ip) return KP_ERR_INVAL;
  return KP_OK;
}

kp_status_t kp_target_url_parse(const char *url, kp_target_t *t) {
  memset(t, 0, sizeof *t);
  if (!url || strlen(url) >= sizeof t->url) return KP_ERR_INVAL;
  memcpy(t->url, url, strlen(url) + 1);
  return parse_url(url, t);
}

static kp_status_t parse_nets(const kp_json_t *arr, kp_app_targets_t *a, char *err, size_t cap) {
  if (!arr) return KP_OK;
  if (!kp_json_is(arr, KP_JSON_ARRAY)) return fail(err, cap, "%s: expected_networks must be a list", a->name);
  for (size_t i = 0; i < kp_json_len(arr); i++) {
    const char *s = kp_json_str(kp_json_at(arr, i));
    if (!s || a->nnets >= KP_PROBE_MAX_NETS || kp_prefix_parse(s, &a->nets[a->nnets]) != KP_OK)
      return fail(err, cap, "%s: bad expected network '%s'", a->name, s ? s : "?");
    a->nnets++;
  }
  return KP_OK;
}

static kp_status_t add_target(const kp_json_t *e, kp_app_targets_t *a, char *err, size_t cap) {
  const char *url = kp_json_get_str(e, "url");
  if (!url) return fail(err, cap, "%s: a target has no url", a->name);
  kp_target_t base;
  memset(&base, 0, sizeof base);
  if (strlen(url) >= sizeof base.url || parse_url(url, &base) != KP_OK)
    return fail(err, cap, "%s: bad target url '%s'", a->name, url);
  const char *role = kp_json_get_str(e, "role");
  const char *method = kp_json_get_str(e, "method");
  const char *svc = kp_json_get_str(e, "svc");
  if (!copy(base.role, sizeof base.role, role ? role : "endpoint") ||
      !copy(base.method, sizeof base.method, method ? method : "GET") ||
      !copy(base.svc, sizeof base.svc, svc ? svc : ""))
    return fail(err, cap, "%s: bad role/method/svc for '%s'", a->name, url);
  if (strcmp(base.method, "GET") != 0 && strcmp(base.method, "POST") != 0)
    return fail(err, cap, "%s: method must be GET or POST ('%s')", a->name, url);
  const kp_json_t *mk = kp_json_get(e, "min_kbps");
  base.min_kbps = mk ? kp_json_num(mk) : 0;
  int64_t mb = 0;
  base.max_bytes = kp_json_get_int(e, "max_bytes", &mb) && mb > 0 && mb <= (64 << 20) ? (size_t)mb : 0;
  if (strcmp(base.role, "download") == 0 &&
      (base.min_kbps <= 0 || (base.scheme != KP_SCHEME_HTTP && base.scheme != KP_SCHEME_HTTPS)))
    return fail(err, cap, "%s: download target '%s' needs http(s) and min_kbps > 0", a->name, url);
  const kp_json_t *ports = kp_json_get(e, "ports");
  size_t np = ports ? kp_json_len(ports) : 0;
  if (ports && (!kp_json_is(ports, KP_JSON_ARRAY) || np == 0))
    return fail(err, cap, "%s: ports of '%s' must be a non-empty list", a->name, url);
  for (size_t i = 0; i < (np ? np : 1); i++) {
    if (a->ntargets >= KP_PROBE_MAX_TARGETS) return fail(err, cap, "%s: too many targets", a->name);
    kp_target_t *t = &a->t[a->ntargets];
    *t = base;
    if (np) {
      int64_t p;
      if (!kp_json_int(kp_json_at(ports, i), &p) || p < 1 || p > 65535)
        return fail(err, cap, "%s: bad port in '%s'", a->name, url);
      t->port = (uint16_t)p;
      const char *sep = strstr(url, "://");
      bool v6 = base.host_is_ip && base.ip.family == 6;
      snprintf(t->url, sizeof t->url, "%.*s://%s%s%s:%u", (int)(sep - url), url, v6 ? "[" : "", base.host,
               v6 ? "]" : "", (unsigned)p);
    } else {
      copy(t->url, sizeof t->url, url);
    }
    a->ntargets++;
  }
  return KP_OK;
}

static kp_status_t parse_app(const char *name, const kp_json_t *o, kp_app_targets_t *a, char *err, size_t cap) {
  memset(a, 0, sizeof *a);
  if (!copy(a->name, sizeof a->name, name)) return fail(err, cap, "app name too long: '%s'", name);
  if (!kp_json_is(o, KP_JSON_OBJECT)) return fail(err, cap, "%s: must be an object", name);
  kp_status_t st = parse_nets(kp_json_get(o, "expected_networks"), a, err, cap);
  if (st != KP_OK) return st;
  const kp_json_t *ts = kp_json_get(o, "targets");
  if (!kp_json_is(ts, KP_JSON_ARRAY) || kp_json_len(ts) == 0)
    return fail(err, cap, "%s: needs a non-empty \"targets\" list", name);
  for (size_t i = 0; i < kp_json_len(ts); i++)
    if ((st = add_target(kp_json_at(ts, i), a, err, cap)) != KP_OK) return st;
  return KP_OK;
}

kp_status_t kp_targets_parse(const void *json, size_t n, kp_targets_t *out, char *err, size_t cap) {
  memset(out, 0, sizeof *out);
  kp_json_doc_t *doc = NULL;
  size_t off = 0;
  if (kp_json_parse(json, n, NULL, &doc, &off) != KP_OK) {
    char at[32];
    snprintf(at, sizeof at, "%zu", off);
    return fail(err, cap, "not valid JSON (byte %s)", at);
  }
  kp_status_t st = KP_OK;
  const kp_json_t *root = kp_json_root(doc);
  const kp_json_t *apps = kp_json_get(root, "apps");
  const kp_json_t *ctl = kp_json_get(root, "control");
  const kp_json_t *pats = kp_json_get(root, "blockpage_patterns");
  const char *fmt = kp_json_get_str(root, "format");
  if (!fmt || strcmp(fmt, "keepon-im-targets/1") != 0) {
    st = fail(err, cap, "format must be \"keepon-im-targets/1\"");
    goto out;
  }
  if (!kp_json_is(apps, KP_JSON_OBJECT) || kp_json_len(apps) == 0 || kp_json_len(apps) > KP_PROBE_MAX_APPS) {
    st = fail(err, cap, "\"apps\" must be an object with 1..8 apps");
    goto out;
  }
  for (size_t i = 0; i < kp_json_len(apps); i++) {
    if ((st = parse_app(kp_json_key_at(apps, i), kp_json_at(apps, i), &out->app[i], err, cap)) != KP_OK) goto out;
    out->napps++;
  }
  if (!kp_json_is(ctl, KP_JSON_OBJECT) || !kp_json_get_str(ctl, "url")) {
    st = fail(err, cap, "\"control\" needs a url");
    goto out;
  }
  {
    kp_json_t const *one = ctl;
    memset(&out->control, 0, sizeof out->control);
    copy(out->control.name, sizeof out->control.name, "control");
    if ((st = parse_nets(kp_json_get(one, "expected_networks"), &out->control, err, cap)) != KP_OK) goto out;
    if ((st = add_target(one, &out->control, err, cap)) != KP_OK) goto out;
  }
  for (size_t i = 0; pats && i < kp_json_len(pats) && i < KP_PROBE_MAX_PATTERNS; i++) {
    const char *s = kp_json_str(kp_json_at(pats, i));
    if (!s || !*s || !copy(out->patterns[out->npatterns], sizeof out->patterns[0], s)) {
      st = fail(err, cap, "bad blockpage pattern");
      goto out;
    }
    out->npatterns++;
  }
out:
  kp_json_doc_free(doc);
  return st;
}

const kp_app_targets_t *kp_targets_app(const kp_targets_t *t, const char *name) {
  for (size_t i = 0; i < t->napps; i++)
    if (strcmp(t->app[i].name, name) == 0) return &t->app[i];
  return NULL;
}
