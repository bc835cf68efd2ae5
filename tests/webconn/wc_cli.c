/*
 * wc_cli.c: a test tool. `wc_cli check FILE.jsonl`: every line must pass the measurement
 * reader's backend checks (kp_msmt_parse) and OONI's fastpath scoring must not call it a
 * failure (how the tests assert that `keepon probe web` writes what OONI's pipeline reads).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "fastpath/fastpath.h"
#include "msmt/msmt.h"


static int check(const char *path) {
  kp_buf_t b;
  kp_buf_init(&b, (size_t)256 << 20);
  if (kp_file_read(path, &b) != KP_OK) return 2;
  int bad = 0, n = 0;
  const char *p = kp_buf_str(&b), *end = p + b.len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (len) {
      n++;
      kp_msmt_t *m = NULL;
      char err[256] = "";
      kp_json_doc_t *doc = NULL;
      kp_json_limits_t lim = {0};
      if (kp_msmt_parse(p, len, &m, err, sizeof err) != KP_OK) {
        fprintf(stderr, "line %d: reader: %s\n", n, err);
        bad++;
      } else if (kp_json_parse(p, len, &lim, &doc, NULL) == KP_OK) {
        kp_fastpath_flags_t f;
        kp_fastpath_score(kp_json_root(doc), NULL, 0, &f);
        if (f.failure) {
          fprintf(stderr, "line %d: fastpath scores it a failure\n", n);
          bad++;
        }
      }
      kp_json_doc_free(doc);
      kp_msmt_free(m);
    }
    p += len + 1;
  }
  kp_buf_free(&b);
  printf("%d measurements, %d rejected\n", n, bad);
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "check")) return check(argv[2]);
  fprintf(stderr, "usage: wc_cli check FILE.jsonl\n");
  return 2;
}
