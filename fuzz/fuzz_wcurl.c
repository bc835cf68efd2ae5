/* fuzz_wcurl.c: what webconn reads from servers and lists besides JSON: URLs and redirect
 * Locations (split, path, join), raw response heads (header scan), HTML titles. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webconn/wc_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_hdr(void *ctx, const char *n, size_t nl, const char *v, size_t vl) {
  size_t *count = ctx;
  if (nl == 0 && vl == 0) abort(); /* a header line always has a name */
  (void)n;
  (void)v;
  (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char s[2048];
  size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
  memcpy(s, data, n);
  s[n] = 0;
  char scheme[8], host[256], path[1024], out[1024];
  int port = 0;
  if (kp_wc_url_split(s, scheme, sizeof scheme, host, sizeof host, &port) == KP_OK) {
    if (port < 0 || port > 65535 || !host[0]) abort();
    (void)kp_wc_url_path(s, path, sizeof path);
  }
  if (kp_wc_url_join("http://httpbin.com/a/b?c", s, out, sizeof out) == KP_OK &&
      kp_wc_url_split(out, scheme, sizeof scheme, host, sizeof host, &port) != KP_OK)
    abort(); /* a joined Location is a usable URL */
  size_t count = 0;
  kp_wc_head_scan(data, size, on_hdr, &count);
  if (count > 128) abort();
  char v[256];
  (void)kp_wc_head_value(data, size, "location", v, sizeof v);
  char title[600];
  size_t tl = kp_wc_title(data, size, title, sizeof title);
  if (tl > 512 || strlen(title) != tl) abort();
  return 0;
}
