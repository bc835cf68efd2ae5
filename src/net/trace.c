/*
 * trace.c: the measurement's event collector and its OONI JSON form.
 *
 * Invariants: every list is appended under one mutex; records are copied in
 * (TLS certificates and HTTP buffers are moved in); each list has a cap and
 * records past it are counted in `dropped`, never stored. Network events are
 * capped at KP_TRACE_EVENTS_PER_CONN per transaction, as OONI does per
 * connection. Failure strings in records must be static or interned here
 * (kp_trace interns "unknown_failure: ..." strings into its own arena).
 * Lists start empty and double up to their cap (a DNS-only measurement of remote dns holds a
 * few queries: preallocating every cap cost ~2 MB zeroed per trace, with thousands in flight).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/arena.h"
#include "base/codec.h"
#include "net/net.h"

#define CAP_Q 512
#define CAP_TCP 1024
#define CAP_TLS 256
#define CAP_HTTP 128
#define CAP_EV 4096

struct kp_trace {
  const kp_clock_t *clk;
  int64_t start_ns;
  pthread_mutex_t mu;
  int next_txid;
  kp_arena_t *strs;
  kp_q_t *q; size_t nq, cq;
  kp_tcp_t *tcp; size_t ntcp, ctcp;
  kp_tlsobs_t *tls; size_t ntls, ctls;
  kp_httpobs_t *http; size_t nhttp, chttp;
  kp_nev_t *ev; size_t nev, cev;
  size_t dropped;
};

kp_status_t kp_trace_new(const kp_clock_t *clk, kp_trace_t **out) {
  kp_trace_t *t = calloc(1, sizeof *t);
  if (!t) return KP_ERR_NOMEM;
  t->clk = clk;
  t->start_ns = kp_now_mono(clk);
  t->next_txid = 1;
  pthread_mutex_init(&t->mu, NULL);
  t->strs = kp_arena_create(1 << 20);
  if (!t->strs) {
    kp_trace_free(t);
    return KP_ERR_NOMEM;
  }
  *out = t;
  return KP_OK;
}

void kp_trace_free(kp_trace_t *t) {
  if (!t) return;
  for (size_t i = 0; t->tls && i < t->ntls; i++)
    for (size_t k = 0; k < t->tls[i].ncerts; k++) free(t->tls[i].cert[k]);
  for (size_t i = 0; t->http && i < t->nhttp; i++) {
    kp_buf_free(&t->http[i].head);
    kp_buf_free(&t->http[i].body);
  }
  free(t->q);
  free(t->tcp);
  free(t->tls);
  free(t->http);
  free(t->ev);
  kp_arena_destroy(t->strs);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

double kp_trace_now(const kp_trace_t *t) { return (double)(kp_now_mono(t->clk) - t->start_ns) / 1e9; }

int kp_trace_txid(kp_trace_t *t) {
  pthread_mutex_lock(&t->mu);
  int id = t->next_txid++;
  pthread_mutex_unlock(&t->mu);
  return id;
}

/* Failure strings from kp_net_failure_errno may live in a caller's scratch: intern them. */
static const char *intern(kp_trace_t *t, const char *f) {
  if (!f || strncmp(f, "unknown_failure", 15) != 0) return f;
  const char *s = kp_arena_strndup(t->strs, f, strlen(f));
  return s ? s : "unknown_failure";
}

/* Room for one more in a list of n (capacity *c, at most max); false = over the cap (or no memory). */
static bool room(void *pp, size_t *c, size_t n, size_t max, size_t sz) {
  if (n < *c) return true;
  if (*c >= max) return false;
  size_t nc = *c ? *c * 2 : 4;
  if (nc > max) nc = max;
  void *np = realloc(*(void **)pp, nc * sz);
  if (!np) return false;
  *(void **)pp = np;
  *c = nc;
  return true;
}

#define ADD(list, n, c, cap, rec)         \
  do {                                    \
    pthread_mutex_lock(&t->mu);           \
    if (room(&t->list, &t->c, t->n, (cap), sizeof *t->list)) t->list[t->n++] = (rec); \
    else t->dropped++;                    \
    pthread_mutex_unlock(&t->mu);         \
  } while (0)

