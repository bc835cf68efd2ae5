/*
 * httpc_opts.c: the control-plane client's command-line options, shared by every command that
 * talks to a keepon server, helper or webhook, so --proxy/--ca-file mean the same everywhere.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/opts.h"
#include "cli/cli.h"
#include "httpc/httpc.h"

struct kp_httpc *kp_cli_httpc_new(const kp_cli_httpc_t *v, int connect_ms, int timeout_ms, size_t max_body) {
  const char *proxy = v->proxy ? v->proxy : getenv("KEEPON_PROXY");
  const char *ca = v->ca_file ? v->ca_file : getenv("KEEPON_CA_FILE");
  kp_httpc_opts_t o = {.proxy = proxy, .ca_file = ca, .user_agent = v->user_agent,
                       .connect_timeout_ms = connect_ms, .timeout_ms = timeout_ms, .max_body = max_body ? max_body : (size_t)64 << 20};
  kp_httpc_t *c = NULL;
  kp_status_t st = kp_httpc_new(&o, &c);
  if (st != KP_OK) {
    fprintf(stderr, "keepon: bad transport options (--proxy %s, --ca-file %s): %s\n", proxy ? proxy : "none",
            ca ? ca : "system", kp_strstatus(st));
    return NULL;
  }
  return c;
}
