/* test_dashboard.c: the dashboard's routes without a server: assets, entity tree, incidents. */
#include <string.h>

#include "base/json.h"
#include "dashboard/dashboard.h"
#include "kp_test.h"

static kp_json_doc_t *parse(const kp_buf_t *b) {
  kp_json_doc_t *doc = NULL;
  KP_ASSERT_MSG(kp_json_parse(b->data, b->len, NULL, &doc, NULL) == KP_OK, "not JSON: %s", kp_buf_str(b));
  return doc;
}

static const kp_json_t *child(const kp_json_t *list, const char *code) {
  for (size_t i = 0; i < kp_json_len(list); i++) {
    const char *c = kp_json_get_str(kp_json_at(list, i), "code");
    if (c && strcmp(c, code) == 0) return kp_json_at(list, i);
  }
  return NULL;
}

KP_TEST(tree_nests_country_region_asn) {
  const kp_dash_entity_t v[] = {
    {.type = "asn", .code = "AS9198", .cc = "KZ", .region = "KZ/Almaty", .t_min = 200, .t_max = 900},
    {.type = "region", .code = "KZ/Almaty", .t_min = 100, .t_max = 500},
    {.type = "country", .code = "KZ", .t_min = 150, .t_max = 1000},
    {.type = "asn", .code = "AS21299", .cc = "KZ"},
    {.type = "country", .code = "KZ"},                     /* duplicate */
    {.type = "region", .code = "UG/Kampala"},              /* its country is only implied */
    {.type = "asn", .code = "AS1"},                        /* no country known */
    {.type = "asn", .code = "AS2", .cc = "KZ", .region = "KZ/Nowhere"}, /* region unknown: under KZ */
  };
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT(kp_dashboard_tree_json(v, sizeof v / sizeof *v, &b) == KP_OK);
  kp_json_doc_t *doc = parse(&b);
  const kp_json_t *root = kp_json_root(doc);
  int64_t from = 0, until = 0;
  KP_ASSERT(kp_json_get_int(root, "from", &from) && from == 100);
  KP_ASSERT(kp_json_get_int(root, "until", &until) && until == 1000);
  const kp_json_t *top = kp_json_get(root, "entities");
  KP_ASSERT_EQ(kp_json_len(top), 3); /* KZ, UG, AS1 */
  const kp_json_t *kz = child(top, "KZ");
  KP_ASSERT(kz);
  const kp_json_t *kzc = kp_json_get(kz, "children");
  KP_ASSERT_EQ(kp_json_len(kzc), 3); /* KZ/Almaty, AS21299, AS2 */
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_at(kzc, 0), "type"), "region");
  const kp_json_t *alm = child(kzc, "KZ/Almaty");
  KP_ASSERT(alm);
  KP_ASSERT_STREQ(kp_json_get_str(alm, "name"), "Almaty");
  KP_ASSERT(child(kp_json_get(alm, "children"), "AS9198"));
  KP_ASSERT(child(kzc, "AS21299") && child(kzc, "AS2") && !child(kzc, "AS9198"));
  const kp_json_t *ug = child(top, "UG");
  KP_ASSERT(ug && child(kp_json_get(ug, "children"), "UG/Kampala"));
  KP_ASSERT(child(top, "AS1"));
  kp_json_doc_free(doc);
  kp_buf_free(&b);
}

KP_TEST(incidents_parse_shapes) {
  static const char *good[] = {
    "[{\"id\":\"a\"},{\"id\":\"b\"}]",
    "{\"incidents\":[{\"id\":\"a\"},{\"id\":\"b\"}]}",
    "{\"id\":\"a\"}\n\n  {\"id\":\"b\"}\r\n",
  };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    kp_buf_t b;
    kp_buf_init(&b, 1 << 20);
    size_t n = 0;
    KP_ASSERT_MSG(kp_dashboard_incidents_parse(good[i], strlen(good[i]), &b, &n) == KP_OK, "case %zu", i);
    KP_ASSERT_EQ(n, 2);
    kp_json_doc_t *doc = parse(&b);
    KP_ASSERT_EQ(kp_json_len(kp_json_root(doc)), 2);
    KP_ASSERT_STREQ(kp_json_get_str(kp_json_at(kp_json_root(doc), 1), "id"), "b");
    kp_json_doc_free(doc);
    kp_buf_free(&b);
  }
  static const char *bad[] = {"[1,2]", "{\"id\":1}\nnope", "\"x\"", "[{\"a\":1},[]]"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kp_buf_t b;
    kp_buf_init(&b, 1 << 20);
    size_t n = 0;
    KP_ASSERT_MSG(kp_dashboard_incidents_parse(bad[i], strlen(bad[i]), &b, &n) != KP_OK, "bad case %zu accepted", i);
    KP_ASSERT_EQ(b.len, 0);
    kp_buf_free(&b);
  }
}

