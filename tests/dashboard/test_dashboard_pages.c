/* test_dashboard_pages.c: GET /api/v1/entities and /api/v1/incidents are paged (issue 13
 * item 4: a listing is bounded per answer, names the next page, and every item is reachable
 * by following the pages). */
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "dashboard/dashboard.h"
#include "kp_test.h"

typedef struct got {
  int status;
  int64_t next; /* resp.next_offset: what the server sends as X-Next-Offset */
} got_t;

static got_t get(kp_dashboard_t *d, const char *path, const char *query, kp_buf_t *out) {
  kp_dash_req_t rq = {.method = "GET", .path = path, .query = query};
  kp_dash_resp_t rs;
  KP_ASSERT_OK(kp_dashboard_handle(d, &rq, &rs));
  kp_buf_reset(out);
  kp_buf_append(out, rs.body.data, rs.body.len);
  kp_buf_free(&rs.body);
  return (got_t){rs.status, rs.next_offset};
}

static int post(kp_dashboard_t *d, const char *path, const kp_buf_t *body) {
  kp_dash_req_t rq = {.method = "POST", .path = path, .body = body->data, .body_len = body->len};
  kp_dash_resp_t rs;
  KP_ASSERT_OK(kp_dashboard_handle(d, &rq, &rs));
  kp_buf_free(&rs.body);
  return rs.status;
}

/* the tree in pre-order as "depth:type:code\n" lines */
static void flatten(const kp_json_t *level, int depth, kp_buf_t *out) {
  for (size_t i = 0; i < kp_json_len(level); i++) {
    const kp_json_t *n = kp_json_at(level, i);
    kp_buf_printf(out, "%d:%s:%s\n", depth, kp_json_get_str(n, "type"), kp_json_get_str(n, "code"));
    flatten(kp_json_get(n, "children"), depth + 1, out);
  }
}

static int64_t meta(const kp_json_t *root, const char *k) {
  int64_t v = -1;
  kp_json_get_int(kp_json_get(root, "metadata"), k, &v);
  return v;
}

/* lines [a, b) of a "\n"-separated text */
static void lines(const char *s, size_t a, size_t b, kp_buf_t *out) {
  size_t i = 0;
  for (const char *p = s; *p; i++) {
    const char *nl = strchr(p, '\n');
    if (i >= a && i < b) kp_buf_append(out, p, (size_t)(nl - p + 1));
    p = nl + 1;
  }
}

/* every page is the whole tree's pre-order [offset, offset + new) preceded by the first
 * node's ancestors; the pages together are the whole tree, each at most @p limit new nodes */
static void check_pages(kp_dashboard_t *d, int limit, size_t *npages) {
  kp_buf_t b, whole, pg, want, anc;
  kp_buf_init(&b, 64 << 20);
  kp_buf_init(&whole, 64 << 20);
  kp_buf_init(&pg, 64 << 20);
  kp_buf_init(&want, 64 << 20);
  kp_buf_init(&anc, 1 << 16);
  KP_ASSERT_EQ(get(d, "/api/v1/entities", "limit=10000", &b).status, 200);
  kp_json_doc_t *doc = NULL;
  KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &doc, NULL));
  flatten(kp_json_get(kp_json_root(doc), "entities"), 0, &whole);
  int64_t count = meta(kp_json_root(doc), "count");
  kp_json_doc_free(doc);
  size_t total = 0;
  for (const char *p = kp_buf_str(&whole); *p; p++) total += *p == '\n';
  KP_ASSERT_EQ(count, (int64_t)total);
  int64_t off = 0;
  *npages = 0;
  char q[64];
  for (;;) {
    snprintf(q, sizeof q, "limit=%d&offset=%lld", limit, (long long)off);
    got_t g = get(d, "/api/v1/entities", q, &b);
    KP_ASSERT_EQ(g.status, 200);
    (*npages)++;
    KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &doc, NULL));
    kp_buf_reset(&pg);
    flatten(kp_json_get(kp_json_root(doc), "entities"), 0, &pg);
    int64_t next = meta(kp_json_root(doc), "next_offset");
    KP_ASSERT_EQ(meta(kp_json_root(doc), "count"), count);
    KP_ASSERT_EQ(g.next, next); /* the header and the body name the same page */
    kp_json_doc_free(doc);
    size_t end = next >= 0 ? (size_t)next : total;
    KP_ASSERT(end > (size_t)off && end - (size_t)off <= (size_t)limit);
    /* the expected page: ancestors of node `off` (nearest shallower lines before it), then [off, end) */
    kp_buf_reset(&want);
    kp_buf_reset(&anc);
    lines(kp_buf_str(&whole), (size_t)off, (size_t)off + 1, &anc);
    int depth = kp_buf_str(&anc)[0] - '0';
    kp_buf_t chain[3];
    int nch = 0;
    for (size_t i = (size_t)off; i-- > 0 && depth > 0;) {
      kp_buf_reset(&anc);
      lines(kp_buf_str(&whole), i, i + 1, &anc);
      int di = kp_buf_str(&anc)[0] - '0';
      if (di < depth) {
        kp_buf_init(&chain[nch], 1 << 12);
        kp_buf_append(&chain[nch++], anc.data, anc.len);
        depth = di;
      }
    }
    while (nch > 0) {
      nch--;
      kp_buf_append(&want, chain[nch].data, chain[nch].len);
      kp_buf_free(&chain[nch]);
    }
    lines(kp_buf_str(&whole), (size_t)off, end, &want);
    KP_ASSERT_MSG(strcmp(kp_buf_str(&pg), kp_buf_str(&want)) == 0, "page at %lld:\n%s\nwanted:\n%s", (long long)off,
                  kp_buf_str(&pg), kp_buf_str(&want));
    if (next < 0) break;
    off = next;
  }
  kp_buf_free(&b);
  kp_buf_free(&whole);
  kp_buf_free(&pg);
  kp_buf_free(&want);
  kp_buf_free(&anc);
}