void kp_trace_add_query(kp_trace_t *t, const kp_q_t *q) {
  kp_q_t c = *q;
  pthread_mutex_lock(&t->mu);
  c.failure = intern(t, c.failure);
  pthread_mutex_unlock(&t->mu);
  ADD(q, nq, cq, CAP_Q, c);
}

void kp_trace_add_tcp(kp_trace_t *t, const kp_tcp_t *r) {
  kp_tcp_t c = *r;
  pthread_mutex_lock(&t->mu);
  c.failure = intern(t, c.failure);
  pthread_mutex_unlock(&t->mu);
  ADD(tcp, ntcp, ctcp, CAP_TCP, c);
}

void kp_trace_add_tls(kp_trace_t *t, kp_tlsobs_t *h) {
  pthread_mutex_lock(&t->mu);
  h->failure = intern(t, h->failure);
  if (room(&t->tls, &t->ctls, t->ntls, CAP_TLS, sizeof *t->tls)) {
    t->tls[t->ntls++] = *h;
  } else {
    t->dropped++;
    for (size_t k = 0; k < h->ncerts; k++) free(h->cert[k]);
  }
  h->ncerts = 0;
  pthread_mutex_unlock(&t->mu);
}

void kp_trace_add_http(kp_trace_t *t, kp_httpobs_t *r) {
  pthread_mutex_lock(&t->mu);
  r->failure = intern(t, r->failure);
  if (room(&t->http, &t->chttp, t->nhttp, CAP_HTTP, sizeof *t->http)) {
    t->http[t->nhttp++] = *r;
  } else {
    t->dropped++;
    kp_buf_free(&r->head);
    kp_buf_free(&r->body);
  }
  memset(&r->head, 0, sizeof r->head);
  memset(&r->body, 0, sizeof r->body);
  pthread_mutex_unlock(&t->mu);
}

void kp_trace_add_event(kp_trace_t *t, const kp_nev_t *e) {
  pthread_mutex_lock(&t->mu);
  size_t same = 0;
  for (size_t i = t->nev; i-- > 0 && same < KP_TRACE_EVENTS_PER_CONN;)
    if (t->ev[i].txid == e->txid) same++;
  if (same < KP_TRACE_EVENTS_PER_CONN && room(&t->ev, &t->cev, t->nev, CAP_EV, sizeof *t->ev)) {
    t->ev[t->nev] = *e;
    t->ev[t->nev].failure = intern(t, e->failure);
    t->nev++;
  } else {
    t->dropped++;
  }
  pthread_mutex_unlock(&t->mu);
}

size_t kp_trace_queries(const kp_trace_t *t, const kp_q_t **out) { *out = t->q; return t->nq; }
size_t kp_trace_tcps(const kp_trace_t *t, const kp_tcp_t **out) { *out = t->tcp; return t->ntcp; }
size_t kp_trace_tlss(const kp_trace_t *t, const kp_tlsobs_t **out) { *out = t->tls; return t->ntls; }
size_t kp_trace_https(const kp_trace_t *t, const kp_httpobs_t **out) { *out = t->http; return t->nhttp; }

/* ---- JSON ---- */

static void write_query(kp_jw_t *w, const kp_q_t *q) {
  char a[KP_ADDR_STRLEN];
  kp_jw_obj_begin(w);
  kp_jw_key(w, "answers");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < q->nanswers; i++) {
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "answer_type", q->ans[i].family == 4 ? "A" : "AAAA");
    kp_jw_kstr(w, q->ans[i].family == 4 ? "ipv4" : "ipv6", kp_addr_fmt(&q->ans[i], a));
    kp_jw_kint(w, "asn", 0);
    kp_jw_kstr(w, "as_org_name", "");
    if (strcmp(q->engine, "udp") == 0) kp_jw_kint(w, "ttl", q->ttl[i]);
    else kp_jw_knull(w, "ttl");
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
  kp_jw_kstr(w, "engine", q->engine);
  kp_jw_kstr(w, "failure", q->failure);
  kp_jw_kstr(w, "hostname", q->hostname);
  kp_jw_kstr(w, "query_type", q->qtype);
  kp_jw_kstr(w, "resolver_address", q->resolver);
  kp_jw_knull(w, "resolver_hostname");
  kp_jw_knull(w, "resolver_port");
  if (q->rcode >= 0) kp_jw_kint(w, "rcode", q->rcode);
  kp_jw_kdouble(w, "t0", q->t0);
  kp_jw_kdouble(w, "t", q->t);
  kp_jw_key(w, "tags");
  kp_jw_arr_begin(w);
  kp_jw_arr_end(w);
  kp_jw_kint(w, "transaction_id", q->txid);
  kp_jw_obj_end(w);
}