static int call(kp_dashboard_t *d, const char *method, const char *path, const char *body, kp_buf_t *out) {
  kp_dash_req_t rq = {.method = method, .path = path, .body = body, .body_len = body ? strlen(body) : 0};
  kp_dash_resp_t rs;
  kp_status_t st = kp_dashboard_handle(d, &rq, &rs);
  if (st == KP_ERR_NOTFOUND) return -1;
  KP_ASSERT(st == KP_OK);
  kp_buf_reset(out);
  if (rs.static_body) kp_buf_append(out, rs.static_body, rs.static_len);
  else kp_buf_append(out, rs.body.data, rs.body.len);
  kp_buf_free(&rs.body);
  return rs.status;
}

KP_TEST(routes_assets_and_incidents_persist) {
  kp_dashboard_config_t cfg = {.state_dir = kp_test_tmpdir()};
  kp_dashboard_t *d = NULL;
  KP_ASSERT(kp_dashboard_new(&cfg, &d) == KP_OK);
  kp_buf_t b;
  kp_buf_init(&b, 1 << 24);
  KP_ASSERT_EQ(call(d, "GET", "/", NULL, &b), 200);
  KP_ASSERT(strstr(kp_buf_str(&b), "<!doctype html>") && strstr(kp_buf_str(&b), "/assets/app.js"));
  KP_ASSERT_EQ(call(d, "GET", "/assets/app.js", NULL, &b), 200);
  KP_ASSERT(strstr(kp_buf_str(&b), "/api/v1/signals/raw/"));
  KP_ASSERT_EQ(call(d, "GET", "/assets/nope.js", NULL, &b), 404);
  KP_ASSERT_EQ(call(d, "POST", "/", "x", &b), 405);
  KP_ASSERT_EQ(call(d, "GET", "/api/v1/signals", NULL, &b), -1); /* not ours */
  KP_ASSERT_EQ(call(d, "POST", "/api/v1/incidents", "[{\"id\":", &b), 400);
  const char *inc = "[{\"id\":\"i1\",\"cc\":\"KZ\",\"start\":100,\"end\":200,\"regions\":[\"KZ/Almaty\"],\"asns\":[\"AS9198\"]}]";
  KP_ASSERT_EQ(call(d, "POST", "/api/v1/incidents", inc, &b), 200);
  KP_ASSERT(strstr(kp_buf_str(&b), "\"stored\":1"));
  KP_ASSERT_EQ(call(d, "POST", "/api/v1/entities", "[{\"type\":\"asn\",\"code\":\"AS9198\",\"region\":\"KZ/Almaty\"}]", &b), 200);
  KP_ASSERT_EQ(call(d, "POST", "/api/v1/entities", "[{\"code\":\"AS1\"}]", &b), 400);
  KP_ASSERT_EQ(call(d, "GET", "/api/v1/entities", NULL, &b), 200);
  KP_ASSERT_MSG(strstr(kp_buf_str(&b), "\"code\":\"KZ/Almaty\",\"name\":\"Almaty\",\"children\":[{\"type\":\"asn\",\"code\":\"AS9198\""),
                "tree: %s", kp_buf_str(&b));
  kp_dashboard_free(d);
  /* a new instance over the same folder serves the same incidents */
  KP_ASSERT(kp_dashboard_new(&cfg, &d) == KP_OK);
  KP_ASSERT_EQ(call(d, "GET", "/api/v1/incidents", NULL, &b), 200);
  kp_json_doc_t *doc = parse(&b);
  const kp_json_t *arr = kp_json_get(kp_json_root(doc), "incidents");
  KP_ASSERT_EQ(kp_json_len(arr), 1);
  KP_ASSERT_STREQ(kp_json_get_str(kp_json_at(arr, 0), "id"), "i1");
  kp_json_doc_free(doc);
  kp_dashboard_free(d);
  kp_buf_free(&b);
}
