/* watch_vantage.h: `keepon watch --vantage`: posting each round's block states (watch_vantage.c). */
#ifndef KP_CLI_WATCH_VANTAGE_H
#define KP_CLI_WATCH_VANTAGE_H

#include "base/buf.h"
#include "cli/cli.h"
#include "watch/watch.h"

#define VQ_MAX 16 /* rounds kept for a collector that does not answer */

typedef struct kp_cli_vant {
  const char *vantage;
  const kp_wuniv_t *u;
  struct kp_httpc *http;
  char url[1024], auth[600];
  char **ents;          /* "type/code" per universe entity id */
  size_t nents;
  kp_buf_t cur;         /* the round being built */
  bool building, failing;
  kp_buf_t q[VQ_MAX];   /* built rounds not yet delivered, oldest first */
  size_t qn;
  int budget_ms;        /* sending after a round stops after this long (a third of a round) */
  unsigned long long sent, dropped;
} kp_cli_vant_t;

kp_status_t kp_cli_vant_open(kp_cli_vant_t *v, const kp_cli_httpc_t *hv, const char *vantage, const char *collector,
                             const char *token_file, const kp_wuniv_t *u, double round_s);
void kp_cli_vant_block(kp_cli_vant_t *v, int64_t t_ns, double step, const kp_watch_block_rec_t *r);
/** queue the round just built and send what is queued */
void kp_cli_vant_round_end(kp_cli_vant_t *v);
void kp_cli_vant_close(kp_cli_vant_t *v);

#endif
