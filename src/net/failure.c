/*
 * failure.c: operating-system errors to OONI df-007 failure strings.
 * Unknown errors become "unknown_failure: <text>" as OONI writes them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"

const char *kp_net_failure_errno(int err, char *scratch, size_t cap) {
  switch (err) {
  case ECONNREFUSED: return KP_FAIL_REFUSED;
  case ECONNRESET: return KP_FAIL_RESET;
  case ECONNABORTED: return "connection_aborted";
  case ETIMEDOUT: return KP_FAIL_TIMEOUT;
  case EHOSTUNREACH: return KP_FAIL_HOST_UNREACH;
  case ENETUNREACH: return KP_FAIL_NET_UNREACH;
  case ENETDOWN: return "network_down";
  case EPIPE: return "broken_pipe";
  case EADDRNOTAVAIL: return "address_not_available";
  case EPROTONOSUPPORT: return "protocol_not_supported";
  case EAFNOSUPPORT: return "address_family_not_supported";
  default: break;
  }
  snprintf(scratch, cap, "unknown_failure: %s", strerror(err));
  return scratch;
}

bool kp_net_failure_is_cert(const char *f) {
  return f && (strcmp(f, KP_FAIL_SSL_AUTHORITY) == 0 || strcmp(f, KP_FAIL_SSL_HOSTNAME) == 0 ||
               strcmp(f, KP_FAIL_SSL_CERT) == 0);
}