static void write_headers_list(kp_jw_t *w, const kp_httpobs_t *r) {
  /* re-parse our own stored head: it was already validated when recorded */
  kp_http_resp_t hr;
  kp_buf_t dummy;
  kp_buf_init(&dummy, 1);
  kp_status_t st = kp_http_parse(r->head.data ? r->head.data : (const uint8_t *)"", r->head.len, true, 0, &hr,
                                 &dummy);
  kp_buf_free(&dummy);
  bool have = hr.head_len > 0; /* the head alone fails body framing (no body stored here): headers are still whole */
  (void)st;
  kp_jw_key(w, "headers_list");
  kp_jw_arr_begin(w);
  for (size_t i = 0; have && i < hr.nheaders; i++) {
    kp_jw_arr_begin(w);
    kp_jw_strn(w, (const char *)r->head.data + hr.h[i].name_off, hr.h[i].name_len);
    kp_jw_strn(w, (const char *)r->head.data + hr.h[i].value_off, hr.h[i].value_len);
    kp_jw_arr_end(w);
  }
  kp_jw_arr_end(w);
  kp_jw_key(w, "headers");
  kp_jw_obj_begin(w);
  for (size_t i = 0; have && i < hr.nheaders; i++) {
    bool dup = false; /* OONI's map keeps the first value of each name */
    for (size_t k = 0; k < i && !dup; k++)
      dup = hr.h[k].name_len == hr.h[i].name_len &&
            strncasecmp((const char *)r->head.data + hr.h[k].name_off, (const char *)r->head.data + hr.h[i].name_off,
                        hr.h[i].name_len) == 0;
    if (dup) continue;
    char name[128];
    size_t nl = hr.h[i].name_len < sizeof name - 1 ? hr.h[i].name_len : sizeof name - 1;
    memcpy(name, r->head.data + hr.h[i].name_off, nl);
    name[nl] = 0;
    kp_jw_key(w, name);
    kp_jw_strn(w, (const char *)r->head.data + hr.h[i].value_off, hr.h[i].value_len);
  }
  kp_jw_obj_end(w);
}

