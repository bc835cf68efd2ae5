/* internal.h: helpers shared by the detect sources (not part of the module API). */
#ifndef KP_DETECT_INTERNAL_H
#define KP_DETECT_INTERNAL_H

#include "detect/detect.h"

kp_status_t kp_events_push(kp_event_list_t *l, const kp_event_t *e);
const kp_ioda_params_t *kp_detect_params_for(const kp_detect_cfg_t *c, const kp_series_t *s);

#include "base/buf.h"
/** One HTTP/1.1 request over TCP to an IP-literal URL; the response body (NULL = status only). */
kp_status_t kp_http_exchange(const char *url, const char *method, const void *body, size_t n, int timeout_ms,
                             kp_buf_t *resp, int *http_code);

#endif
