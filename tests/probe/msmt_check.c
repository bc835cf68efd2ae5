/*
 * msmt_check.c: reads a JSONL file of measurements through the project's reader
 * (msmt/msmt.h) and fails on the first one it rejects. Used by the lab
 * matrix on every file the probe wrote. Usage: msmt_check FILE [EXPECTED_COUNT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "msmt/msmt.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: msmt_check FILE [COUNT]\n");
    return 2;
  }
  kp_buf_t b;
  kp_buf_init(&b, 256 << 20);
  if (kp_file_read(argv[1], &b) != KP_OK) {
    fprintf(stderr, "msmt_check: cannot read %s\n", argv[1]);
    return 1;
  }
  size_t n = 0, off = 0;
  int rc = 0;
  while (off < b.len) {
    const char *line = (const char *)b.data + off;
    const char *nl = memchr(line, '\n', b.len - off);
    size_t len = nl ? (size_t)(nl - line) : b.len - off;
    off += len + 1;
    if (len == 0) continue;
    kp_msmt_t *m;
    char err[256];
    if (kp_msmt_parse(line, len, &m, err, sizeof err) != KP_OK) {
      fprintf(stderr, "msmt_check: %s: measurement %zu rejected: %s\n", argv[1], n + 1, err);
      rc = 1;
      break;
    }
    const kp_msmt_view_t *v = kp_msmt_view(m);
    if (strcmp(v->software_name, "keepon") != 0 || !v->probe_ip || strcmp(v->probe_ip, "127.0.0.1") != 0 ||
        !kp_msmt_key(m, "keepon_verdict")) {
      fprintf(stderr, "msmt_check: %s: measurement %zu lacks keepon's fields or leaks a probe IP\n", argv[1], n + 1);
      rc = 1;
    }
    kp_msmt_free(m);
    n++;
  }
  if (!rc && argc > 2 && n != strtoul(argv[2], NULL, 10)) {
    fprintf(stderr, "msmt_check: %s: %zu measurements, want %s\n", argv[1], n, argv[2]);
    rc = 1;
  }
  kp_buf_free(&b);
  return rc;
}
