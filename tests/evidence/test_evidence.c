/*
 * test_evidence.c: the bundle archive reader refuses what an altered or hostile archive holds.
 *  - round trip, long names split into prefix/name, GNU tar-compatible layout (sizes, padding)
 *  - a flipped header byte (checksum), a truncated file, names with "..", absolute names, a
 *    symlink entry, a duplicate name, more entries than allowed: each refused with its reason
 */
#include <string.h>

#include "evidence/evidence.h"
#include "evidence/internal.h"
#include "kp_test.h"

static void mk(kp_buf_t *b, const char *name, const char *data) {
  kp_buf_init(b, 1 << 20);
  KP_ASSERT_OK(kp_ev_tar_add(b, name, data, strlen(data), 1641380400));
  KP_ASSERT_OK(kp_ev_tar_end(b));
}

static const char *parse_why(const kp_buf_t *b) {
  kp_ev_entry_t e[4];
  size_t n;
  const char *why = NULL;
  if (kp_ev_tar_parse(b->data, b->len, e, 4, &n, &why) == KP_OK) return NULL;
  return why;
}

KP_TEST(roundtrip_and_layout) {
  kp_buf_t b;
  kp_buf_init(&b, 1 << 20);
  char longname[200];
  memset(longname, 'a', sizeof longname);
  memcpy(longname + 90, "/", 1);
  longname[199] = 0; /* 90 + '/' + 108 > 100: needs the prefix field */
  memcpy(longname + 150, "/", 1);
  KP_ASSERT_OK(kp_ev_tar_add(&b, "inc/records.jsonl", "abc\n", 4, 7));
  KP_ASSERT_OK(kp_ev_tar_add(&b, longname, "", 0, 7));
  KP_ASSERT_OK(kp_ev_tar_end(&b));
  KP_ASSERT_EQ(b.len, 512 * 2 + 512 + 1024); /* header+block, header, end */
  KP_ASSERT(memcmp(b.data + 257, "ustar\0" "00", 8) == 0);
  KP_ASSERT(memcmp(b.data + 124, "00000000004", 11) == 0);
  kp_ev_entry_t e[4];
  size_t n;
  const char *why;
  KP_ASSERT_OK(kp_ev_tar_parse(b.data, b.len, e, 4, &n, &why));
  KP_ASSERT_EQ(n, 2);
  KP_ASSERT_STREQ(e[0].name, "inc/records.jsonl");
  KP_ASSERT_EQ(e[0].len, 4);
  KP_ASSERT(memcmp(e[0].data, "abc\n", 4) == 0);
  KP_ASSERT_STREQ(e[1].name, longname);
  char toolong[300];
  memset(toolong, 'b', sizeof toolong);
  toolong[299] = 0;
  KP_ASSERT_EQ(kp_ev_tar_add(&b, toolong, "", 0, 7), KP_ERR_RANGE);
  kp_buf_free(&b);
}

KP_TEST(altered_archives_refused) {
  kp_buf_t b;
  mk(&b, "inc/a.txt", "hello");
  KP_ASSERT(parse_why(&b) == NULL);
  b.data[10] ^= 1; /* inside the name: checksum no longer matches */
  KP_ASSERT(strstr(parse_why(&b), "checksum"));
  kp_buf_free(&b);
  mk(&b, "inc/a.txt", "hello");
  b.len = 512 + 3; /* cut inside the file */
  KP_ASSERT(strstr(parse_why(&b), "truncated"));
  kp_buf_free(&b);
  mk(&b, "inc/a.txt", "hello");
  b.len = 1024 + 512; /* one end block only: accepted (tar stops at the first) */
  KP_ASSERT(parse_why(&b) == NULL);
  b.len = 1024; /* no end block at all */
  KP_ASSERT(strstr(parse_why(&b), "zero blocks"));
  kp_buf_free(&b);
  const char *bad[] = {"../etc/passwd", "/abs", "inc/../../x", "inc/a\nb"};
  for (size_t i = 0; i < 4; i++) {
    mk(&b, bad[i], "x");
    KP_ASSERT_MSG(parse_why(&b) && strstr(parse_why(&b), "unsafe"), "%s accepted", bad[i]);
    kp_buf_free(&b);
  }
  mk(&b, "inc/..x", "x"); /* ".." only as a path element is unsafe */
  KP_ASSERT(parse_why(&b) == NULL);
  kp_buf_free(&b);
}

KP_TEST(only_regular_files_no_duplicates_bounded) {
  kp_buf_t b;
  mk(&b, "inc/link", "");
  b.data[156] = '2'; /* symlink */
  unsigned sum = 0;
  memset(b.data + 148, ' ', 8);
  for (int i = 0; i < 512; i++) sum += b.data[i];
  snprintf((char *)b.data + 148, 8, "%06o", sum);
  KP_ASSERT(strstr(parse_why(&b), "other than regular files"));
  kp_buf_free(&b);
  kp_buf_init(&b, 1 << 20);
  KP_ASSERT_OK(kp_ev_tar_add(&b, "inc/a", "1", 1, 0));
  KP_ASSERT_OK(kp_ev_tar_add(&b, "inc/a", "2", 1, 0));
  KP_ASSERT_OK(kp_ev_tar_end(&b));
  KP_ASSERT(strstr(parse_why(&b), "twice"));
  kp_buf_free(&b);
  kp_buf_init(&b, 1 << 20);
  for (int i = 0; i < 5; i++) {
    char nm[16];
    snprintf(nm, sizeof nm, "inc/%d", i);
    KP_ASSERT_OK(kp_ev_tar_add(&b, nm, "x", 1, 0));
  }
  KP_ASSERT_OK(kp_ev_tar_end(&b));
  KP_ASSERT(strstr(parse_why(&b), "too many")); /* parse_why allows 4 */
  kp_buf_free(&b);
}
