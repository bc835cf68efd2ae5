/* internal.h: helpers shared by the detect sources (not part of the module API). */
#ifndef KP_DETECT_INTERNAL_H
#define KP_DETECT_INTERNAL_H

#include "detect/detect.h"

kp_status_t kp_events_push(kp_event_list_t *l, const kp_event_t *e);
const kp_ioda_params_t *kp_detect_params_for(const kp_detect_cfg_t *c, const kp_series_t *s);

#include "httpc/httpc.h"

#include <string.h>
/* A failure-rate ("service") series: probe-<test> from inside, remote-dns / remote-http from outside
 * (src/remote). They go to CUSUM and service incidents with their techniques, never to the IODA rule. */
static inline bool kp_det_is_service_ds(const char *ds) {
  return !strncmp(ds, "probe-", 6) || !strncmp(ds, "remote-", 7);
}

#endif
