/*
 * mrt_io.c: MRT record framing (RFC 6396 section 2, 3) and the streaming
 * reader: file or stdin, gzip (possibly multi-member) / bzip2 / plain chosen
 * from the first bytes, decompressed in 256 KiB steps into a window that
 * holds at least one whole record.
 *
 * Reader state:
 *   FILL --(window holds header+body)--> deliver record, advance
 *   FILL --(body > max_record)--> SKIP (discard len bytes as they stream) --> FILL
 *   FILL --(input ends, window empty)--> EOF
 *   FILL --(input ends inside a record)--> TRUNC (reported once, then EOF)
 * Memory is bounded by max_record + one read step; nothing grows with input size.
 *
 * gzip is inflated with ISA-L's igzip (streaming, about twice zlib's speed here: zlib's
 * inflate was 40 % of `bgp dump` from gzip); each member's header and CRC are checked by it.
 */
#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <isa-l/igzip_lib.h>
#include <unistd.h>

#include "bgp/bgp.h"

#define RAW_STEP ((size_t)256 << 10)

kp_status_t kp_mrt_frame(const uint8_t *p, size_t n, kp_mrt_rec_t *rec, size_t *used) {
  if (n < 12) return KP_ERR_TRUNC;
  rec->ts = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  rec->type = (uint16_t)(p[4] << 8 | p[5]);
  rec->subtype = (uint16_t)(p[6] << 8 | p[7]);
  uint32_t len = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
  size_t hdr = 12;
  rec->usec = 0;
  if (rec->type == KP_MRT_BGP4MP_ET) {
    if (n < 16) return KP_ERR_TRUNC;
    if (len < 4) {
      rec->len = len;
      *used = 12 + (size_t)len;
      return KP_ERR_INVAL;
    }
    rec->usec = (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 | (uint32_t)p[14] << 8 | p[15];
    hdr = 16;
    len -= 4;
  }
  rec->len = len;
  if (n - hdr < len) return KP_ERR_TRUNC;
  rec->body = p + hdr;
  *used = hdr + len;
  return KP_OK;
}

typedef enum { Z_PLAIN, Z_GZIP, Z_BZIP2 } zkind_t;

struct kp_mrt_reader {
  int fd;
  bool own_fd;
  zkind_t kind;
  struct inflate_state zs;
  bz_stream bz;
  bool z_init;
  bool in_eof;   /* no more raw bytes */
  bool out_eof;  /* decompressor finished and raw input exhausted */
  uint8_t *raw;
  size_t raw_len, raw_off;
  uint8_t *win;  /* decompressed window */
  size_t win_cap, win_off, win_len;
  size_t max_record;
  uint64_t pos;  /* decompressed offset of win[win_off] */
  uint64_t raw_total;
  uint64_t skip; /* bytes of an oversized record still to discard */
  bool trunc_done;
};

static kp_status_t raw_fill(kp_mrt_reader_t *r) {
  if (r->in_eof) return KP_OK;
  if (r->raw_off < r->raw_len) return KP_OK;
  ssize_t k;
  do {
    k = read(r->fd, r->raw, RAW_STEP);
  } while (k < 0 && errno == EINTR);
  if (k < 0) return KP_ERR_IO;
  if (k == 0) r->in_eof = true;
  r->raw_off = 0;
  r->raw_len = (size_t)k;
  r->raw_total += (uint64_t)k;
  return KP_OK;
}

kp_status_t kp_mrt_open(const char *path, size_t max_record, kp_mrt_reader_t **out) {
  *out = NULL;
  kp_mrt_reader_t *r = calloc(1, sizeof *r);
  if (!r) return KP_ERR_NOMEM;
  r->max_record = max_record ? max_record : KP_MRT_MAX_RECORD_DEFAULT;
  if (r->max_record < 65536) r->max_record = 65536;
  r->fd = -1;
  if (strcmp(path, "-") == 0) {
    r->fd = 0;
  } else {
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
      free(r);
      return errno == ENOENT ? KP_ERR_NOTFOUND : KP_ERR_IO;
    }
    r->own_fd = true;
  }
  r->raw = malloc(RAW_STEP);
  r->win_cap = r->max_record + 16 + 2 * RAW_STEP;
  r->win = malloc(r->win_cap);
  kp_status_t st = KP_OK;
  if (!r->raw || !r->win) {
    st = KP_ERR_NOMEM;
    goto fail;
  }
  /* sniff: read until we have 3 bytes or EOF */
  while (!r->in_eof && r->raw_len < 3) {
    ssize_t k = read(r->fd, r->raw + r->raw_len, RAW_STEP - r->raw_len);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      st = KP_ERR_IO;
      goto fail;
    }
    if (k == 0) r->in_eof = true;
    r->raw_len += (size_t)k;
    r->raw_total += (uint64_t)k;
  }
  if (r->raw_len >= 2 && r->raw[0] == 0x1f && r->raw[1] == 0x8b) {
    r->kind = Z_GZIP;
    isal_inflate_init(&r->zs);
    r->zs.crc_flag = ISAL_GZIP;
    r->z_init = true;
  } else if (r->raw_len >= 3 && r->raw[0] == 'B' && r->raw[1] == 'Z' && r->raw[2] == 'h') {
    r->kind = Z_BZIP2;
    if (BZ2_bzDecompressInit(&r->bz, 0, 0) != BZ_OK) {
      st = KP_ERR_NOMEM;
      goto fail;
    }
    r->z_init = true;
  }
  *out = r;
  return KP_OK;