void kp_trace_write(const kp_trace_t *t, kp_jw_t *w) {
  kp_jw_key(w, "queries");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < t->nq; i++)
    if (!t->q[i].late) write_query(w, &t->q[i]);
  kp_jw_arr_end(w);
  kp_jw_key(w, "x_dns_duplicate_responses");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < t->nq; i++)
    if (t->q[i].late) write_query(w, &t->q[i]);
  kp_jw_arr_end(w);

  kp_jw_key(w, "tcp_connect");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < t->ntcp; i++) {
    const kp_tcp_t *c = &t->tcp[i];
    char a[KP_ADDR_STRLEN];
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "ip", kp_addr_fmt(&c->ip, a));
    kp_jw_kint(w, "port", c->port);
    kp_jw_key(w, "status");
    kp_jw_obj_begin(w);
    kp_jw_kbool(w, "blocked", c->failure != NULL);
    kp_jw_kstr(w, "failure", c->failure);
    kp_jw_kbool(w, "success", c->failure == NULL);
    kp_jw_obj_end(w);
    kp_jw_kdouble(w, "t0", c->t0);
    kp_jw_kdouble(w, "t", c->t);
    kp_jw_kint(w, "transaction_id", c->txid);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);

  kp_jw_key(w, "tls_handshakes");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < t->ntls; i++) {
    const kp_tlsobs_t *h = &t->tls[i];
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "address", h->address);
    kp_jw_kstr(w, "cipher_suite", h->cipher);
    kp_jw_kstr(w, "failure", h->failure);
    kp_jw_kstr(w, "negotiated_protocol", h->alpn);
    kp_jw_kbool(w, "no_tls_verify", false);
    kp_jw_key(w, "peer_certificates");
    kp_jw_arr_begin(w);
    for (size_t k = 0; k < h->ncerts; k++) {
      kp_buf_t b64;
      kp_buf_init(&b64, 1 << 20);
      kp_base64_encode(h->cert[k], h->cert_len[k], &b64);
      kp_jw_obj_begin(w);
      kp_jw_kstr(w, "format", "base64");
      kp_jw_kstr(w, "data", kp_buf_str(&b64));
      kp_jw_obj_end(w);
      kp_buf_free(&b64);
    }
    kp_jw_arr_end(w);
    kp_jw_kstr(w, "server_name", h->server_name);
    kp_jw_kdouble(w, "t0", h->t0);
    kp_jw_kdouble(w, "t", h->t);
    kp_jw_key(w, "tags");
    kp_jw_arr_begin(w);
    kp_jw_arr_end(w);
    kp_jw_kstr(w, "tls_version", h->version);
    kp_jw_kint(w, "transaction_id", h->txid);
    kp_jw_kint(w, "x_verify_result", h->verify_result);
    kp_jw_kint(w, "x_server_bytes", (int64_t)h->server_bytes);
    kp_jw_kint(w, "x_server_records", (int64_t)h->server.nrecords);
    kp_jw_kbool(w, "x_server_not_tls", h->server_not_tls);
    if (h->server.alert) kp_jw_kint(w, "x_server_alert", h->server.alert_desc);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);

  kp_jw_key(w, "requests");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < t->nhttp; i++) {
    const kp_httpobs_t *r = &t->http[i];
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "failure", r->failure);
    kp_jw_key(w, "request");
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "body", "");
    kp_jw_kbool(w, "body_is_truncated", false);
    kp_jw_key(w, "headers_list");
    kp_jw_arr_begin(w);
    kp_jw_arr_begin(w);
    kp_jw_str(w, "Host");
    kp_jw_str(w, r->host);
    kp_jw_arr_end(w);
    kp_jw_arr_end(w);
    kp_jw_key(w, "headers");
    kp_jw_obj_begin(w);
    kp_jw_kstr(w, "Host", r->host);
    kp_jw_obj_end(w);
    kp_jw_kstr(w, "method", r->method);
    kp_jw_key(w, "tor");
    kp_jw_obj_begin(w);
    kp_jw_knull(w, "exit_ip");
    kp_jw_knull(w, "exit_name");
    kp_jw_kbool(w, "is_tor", false);
    kp_jw_obj_end(w);
    kp_jw_kstr(w, "x_transport", "tcp");
    kp_jw_kstr(w, "url", r->url);
    kp_jw_obj_end(w);
    kp_jw_key(w, "response");
    kp_jw_obj_begin(w);
    kp_jw_key(w, "body");
    if (r->status) kp_jw_maybe_binary(w, r->body.data ? r->body.data : (const uint8_t *)"", r->body.len);
    else kp_jw_null(w);
    kp_jw_kbool(w, "body_is_truncated", r->body_truncated);
    kp_jw_kint(w, "code", r->status);
    write_headers_list(w, r);
    kp_jw_obj_end(w);
    kp_jw_kdouble(w, "t0", r->t0);
    kp_jw_kdouble(w, "t", r->t);
    kp_jw_key(w, "tags");
    kp_jw_arr_begin(w);
    kp_jw_arr_end(w);
    kp_jw_kint(w, "transaction_id", r->txid);
    kp_jw_kint(w, "x_bytes_received", (int64_t)r->bytes_received);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);

  kp_jw_key(w, "network_events");
  kp_jw_arr_begin(w);
  for (size_t i = 0; i < t->nev; i++) {
    const kp_nev_t *e = &t->ev[i];
    kp_jw_obj_begin(w);
    if (e->address[0]) kp_jw_kstr(w, "address", e->address);
    kp_jw_kstr(w, "failure", e->failure);
    if (e->num_bytes >= 0) kp_jw_kint(w, "num_bytes", e->num_bytes);
    kp_jw_kstr(w, "operation", e->operation);
    kp_jw_kstr(w, "proto", "tcp");
    kp_jw_kdouble(w, "t", e->t);
    kp_jw_key(w, "tags");
    kp_jw_arr_begin(w);
    kp_jw_arr_end(w);
    kp_jw_kint(w, "transaction_id", e->txid);
    kp_jw_obj_end(w);
  }
  kp_jw_arr_end(w);
}
