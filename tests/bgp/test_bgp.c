/* test_bgp.c: MRT framing, the reader's handling of corrupt and compressed
 * input, the bgpdump formatter on built records, and elements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bgp/bgp.h"
#include "kp_test.h"

/* ---- a tiny MRT builder ---- */
typedef struct {
  uint8_t b[1 << 20];
  size_t n;
} mb_t;

static void put8(mb_t *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static void put16(mb_t *m, unsigned v) { put8(m, v >> 8), put8(m, v & 255); }
static void put32(mb_t *m, uint32_t v) { put16(m, v >> 16), put16(m, v & 0xFFFF); }
static void putb(mb_t *m, const void *p, size_t n) {
  if (n) memcpy(m->b + m->n, p, n), m->n += n;
}

/* BGP4MP_MESSAGE_AS4, IPv4 peer 198.18.0.2 AS65001, UPDATE with given withdrawn/nlri */
static void rec_update(mb_t *m, uint32_t ts, const uint8_t *wd, size_t wn, const uint8_t *attrs, size_t an,
                       const uint8_t *nlri, size_t nn) {
  size_t body = 4 + 4 + 2 + 2 + 4 + 4 + 16 + 2 + 1 + 2 + wn + 2 + an + nn;
  put32(m, ts), put16(m, 16), put16(m, 4), put32(m, (uint32_t)body);
  put32(m, 65001), put32(m, 65000), put16(m, 0), put16(m, 1);
  putb(m, (uint8_t[]){198, 18, 0, 2}, 4), putb(m, (uint8_t[]){198, 18, 0, 1}, 4);
  for (int i = 0; i < 16; i++) put8(m, 0xFF);
  put16(m, (unsigned)(19 + 2 + wn + 2 + an + nn)), put8(m, 2);
  put16(m, (unsigned)wn), putb(m, wd, wn);
  put16(m, (unsigned)an), putb(m, attrs, an);
  putb(m, nlri, nn);
}

static const uint8_t ATTRS[] = {0x40, 1, 1, 0,                         /* ORIGIN IGP */
                                0x40, 2, 10, 2, 2, 0, 0, 0xFD, 0xE9, 0, 0, 0x11, 0x70, /* 65001 4464 */
                                0x40, 3, 4, 198, 18, 1, 1};            /* NEXT_HOP */

static void rec_state(mb_t *m, uint32_t ts, unsigned len_override) {
  put32(m, ts), put16(m, 16), put16(m, 0), put32(m, len_override ? len_override : 20);
  put16(m, 65001), put16(m, 65000), put16(m, 0), put16(m, 1);
  putb(m, (uint8_t[]){198, 18, 0, 2}, 4), putb(m, (uint8_t[]){198, 18, 0, 1}, 4);
  put16(m, 5), put16(m, 6);
}

static char *write_tmp(const char *name, const void *p, size_t n) {
  static char path[4][512];
  static int k;
  char *out = path[k++ & 3];
  snprintf(out, 512, "%s/%s", kp_test_tmpdir(), name);
  FILE *f = fopen(out, "wb");
  KP_ASSERT(f);
  KP_ASSERT_EQ(fwrite(p, 1, n, f), n);
  fclose(f);
  return out;
}

typedef struct {
  kp_buf_t out;
  uint64_t lines;
  int ok, inval, trunc, range;
  uint64_t bad_off[8];
} run_t;

static void run_file(const char *path, size_t max_record, run_t *rr) {
  memset(rr, 0, sizeof *rr);
  kp_buf_init(&rr->out, 1 << 26);
  kp_mrt_reader_t *rd;
  KP_ASSERT_OK(kp_mrt_open(path, max_record, &rd));
  kp_mrt_ctx_t *c;
  KP_ASSERT_OK(kp_mrt_ctx_new(&c));
  kp_mrt_rec_t r;
  kp_status_t st;
  while ((st = kp_mrt_next(rd, &r)) != KP_ERR_NOTFOUND) {
    if (st == KP_ERR_TRUNC) {
      rr->bad_off[(rr->inval + rr->trunc + rr->range) & 7] = r.offset;
      rr->trunc++;
      continue;
    }
    if (st == KP_ERR_RANGE) {
      rr->bad_off[(rr->inval + rr->trunc + rr->range) & 7] = r.offset;
      rr->range++;
      continue;
    }
    KP_ASSERT_OK(st);
    size_t before = rr->out.len;
    st = kp_bgp_dump_record(c, &r, &rr->out, &rr->lines);
    if (st == KP_ERR_INVAL) {
      KP_ASSERT_EQ(rr->out.len, before);
      rr->bad_off[(rr->inval + rr->trunc + rr->range) & 7] = r.offset;
      rr->inval++;
    } else {
      KP_ASSERT_OK(st);
      rr->ok++;
    }
  }
  kp_mrt_ctx_free(c);
  kp_mrt_close(rd);
}

KP_TEST(update_lines_exact) {
  static mb_t m;
  m.n = 0;
  const uint8_t nlri[] = {24, 198, 18, 4, 13, 11, 15}; /* 198.18.4.0/24, 11.8.0.0/13 with trailing bits set */
  const uint8_t wd[] = {16, 198, 19};
  rec_update(&m, 1600000000, wd, sizeof wd, ATTRS, sizeof ATTRS, nlri, sizeof nlri);
  run_t rr;
  run_file(write_tmp("u.mrt", m.b, m.n), 0, &rr);
  KP_ASSERT_EQ(rr.lines, 3);
  KP_ASSERT_STREQ(kp_buf_str(&rr.out),
                  "BGP4MP|1600000000|W|198.18.0.2|65001|198.19.0.0/16\n"
                  "BGP4MP|1600000000|A|198.18.0.2|65001|198.18.4.0/24|65001 4464|IGP|198.18.1.1|0|0||NAG||\n"
                  "BGP4MP|1600000000|A|198.18.0.2|65001|11.8.0.0/13|65001 4464|IGP|198.18.1.1|0|0||NAG||\n");
  kp_buf_free(&rr.out);
}

KP_TEST(corrupt_records_are_skipped_with_offsets) {
  static mb_t m;
  m.n = 0;
  rec_state(&m, 1, 0);                      /* ok, offset 0 */
  size_t off_wrong = m.n;
  rec_state(&m, 2, 22);                     /* wrong length for an IPv4 state change */
  m.n += 2;                                 /* (the 2 extra body bytes) */
  size_t off_badpfx = m.n;
  const uint8_t bad[] = {33, 1, 2, 3, 4, 5}; /* /33 in IPv4 NLRI */
  rec_update(&m, 3, NULL, 0, ATTRS, sizeof ATTRS, bad, sizeof bad);
  rec_state(&m, 4, 0);                      /* ok after the damage */
  size_t off_trunc = m.n;
  rec_state(&m, 5, 0);
  m.n -= 7;                                 /* truncated file */
  run_t rr;
  run_file(write_tmp("c.mrt", m.b, m.n), 0, &rr);
  KP_ASSERT_EQ(rr.ok, 2);
  KP_ASSERT_EQ(rr.inval, 2);
  KP_ASSERT_EQ(rr.trunc, 1);
  KP_ASSERT_EQ(rr.bad_off[0], off_wrong);
  KP_ASSERT_EQ(rr.bad_off[1], off_badpfx);
  KP_ASSERT_EQ(rr.bad_off[2], off_trunc);
  KP_ASSERT_STREQ(kp_buf_str(&rr.out), "BGP4MP|1|STATE|198.18.0.2|65001|5|6\nBGP4MP|4|STATE|198.18.0.2|65001|5|6\n");
  kp_buf_free(&rr.out);
}

KP_TEST(short_header_and_empty_input) {
  run_t rr;
  run_file(write_tmp("s.mrt", "\0\0\0\1\0", 5), 0, &rr);
  KP_ASSERT_EQ(rr.trunc, 1);
  KP_ASSERT_EQ(rr.bad_off[0], 0);
  KP_ASSERT_EQ(rr.lines, 0);
  kp_buf_free(&rr.out);
  run_file(write_tmp("e.mrt", "", 0), 0, &rr);
  KP_ASSERT_EQ(rr.trunc + rr.ok + rr.inval, 0);
  kp_buf_free(&rr.out);
}

/* A TABLE_DUMP_V2 RIB record over 64 KiB, gzip-compressed; and --max-record skipping it. */
KP_TEST(large_rib_record_and_max_record) {
  static mb_t m;
  m.n = 0;
  /* peer index table: one IPv4 peer, AS4 */
  put32(&m, 7), put16(&m, 13), put16(&m, 1), put32(&m, 4 + 2 + 2 + 1 + 4 + 4 + 4);
  put32(&m, 0x01020304), put16(&m, 0), put16(&m, 1);
  put8(&m, 2), put32(&m, 0x0A000001), putb(&m, (uint8_t[]){198, 18, 0, 9}, 4), put32(&m, 4200000000u);
  /* RIB_IPV4_UNICAST with 3000 entries of the same peer */
  unsigned entries = 3000;
  size_t esz = 2 + 4 + 2 + sizeof ATTRS;
  size_t body = 4 + 1 + 3 + 2 + entries * esz;
  KP_ASSERT(body > 65536);
  put32(&m, 7), put16(&m, 13), put16(&m, 2), put32(&m, (uint32_t)body);
  put32(&m, 0), put8(&m, 24), putb(&m, (uint8_t[]){198, 18, 5}, 3), put16(&m, entries);
  for (unsigned i = 0; i < entries; i++) put16(&m, 0), put32(&m, i), put16(&m, sizeof ATTRS), putb(&m, ATTRS, sizeof ATTRS);
  rec_state(&m, 8, 0);
  /* gzip it */
  uLongf zn = compressBound((uLong)m.n) + 64;
  uint8_t *z = malloc(zn);
  z_stream zs = {0};
  KP_ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = m.b, zs.avail_in = (uInt)m.n, zs.next_out = z, zs.avail_out = (uInt)zn;
  KP_ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t zlen = zs.total_out;
  deflateEnd(&zs);
  const char *path = write_tmp("big.mrt.gz", z, zlen);
  free(z);
  run_t rr;
  run_file(path, 0, &rr);
  KP_ASSERT_EQ(rr.lines, entries + 1);
  const char *s = kp_buf_str(&rr.out);
  const char *first = "TABLE_DUMP2|7|B|198.18.0.9|4200000000|198.18.5.0/24|65001 4464|IGP|198.18.1.1|0|0||NAG||\n";
  KP_ASSERT(strncmp(s, first, strlen(first)) == 0);
  KP_ASSERT(strstr(s, "\nBGP4MP|8|STATE|198.18.0.2|65001|5|6\n") != NULL);
  kp_buf_free(&rr.out);
  run_file(path, 65536, &rr); /* the RIB record is now too long: skipped, the next one still read */
  KP_ASSERT_EQ(rr.range, 1);
  KP_ASSERT_EQ(rr.lines, 1);
  KP_ASSERT_STREQ(kp_buf_str(&rr.out), "BGP4MP|8|STATE|198.18.0.2|65001|5|6\n");
  kp_buf_free(&rr.out);
}

KP_TEST(rib_without_peer_table_is_corrupt) {
  static mb_t m;
  m.n = 0;
  put32(&m, 7), put16(&m, 13), put16(&m, 2), put32(&m, 4 + 1 + 3 + 2);
  put32(&m, 0), put8(&m, 24), putb(&m, (uint8_t[]){198, 18, 5}, 3), put16(&m, 0);
  run_t rr;
  run_file(write_tmp("r.mrt", m.b, m.n), 0, &rr);
  KP_ASSERT_EQ(rr.inval, 1);
  kp_buf_free(&rr.out);
}

static int collect(void *arg, const kp_bgp_elem_t *e) {
  kp_bgp_elem_t *v = arg;
  size_t i = 0;
  while (v[i].type) i++;
  v[i] = *e;
  return 0;
}

KP_TEST(elements_carry_origin_and_masked_prefix) {
  static mb_t m;
  m.n = 0;
  const uint8_t nlri[] = {13, 11, 15};
  const uint8_t wd[] = {8, 10};
  rec_update(&m, 99, wd, sizeof wd, ATTRS, sizeof ATTRS, nlri, sizeof nlri);
  kp_mrt_rec_t r;
  size_t used;
  KP_ASSERT_OK(kp_mrt_frame(m.b, m.n, &r, &used));
  KP_ASSERT_EQ(used, m.n);
  kp_mrt_ctx_t *c;
  KP_ASSERT_OK(kp_mrt_ctx_new(&c));
  kp_bgp_elem_t v[4];
  memset(v, 0, sizeof v);
  KP_ASSERT_OK(kp_bgp_elems(c, &r, collect, v));
  KP_ASSERT_EQ(v[0].type, KP_BGP_WITHDRAW);
  KP_ASSERT_EQ(v[0].prefix[0], 10);
  KP_ASSERT_EQ(v[1].type, KP_BGP_ANNOUNCE);
  KP_ASSERT_EQ(v[1].origin_as, 4464);
  KP_ASSERT_EQ(v[1].peer_as, 65001);
  KP_ASSERT_EQ(v[1].plen, 13);
  KP_ASSERT_EQ(v[1].prefix[1], 8);
  KP_ASSERT_EQ(v[2].type, 0);
  kp_mrt_ctx_free(c);
}

/* ---- issue 13: AS_PATH text is bounded for every shape of path ---- */

/* One BGP4MP_MESSAGE_AS4 update for 198.18.4.0/24 whose AS_PATH (extended
 * length) is @p path; returns the whole dump (caller frees). */
static char *dump_with_path(const uint8_t *path, size_t pn, uint64_t *lines) {
  static mb_t m;
  static uint8_t attrs[70000];
  size_t an = 0;
  KP_ASSERT(pn <= 65535 - 20);
  memcpy(attrs + an, (uint8_t[]){0x40, 1, 1, 0}, 4), an += 4;
  attrs[an++] = 0x50, attrs[an++] = 2, attrs[an++] = (uint8_t)(pn >> 8), attrs[an++] = (uint8_t)pn;
  memcpy(attrs + an, path, pn), an += pn;
  memcpy(attrs + an, (uint8_t[]){0x40, 3, 4, 198, 18, 1, 1}, 7), an += 7;
  const uint8_t nlri[] = {24, 198, 18, 4};
  m.n = 0;
  rec_update(&m, 1600000000, NULL, 0, attrs, an, nlri, sizeof nlri);
  kp_mrt_rec_t r;
  size_t used;
  KP_ASSERT_OK(kp_mrt_frame(m.b, m.n, &r, &used));
  kp_mrt_ctx_t *c;
  KP_ASSERT_OK(kp_mrt_ctx_new(&c));
  kp_buf_t out;
  kp_buf_init(&out, 1 << 20);
  *lines = 0;
  KP_ASSERT_OK(kp_bgp_dump_record(c, &r, &out, lines));
  kp_mrt_ctx_free(c);
  char *s = strdup(kp_buf_str(&out));
  kp_buf_free(&out);
  return s;
}

/* The path field of the single line in @p s. */
static size_t path_field(const char *s, const char **start) {
  const char *p = s;
  for (int i = 0; i < 6; i++) p = strchr(p, '|') + 1;
  *start = p;
  return (size_t)(strchr(p, '|') - p);
}

/* N empty segments of @p type: bgpdump (and keepon before issue 13) wrote
 * their delimiters with no length check, 2 bytes per segment, past the 20000
 * byte line tail of the heap context. The text is now cut with "..." at the
 * same 7900-byte mark bgpdump uses for long paths. */
static void empty_segments(unsigned nseg, uint8_t type, const char *pair) {
  static uint8_t path[65536];
  for (unsigned i = 0; i < nseg; i++) path[2 * i] = type, path[2 * i + 1] = 0;
  uint64_t lines;
  char *s = dump_with_path(path, 2u * nseg, &lines);
  KP_ASSERT_EQ(lines, 1);
  const char *f;
  size_t fl = path_field(s, &f);
  KP_ASSERT_MSG(fl < 8000, "path text %zu bytes", fl);
  KP_ASSERT(fl > 7900);
  KP_ASSERT(strncmp(f + fl - 3, "...", 3) == 0);
  KP_ASSERT_EQ(f[0], pair[1]);
  KP_ASSERT(strncmp(f + 1, pair, 2) == 0);
  KP_ASSERT(strcmp(f + fl, "|IGP|198.18.1.1|0|0||NAG||\n") == 0);
  free(s);
}

KP_TEST(aspath_30000_empty_sets_is_cut_not_overflowed) { empty_segments(30000, 1, "}{"); }
KP_TEST(aspath_10000_empty_sets_is_cut_not_overflowed) { empty_segments(10000, 1, "}{"); }
KP_TEST(aspath_empty_confed_sets_is_cut) { empty_segments(20000, 4, "]["); }

/* A long path of real ASes keeps bgpdump's cut: "..." right after the AS that
 * passes 7900 bytes; a short path of a few empty sets is printed whole. */
KP_TEST(aspath_long_sequence_keeps_bgpdump_cut) {
  static uint8_t path[65536];
  size_t n = 0;
  for (int s = 0; s < 12; s++) { /* 12 x 255 ASes of "4200000000 " = 33660 bytes of text */
    path[n++] = 2, path[n++] = 255;
    for (int i = 0; i < 255; i++) path[n++] = 0xFA, path[n++] = 0x56, path[n++] = 0xEA, path[n++] = 0x00;
  }
  uint64_t lines;
  char *s = dump_with_path(path, n, &lines);
  const char *f;
  size_t fl = path_field(s, &f);
  /* 10 + 11 (k - 1) bytes after k ASes: the cut follows AS 719 at 7908 bytes */
  KP_ASSERT_EQ(fl, 7908 + 3);
  KP_ASSERT(strncmp(f, "4200000000 4200000000 ", 22) == 0);
  KP_ASSERT(strncmp(f + 7908, "...", 3) == 0);
  free(s);
  const uint8_t few[] = {1, 0, 1, 1, 0, 0, 0, 7, 1, 0};
  s = dump_with_path(few, sizeof few, &lines);
  fl = path_field(s, &f);
  KP_ASSERT_EQ(fl, 8);
  KP_ASSERT(strncmp(f, "{}{7} {}", 8) == 0); /* bgpdump's spacing, unchanged */
  free(s);
}
