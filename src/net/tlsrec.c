/*
 * tlsrec.c: TLS record parser (RFC 8446 section 5, RFC 6066 SNI), pure.
 *
 * Reads record headers in sequence; for handshake records, looks at the first
 * handshake message that fits in the record: a ClientHello yields its SNI, a
 * ServerHello its version (supported_versions wins over legacy_version) and
 * cipher. Alerts yield level/description. Lengths are never trusted beyond the
 * bytes present: every nested structure is a sub-cursor.
 */
#include <ctype.h>
#include <string.h>

#include "base/cursor.h"
#include "net/net.h"

static bool skip8(kp_cur_t *c) {
  uint8_t l;
  return kp_cur_u8(c, &l) && kp_cur_skip(c, l);
}
static bool skip16(kp_cur_t *c) {
  uint16_t l;
  return kp_cur_be16(c, &l) && kp_cur_skip(c, l);
}

static void parse_sni(kp_cur_t *ext, kp_tls_info_t *o) {
  uint16_t list_len;
  kp_cur_t list;
  if (!kp_cur_be16(ext, &list_len) || !kp_cur_sub(ext, list_len, &list)) return;
  while (kp_cur_left(&list) >= 3) {
    uint8_t type;
    uint16_t nl;
    const uint8_t *name;
    if (!kp_cur_u8(&list, &type) || !kp_cur_be16(&list, &nl) || !kp_cur_borrow(&list, &name, nl)) return;
    if (type == 0 && nl > 0 && nl <= KP_DNS_NAME_MAX) {
      for (size_t i = 0; i < nl; i++) o->sni[i] = isprint(name[i]) ? (char)name[i] : '?';
      o->sni[nl] = 0;
      return;
    }
  }
}

static void parse_hello(kp_cur_t *m, uint8_t htype, kp_tls_info_t *o) {
  uint16_t legacy;
  if (!kp_cur_be16(m, &legacy) || !kp_cur_skip(m, 32) || !skip8(m)) return; /* random, session id */
  if (htype == 1) {
    o->client_hello = true;
    if (!skip16(m) || !skip8(m)) return; /* cipher suites, compression */
  } else {
    o->server_hello = true;
    o->version = legacy;
    uint8_t comp;
    if (!kp_cur_be16(m, &o->cipher) || !kp_cur_u8(m, &comp)) return;
  }
  uint16_t exts_len;
  kp_cur_t exts;
  if (!kp_cur_be16(m, &exts_len) || !kp_cur_sub(m, exts_len, &exts)) return;
  while (kp_cur_left(&exts) >= 4) {
    uint16_t et, el;
    kp_cur_t e;
    if (!kp_cur_be16(&exts, &et) || !kp_cur_be16(&exts, &el) || !kp_cur_sub(&exts, el, &e)) return;
    if (htype == 1 && et == 0) parse_sni(&e, o);
    if (htype == 2 && et == 43) { /* supported_versions: the selected version */
      uint16_t v;
      if (kp_cur_be16(&e, &v)) o->version = v;
    }
  }
}

kp_status_t kp_tls_parse(const uint8_t *p, size_t n, kp_tls_info_t *o) {
  memset(o, 0, sizeof *o);
  kp_cur_t c = kp_cur_make(p, n);
  while (kp_cur_left(&c) >= 5) {
    size_t tag = kp_cur_tag(&c);
    uint8_t type;
    uint16_t ver, len;
    kp_cur_u8(&c, &type);
    kp_cur_be16(&c, &ver);
    kp_cur_be16(&c, &len);
    if (type < 20 || type > 24 || (ver >> 8) != 3 || len > (1u << 14) + 2048) return o->nrecords ? KP_OK : KP_ERR_INVAL;
    kp_cur_t body;
    if (!kp_cur_sub(&c, len, &body)) {
      kp_cur_rollback(&c, tag);
      break;
    }
    if (o->nrecords++ == 0) {
      o->first_type = type;
      o->record_version = ver;
    }
    if (type == 21 && !o->alert) {
      if (kp_cur_u8(&body, &o->alert_level) && kp_cur_u8(&body, &o->alert_desc)) o->alert = true;
    } else if (type == 22) {
      uint8_t ht;
      uint8_t l3[3];
      if (!kp_cur_u8(&body, &ht) || !kp_cur_bytes(&body, l3, 3)) continue;
      size_t ml = ((size_t)l3[0] << 16) | ((size_t)l3[1] << 8) | l3[2];
      if (ml > kp_cur_left(&body)) ml = kp_cur_left(&body); /* message split over records: parse what is here */
      kp_cur_t msg;
      kp_cur_sub(&body, ml, &msg);
      if ((ht == 1 && !o->client_hello) || (ht == 2 && !o->server_hello)) parse_hello(&msg, ht, o);
    }
  }
  return o->nrecords ? KP_OK : KP_ERR_TRUNC;
}
