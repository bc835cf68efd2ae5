/*
 * bgp4mp.c: BGP4MP / BGP4MP_ET records (RFC 6396 4.4, 4.5; RFC 8050 ADD-PATH
 * subtypes) and the deprecated MRTD BGP type 5 (RFC 6396 appendix B.2).
 *
 * Subtypes: 0 STATE_CHANGE, 5 STATE_CHANGE_AS4; 1 MESSAGE, 4 MESSAGE_AS4,
 * 6 MESSAGE_LOCAL, 7 MESSAGE_AS4_LOCAL, 8..11 their ADD-PATH forms.
 * For LOCAL messages the first address/AS pair is the remote peer's, which
 * bgpdump prints; in every case the decoded `peer` is that first pair.
 * Only UPDATE messages carry output; OPEN/NOTIFICATION/KEEPALIVE decode to
 * NOTFOUND. Record-level checks mirror bgpdump: an unknown AFI or a bad BGP
 * marker drops the record; state changes need one of the RFC lengths.
 */
#include <string.h>

#include "bgp/bgp_impl.h"

static kp_status_t decode_update(kp_mrt_ctx_t *c, kp_cur_t *msg, kp_bgp_msg_t *m) {
  uint16_t wlen = kp_ms_u16(msg);
  m->withdrawn = kp_ms_sub(msg, wlen);
  kp_attrs_parse(c, msg, m->asn_len, m->addpath);
  m->announced = kp_cur_make(msg->p + msg->off, msg->len - msg->off);
  if (c->attrs.bad || !kp_nlri_valid(m->withdrawn.p, m->withdrawn.len, 1, m->addpath) ||
      !kp_nlri_valid(m->announced.p, m->announced.len, 1, m->addpath)) {
    c->err = "bad prefix length";
    return KP_ERR_INVAL;
  }
  return KP_OK;
}

static kp_status_t state_change(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, uint8_t asn_len, kp_bgp_state_t *st) {
  kp_cur_t s = kp_cur_make(r->body, r->len);
  st->peer_as = kp_ms_asn(&s, asn_len);
  (void)kp_ms_asn(&s, asn_len);
  memset(st->peer, 0, 16);
  if (r->len == 8) { /* zebra's short form */
    st->afi = 1;
    st->old_state = kp_ms_u16(&s);
    st->new_state = kp_ms_u16(&s);
    return KP_OK;
  }
  (void)kp_ms_u16(&s); /* ifindex */
  uint16_t afi = kp_ms_u16(&s);
  if (afi == 1) {
    if (r->len != 20 && r->len != 24) {
      c->err = "state change: bad length";
      return KP_ERR_INVAL;
    }
    kp_ms_get(&s, st->peer, 4);
    (void)kp_ms_u32(&s);
  } else if (afi == 2) {
    if (r->len != 44 && r->len != 48) {
      c->err = "state change: bad length";
      return KP_ERR_INVAL;
    }
    kp_ms_get(&s, st->peer, 16);
    (void)kp_ms_sub(&s, 16);
  } else {
    c->err = "state change: unknown AFI";
    return KP_ERR_INVAL;
  }
  st->afi = (uint8_t)afi;
  st->old_state = kp_ms_u16(&s);
  st->new_state = kp_ms_u16(&s);
  return KP_OK;
}

