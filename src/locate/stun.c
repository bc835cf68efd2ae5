/*
 * stun.c: RFC 5389 Binding request encoder and response parser. Pure: no I/O, every byte
 * of the response read through kp_cur_t, every length checked before it is used.
 */
#include <string.h>

#include "base/cursor.h"
#include "locate/locate.h"

kp_status_t kp_stun_binding_request(const uint8_t txid[12], uint8_t *out, size_t cap, size_t *len) {
  if (!txid || !out || !len) return KP_ERR_INVAL;
  if (cap < KP_STUN_HDR) return KP_ERR_RANGE;
  out[0] = KP_STUN_BINDING_REQUEST >> 8;
  out[1] = KP_STUN_BINDING_REQUEST & 0xff;
  out[2] = out[3] = 0; /* no attributes: no SOFTWARE, nothing that names the client */
  out[4] = (uint8_t)(KP_STUN_MAGIC >> 24);
  out[5] = (uint8_t)(KP_STUN_MAGIC >> 16);
  out[6] = (uint8_t)(KP_STUN_MAGIC >> 8);
  out[7] = (uint8_t)KP_STUN_MAGIC;
  memcpy(out + 8, txid, 12);
  *len = KP_STUN_HDR;
  return KP_OK;
}

/* CRC-32 (ISO 3309, the one FINGERPRINT uses), bitwise: messages are a few hundred bytes. */
static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* MAPPED-ADDRESS / XOR-MAPPED-ADDRESS value: 0, family, port, address (4 or 16 bytes). */
static kp_status_t parse_addr(kp_cur_t *v, bool xored, const uint8_t txid[12], kp_stun_mapped_t *out) {
  uint8_t zero, fam;
  uint16_t port;
  if (!kp_cur_u8(v, &zero) || !kp_cur_u8(v, &fam) || !kp_cur_be16(v, &port)) return KP_ERR_INVAL;
  size_t alen = fam == 1 ? 4 : fam == 2 ? 16 : 0;
  if (!alen || kp_cur_left(v) != alen) return KP_ERR_INVAL; /* the value is exactly this long */
  uint8_t b[16];
  if (!kp_cur_bytes(v, b, alen)) return KP_ERR_INVAL;
  if (xored) {
    uint8_t key[16] = {(uint8_t)(KP_STUN_MAGIC >> 24), (uint8_t)(KP_STUN_MAGIC >> 16), (uint8_t)(KP_STUN_MAGIC >> 8),
                       (uint8_t)KP_STUN_MAGIC};
    memcpy(key + 4, txid, 12);
    for (size_t i = 0; i < alen; i++) b[i] ^= key[i];
    port ^= (uint16_t)(KP_STUN_MAGIC >> 16);
  }
  memset(&out->addr, 0, sizeof out->addr);
  out->addr.family = fam == 1 ? 4 : 6;
  memcpy(out->addr.b, b, alen);
  out->port = port;
  out->xored = xored;
  return KP_OK;
}

kp_status_t kp_stun_parse_response(const uint8_t *p, size_t n, const uint8_t txid[12], kp_stun_mapped_t *out) {
  if (!p || !txid || !out) return KP_ERR_INVAL;
  memset(out, 0, sizeof *out);
  kp_cur_t c = kp_cur_make(p, n);
  uint16_t type, len;
  uint32_t magic;
  uint8_t id[12];
  if (!kp_cur_be16(&c, &type) || !kp_cur_be16(&c, &len) || !kp_cur_be32(&c, &magic) || !kp_cur_bytes(&c, id, 12))
    return KP_ERR_TRUNC;
  if ((type & 0xC000) || magic != KP_STUN_MAGIC || (len & 3)) return KP_ERR_INVAL;
  if (memcmp(id, txid, 12) != 0) return KP_ERR_INVAL; /* a stray or spoofed answer */
  if (kp_cur_left(&c) < len) return KP_ERR_TRUNC;
  if (kp_cur_left(&c) > len) return KP_ERR_INVAL; /* one datagram, one message */
  if (type == KP_STUN_BINDING_ERROR) return KP_ERR_PERM;
  if (type != KP_STUN_BINDING_SUCCESS) return KP_ERR_INVAL;

  kp_stun_mapped_t mapped = {0}, xmapped = {0};
  bool have_m = false, have_x = false, have_fp = false;
  while (kp_cur_left(&c) > 0) {
    size_t at = kp_cur_tag(&c);
    uint16_t at_type, at_len;
    if (!kp_cur_be16(&c, &at_type) || !kp_cur_be16(&c, &at_len)) return KP_ERR_INVAL;
    size_t padded = ((size_t)at_len + 3u) & ~(size_t)3u;
    if (padded > kp_cur_left(&c)) return KP_ERR_INVAL;
    kp_cur_t v;
    if (!kp_cur_sub(&c, at_len, &v) || !kp_cur_skip(&c, padded - at_len)) return KP_ERR_INVAL;
    if (have_fp) return KP_ERR_INVAL; /* FINGERPRINT must be the last attribute */
    kp_status_t st = KP_OK;
    switch (at_type) {
    case KP_STUN_ATTR_XOR_MAPPED:
    case KP_STUN_ATTR_XOR_MAPPED_OLD:
      if (!have_x) {
        st = parse_addr(&v, true, txid, &xmapped);
        have_x = st == KP_OK;
      }
      break;
    case KP_STUN_ATTR_MAPPED:
      if (!have_m) {
        st = parse_addr(&v, false, txid, &mapped);
        have_m = st == KP_OK;
      }
      break;
    case KP_STUN_ATTR_FINGERPRINT: {
      uint32_t fp;
      if (at_len != 4 || !kp_cur_be32(&v, &fp)) return KP_ERR_INVAL;
      if ((crc32(p, at) ^ 0x5354554Eu) != fp) return KP_ERR_INVAL;
      have_fp = true;
      break;
    }
    default:
      break; /* comprehension-optional or not ours: skipped by length */
    }
    if (st != KP_OK) return st;
  }
  if (!have_x && !have_m) return KP_ERR_NOTFOUND;
  *out = have_x ? xmapped : mapped;
  out->fingerprint = have_fp;
  return KP_OK;
}