KP_TEST(entities_pages_cover_the_tree) {
  kp_dashboard_t *d = NULL;
  KP_ASSERT_OK(kp_dashboard_new(NULL, &d));
  static const char *const cc[] = {"IR", "KZ", "MM"};
  kp_buf_t body;
  kp_buf_init(&body, 1 << 20);
  kp_buf_puts(&body, "[");
  for (int c = 0; c < 3; c++) {
    for (int r = 0; r < 3; r++) {
      kp_buf_printf(&body, "%s{\"type\":\"region\",\"code\":\"%s/R%d\"}", c || r ? "," : "", cc[c], r);
      for (int a = 0; a < 4; a++)
        kp_buf_printf(&body, ",{\"type\":\"asn\",\"code\":\"AS%d\",\"cc\":\"%s\",\"region\":\"%s/R%d\"}",
                      1000 + c * 100 + r * 10 + a, cc[c], cc[c], r);
    }
    for (int a = 0; a < 3; a++)
      kp_buf_printf(&body, ",{\"type\":\"asn\",\"code\":\"AS%d\",\"cc\":\"%s\"}", 2000 + c * 10 + a, cc[c]);
  }
  kp_buf_puts(&body, ",{\"type\":\"asn\",\"code\":\"AS9\"},{\"type\":\"asn\",\"code\":\"AS8\"}]"); /* orphans */
  KP_ASSERT_EQ(post(d, "/api/v1/entities", &body), 200);
  size_t pages;
  for (int limit = 1; limit <= 7; limit++) check_pages(d, limit, &pages);
  check_pages(d, 4, &pages);
  KP_ASSERT_EQ(pages, 15); /* 59 nodes (3 countries, 9 regions, 45 ASNs, 2 orphans) in pages of 4 */
  check_pages(d, 1000, &pages);
  KP_ASSERT_EQ(pages, 1);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT_EQ(get(d, "/api/v1/entities", "limit=0", &b).status, 400);
  KP_ASSERT_EQ(get(d, "/api/v1/entities", "limit=10001", &b).status, 400);
  KP_ASSERT_EQ(get(d, "/api/v1/entities", "offset=-1", &b).status, 400);
  KP_ASSERT_EQ(get(d, "/api/v1/entities", "offset=1x", &b).status, 400);
  got_t g = get(d, "/api/v1/entities", "offset=59", &b); /* at the end: an empty last page */
  KP_ASSERT_EQ(g.status, 200);
  KP_ASSERT_EQ(g.next, -1);
  KP_ASSERT(strstr(kp_buf_str(&b), "\"entities\":[]"));
  kp_buf_free(&b);
  kp_buf_free(&body);
  kp_dashboard_free(d);
}

/* 30,000 entities (the load): the default page is bounded, names the next page,
 * and following the pages reaches every entity */