kp_status_t kp_bgp4mp_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_bgp_msg_t *m, kp_bgp_state_t *st,
                             bool *is_state) {
  *is_state = false;
  uint16_t sub = r->subtype;
  if (sub == 0 || sub == 5) {
    *is_state = true;
    return state_change(c, r, sub == 5 ? 4 : 2, st);
  }
  if (sub != 1 && !(sub >= 4 && sub <= 11)) {
    if (sub == 2 || sub == 3) return KP_ERR_NOTFOUND; /* ENTRY / SNAPSHOT: not in use */
    c->err = "unknown BGP4MP subtype";
    return KP_ERR_INVAL;
  }
  if (sub == 5) return KP_ERR_NOTFOUND;
  m->asn_len = (sub == 4 || sub == 7 || sub == 9 || sub == 11) ? 4 : 2;
  m->local = sub == 6 || sub == 7 || sub == 10 || sub == 11;
  m->shown_local = sub == 6 || sub == 7;
  m->addpath = sub >= 8;
  kp_cur_t s = kp_cur_make(r->body, r->len);
  m->peer_as = kp_ms_asn(&s, m->asn_len);
  uint32_t second_as = kp_ms_asn(&s, m->asn_len);
  uint16_t ifindex = kp_ms_u16(&s);
  uint16_t afi = kp_ms_u16(&s);
  uint8_t marker[16];
  uint8_t second[16];
  memset(m->peer, 0, 16);
  memset(second, 0, 16);
  if (afi == 1) {
    kp_ms_get(&s, m->peer, 4);
    kp_ms_get(&s, second, 4);
    kp_ms_get(&s, marker, 16);
  } else if (afi == 2) {
    kp_ms_get(&s, m->peer, 16);
    kp_ms_get(&s, second, 16);
    kp_ms_get(&s, marker, 16);
  } else if (afi == 0xFFFF && ifindex == 0xFFFF) {
    /* zebra OPEN without addresses: the two fields were the marker's start */
    afi = 1;
    memset(marker, 0xFF, 4);
    kp_ms_get(&s, marker + 4, 12);
  } else {
    c->err = "unsupported AFI";
    return KP_ERR_INVAL;
  }
  m->afi = (uint8_t)afi;
  bool swap = sub == 10 || sub == 11;
  memcpy(m->shown, swap ? second : m->peer, 16);
  m->shown_as = swap ? second_as : m->peer_as;
  for (int i = 0; i < 16; i++)
    if (marker[i] != 0xFF) {
      c->err = "bad BGP marker";
      return KP_ERR_INVAL;
    }
  uint16_t size = kp_ms_u16(&s);
  long expected = (long)size - 18;
  kp_cur_t msg = kp_ms_sub(&s, expected < 0 ? (size_t)-1 : (size_t)expected);
  uint8_t type = kp_ms_u8(&msg);
  if (type == 2) return decode_update(c, &msg, m);
  if (type == 1 || type == 3 || type == 4 || type == 5 || type == 128) return KP_ERR_NOTFOUND;
  c->err = "unknown BGP message type";
  return KP_ERR_INVAL;
}

kp_status_t kp_mrtd_decode(kp_mrt_ctx_t *c, const kp_mrt_rec_t *r, kp_bgp_msg_t *m, kp_bgp_state_t *st,
                           bool *is_state) {
  *is_state = false;
  kp_cur_t s = kp_cur_make(r->body, r->len);
  if (r->subtype == 1 || r->subtype == 7) {
    m->afi = 1;
    m->asn_len = 2;
    m->local = m->shown_local = m->addpath = false;
    memset(m->peer, 0, 16);
    m->peer_as = kp_ms_u16(&s);
    kp_ms_get(&s, m->peer, 4);
    memcpy(m->shown, m->peer, 16);
    m->shown_as = m->peer_as;
    (void)kp_ms_u16(&s);
    (void)kp_ms_u32(&s);
    kp_status_t rc = decode_update(c, &s, m);
    if (rc != KP_OK) return rc;
    return r->subtype == 1 ? KP_OK : KP_ERR_NOTFOUND;
  }
  if (r->subtype == 3) {
    *is_state = true;
    st->afi = 1;
    memset(st->peer, 0, 16);
    st->peer_as = kp_ms_u16(&s);
    kp_ms_get(&s, st->peer, 4);
    st->old_state = kp_ms_u16(&s);
    st->new_state = kp_ms_u16(&s);
    return KP_OK;
  }
  return KP_ERR_NOTFOUND;
}