fail:
  kp_mrt_close(r);
  return st;
}

void kp_mrt_close(kp_mrt_reader_t *r) {
  if (!r) return;
  if (r->z_init) {
    if (r->kind == Z_BZIP2) BZ2_bzDecompressEnd(&r->bz); /* igzip holds no heap memory */
  }
  if (r->own_fd && r->fd >= 0) close(r->fd);
  free(r->raw);
  free(r->win);
  free(r);
}

/* Append up to RAW_STEP decompressed bytes to the window. */
static kp_status_t produce(kp_mrt_reader_t *r) {
  if (r->out_eof) return KP_OK;
  /* compact */
  if (r->win_off > 0 && (r->win_cap - r->win_len < RAW_STEP || r->win_off == r->win_len)) {
    memmove(r->win, r->win + r->win_off, r->win_len - r->win_off);
    r->win_len -= r->win_off;
    r->win_off = 0;
  }
  size_t room = r->win_cap - r->win_len;
  if (room > RAW_STEP) room = RAW_STEP;
  if (room == 0) return KP_ERR_INTERNAL; /* cannot happen: a full window always holds a whole record */
  size_t got = 0;
  while (got == 0 && !r->out_eof) {
    if (r->kind == Z_PLAIN && r->raw_off == r->raw_len && !r->in_eof) {
      /* plain input: read straight into the window (no staging copy) */
      ssize_t k;
      do {
        k = read(r->fd, r->win + r->win_len, room);
      } while (k < 0 && errno == EINTR);
      if (k < 0) return KP_ERR_IO;
      if (k == 0) r->in_eof = r->out_eof = true;
      r->raw_total += (uint64_t)k;
      got = (size_t)k;
      continue;
    }
    kp_status_t st = raw_fill(r);
    if (st != KP_OK) return st;
    size_t avail = r->raw_len - r->raw_off;
    if (r->kind == Z_PLAIN) {
      if (avail == 0) {
        if (r->in_eof) r->out_eof = true;
        continue;
      }
      size_t k = avail < room ? avail : room;
      memcpy(r->win + r->win_len, r->raw + r->raw_off, k);
      r->raw_off += k;
      got = k;
    } else if (r->kind == Z_GZIP) {
      if (avail == 0 && r->in_eof) {
        r->out_eof = true;
        continue;
      }
      r->zs.next_in = r->raw + r->raw_off;
      r->zs.avail_in = (uint32_t)avail;
      r->zs.next_out = r->win + r->win_len;
      r->zs.avail_out = (uint32_t)room;
      int z = isal_inflate(&r->zs);
      r->raw_off = r->raw_len - r->zs.avail_in;
      got = room - r->zs.avail_out;
      if (z < 0) { /* corrupt deflate data, wrapper or checksum: keep what came out, then stop */
        if (got == 0) return KP_ERR_IO;
        r->out_eof = true;
      } else if (r->zs.block_state == ISAL_BLOCK_FINISH) {
        /* another gzip member may follow; anything else ends the input */
        isal_inflate_reset(&r->zs);
        r->zs.crc_flag = ISAL_GZIP;
        if (raw_fill(r) != KP_OK) return KP_ERR_IO;
        if (r->raw_len - r->raw_off == 0 || r->raw[r->raw_off] != 0x1f) r->out_eof = true;
      } else if (got == 0 && avail == 0 && r->in_eof) {
        r->out_eof = true; /* truncated member: the record framing reports it */
      }
    } else {
      if (avail == 0 && r->in_eof) {
        r->out_eof = true;
        continue;
      }
      r->bz.next_in = (char *)(r->raw + r->raw_off);
      r->bz.avail_in = (unsigned)avail;
      r->bz.next_out = (char *)(r->win + r->win_len);
      r->bz.avail_out = (unsigned)room;
      int z = BZ2_bzDecompress(&r->bz);
      r->raw_off = r->raw_len - r->bz.avail_in;
      got = room - r->bz.avail_out;
      if (z == BZ_STREAM_END) {
        BZ2_bzDecompressEnd(&r->bz);
        memset(&r->bz, 0, sizeof r->bz);
        if (BZ2_bzDecompressInit(&r->bz, 0, 0) != BZ_OK) return KP_ERR_NOMEM;
        /* trailing garbage that is not another stream ends the input */
        if (raw_fill(r) != KP_OK) return KP_ERR_IO;
        if (r->raw_len - r->raw_off >= 1 && r->raw[r->raw_off] != 'B') r->out_eof = true;
      } else if (z != BZ_OK) {
        if (got == 0) return KP_ERR_IO;
        r->out_eof = true;
      }
    }
  }
  r->win_len += got;
  return KP_OK;
}