KP_TEST(entities_30k_default_page_bounded) {
  kp_dashboard_t *d = NULL;
  KP_ASSERT_OK(kp_dashboard_new(NULL, &d));
  kp_buf_t body, b;
  kp_buf_init(&body, 16 << 20);
  kp_buf_init(&b, 16 << 20);
  kp_buf_puts(&body, "[");
  for (int k = 0; k < 30000; k++)
    kp_buf_printf(&body, "%s{\"type\":\"asn\",\"code\":\"AS%d\",\"cc\":\"%c%c\"}", k ? "," : "", 64512 + k, 'A' + k % 26,
                  'A' + (k / 26) % 26);
  kp_buf_puts(&body, "]");
  KP_ASSERT_EQ(post(d, "/api/v1/entities", &body), 200);
  int64_t off = 0, asns = 0, pages = 0;
  for (;;) {
    char q[40];
    snprintf(q, sizeof q, "offset=%lld", (long long)off);
    got_t g = get(d, "/api/v1/entities", off ? q : NULL, &b);
    KP_ASSERT_EQ(g.status, 200);
    KP_ASSERT(b.len < 200000); /* ~1000 nodes, not 30,000 */
    pages++;
    for (const char *p = kp_buf_str(&b); (p = strstr(p, "\"type\":\"asn\"")); p++) asns++;
    if (g.next < 0) break;
    KP_ASSERT_EQ(g.next, off + 1000 > 30676 ? 30676 : off + 1000);
    off = g.next;
  }
  KP_ASSERT_EQ(asns, 30000); /* an ASN is never repeated as an ancestor: every one exactly once */
  KP_ASSERT_EQ(pages, 31);   /* 30,000 ASNs + 676 countries, 1000 a page */
  kp_buf_free(&body);
  kp_buf_free(&b);
  kp_dashboard_free(d);
}

KP_TEST(incidents_pages_and_byte_budget) {
  kp_dashboard_t *d = NULL;
  KP_ASSERT_OK(kp_dashboard_new(NULL, &d));
  kp_buf_t body, b;
  kp_buf_init(&body, 16 << 20);
  kp_buf_init(&b, 16 << 20);
  kp_buf_puts(&body, "[");
  for (int k = 0; k < 2500; k++) kp_buf_printf(&body, "%s{\"id\":\"i%d\",\"cc\":\"KZ\"}", k ? "," : "", k);
  kp_buf_puts(&body, "]");
  KP_ASSERT_EQ(post(d, "/api/v1/incidents", &body), 200);
  int64_t off = 0, seen = 0;
  for (;;) {
    char q[40];
    snprintf(q, sizeof q, "offset=%lld", (long long)off);
    got_t g = get(d, "/api/v1/incidents", off ? q : NULL, &b);
    KP_ASSERT_EQ(g.status, 200);
    kp_json_doc_t *doc = NULL;
    KP_ASSERT_OK(kp_json_parse(b.data, b.len, NULL, &doc, NULL));
    const kp_json_t *arr = kp_json_get(kp_json_root(doc), "incidents");
    KP_ASSERT(kp_json_len(arr) <= 1000);
    KP_ASSERT_EQ(meta(kp_json_root(doc), "count"), 2500);
    for (size_t i = 0; i < kp_json_len(arr); i++) {
      char want[24];
      snprintf(want, sizeof want, "i%lld", (long long)seen++);
      KP_ASSERT_STREQ(kp_json_get_str(kp_json_at(arr, i), "id"), want); /* in order, none missing or twice */
    }
    KP_ASSERT_EQ(meta(kp_json_root(doc), "next_offset"), g.next);
    kp_json_doc_free(doc);
    if (g.next < 0) break;
    off = g.next;
  }
  KP_ASSERT_EQ(seen, 2500);
  KP_ASSERT_EQ(get(d, "/api/v1/incidents", "limit=3&offset=2498", &b).next, -1);
  KP_ASSERT_MSG(strstr(kp_buf_str(&b), "{\"incidents\":[{\"id\":\"i2498\",\"cc\":\"KZ\"},{\"id\":\"i2499\",\"cc\":\"KZ\"}],"),
                "%.300s", kp_buf_str(&b));
  KP_ASSERT_EQ(get(d, "/api/v1/incidents", "limit=10001", &b).status, 400);
  /* big incidents: a page ends past 1 MiB (and always holds one) */
  kp_buf_reset(&body);
  kp_buf_puts(&body, "[");
  for (int k = 0; k < 30; k++) {
    kp_buf_printf(&body, "%s{\"id\":\"big%d\",\"note\":\"", k ? "," : "", k);
    for (int j = 0; j < 200000; j++) kp_buf_putc(&body, 'x');
    kp_buf_puts(&body, "\"}");
  }
  kp_buf_puts(&body, "]");
  KP_ASSERT_EQ(post(d, "/api/v1/incidents", &body), 200);
  got_t g = get(d, "/api/v1/incidents", "limit=100", &b);
  KP_ASSERT_EQ(g.next, 6); /* 6 x ~200 KB passes 1 MiB */
  KP_ASSERT(b.len < (2u << 20));
  kp_buf_free(&body);
  kp_buf_free(&b);
  kp_dashboard_free(d);
}