kp_status_t kp_mrt_next(kp_mrt_reader_t *r, kp_mrt_rec_t *rec) {
  for (;;) {
    /* discard the rest of an oversized record */
    while (r->skip > 0) {
      size_t have = r->win_len - r->win_off;
      if (have == 0) {
        if (r->out_eof) {
          r->skip = 0;
          return KP_ERR_NOTFOUND;
        }
        kp_status_t st = produce(r);
        if (st != KP_OK) return st;
        continue;
      }
      size_t k = have < r->skip ? have : (size_t)r->skip;
      r->win_off += k;
      r->pos += k;
      r->skip -= k;
    }
    size_t have = r->win_len - r->win_off;
    const uint8_t *p = r->win + r->win_off;
    size_t used = 0;
    kp_status_t st = KP_ERR_TRUNC;
    rec->offset = r->pos;
    if (have >= 12) {
      uint32_t len = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
      if ((size_t)len > r->max_record) { /* never buffered: discarded as it streams by */
        r->skip = (uint64_t)len + 12;
        rec->ts = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        rec->type = (uint16_t)(p[4] << 8 | p[5]);
        rec->subtype = (uint16_t)(p[6] << 8 | p[7]);
        rec->len = len;
        rec->body = NULL;
        return KP_ERR_RANGE;
      }
      st = kp_mrt_frame(p, have, rec, &used);
    }
    if (st == KP_OK) {
      r->win_off += used;
      r->pos += used;
      return KP_OK;
    }
    if (st == KP_ERR_INVAL) { /* ET record too short for its microseconds: skip it */
      r->skip = used;
      rec->body = NULL;
      return KP_ERR_INVAL;
    }
    if (r->out_eof) {
      if (have == 0 || r->trunc_done) return KP_ERR_NOTFOUND;
      r->trunc_done = true;
      r->win_off = r->win_len;
      r->pos += have;
      rec->len = (uint32_t)have;
      rec->body = NULL;
      return KP_ERR_TRUNC;
    }
    st = produce(r);
    if (st != KP_OK) return st;
  }
}

uint64_t kp_mrt_reader_pos(const kp_mrt_reader_t *r) { return r->pos; }
uint64_t kp_mrt_reader_raw(const kp_mrt_reader_t *r) { return r->raw_total; }
