/*
 * locate.h: where the probe is, as OONI's probe finds it (probe-cli internal/enginelocate),
 * without ever keeping the probe's address beyond the lookup.
 *
 *   1. the probe's public address: STUN binding requests (RFC 5389) to a list of servers,
 *      tried in order, each with a timeout; then, when every STUN server failed, an
 *      IP-lookup URL list over HTTPS through the control-plane client (src/httpc);
 *   2. that address -> probe_cc / probe_asn / probe_network_name with src/geo;
 *   3. the resolver: a whoami-style A lookup of a configurable name through the probe's
 *      resolver (the name's authority answers with the address it was asked from) ->
 *      resolver_ip, resolver_asn, resolver_network_name with src/geo.
 *
 * State of one kp_locate() call:
 *   START -> STUN[i] --answer--> GEO
 *              |fail, i+1
 *              v (list exhausted)
 *            HTTPS[j] --address--> GEO        (skipped without an httpc client)
 *              |fail, j+1 (list exhausted) -> GEO with nothing (cc "", asn 0)
 *   GEO -> WHOAMI (answer, or the configured resolver address) -> DONE
 * A failure is a result (fields stay unknown), never an error status.
 *
 * Privacy invariant: the probe address lives only in kp_locate_result_t.probe_addr, which
 * callers must not write anywhere unless the user asked (--with-probe-ip). Nothing sent by
 * this module names keepon: the STUN request carries no SOFTWARE attribute, HTTPS uses the
 * control-plane client's browser User-Agent.
 */
#ifndef KP_LOCATE_LOCATE_H
#define KP_LOCATE_LOCATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/status.h"

/* ------------------------------------------------------------ STUN codec (pure) */
#define KP_STUN_MAGIC 0x2112A442u
#define KP_STUN_HDR 20
#define KP_STUN_BINDING_REQUEST 0x0001
#define KP_STUN_BINDING_SUCCESS 0x0101
#define KP_STUN_BINDING_ERROR 0x0111
#define KP_STUN_ATTR_MAPPED 0x0001
#define KP_STUN_ATTR_XOR_MAPPED 0x0020
#define KP_STUN_ATTR_XOR_MAPPED_OLD 0x8020 /* pre-RFC draft code point some servers still send */
#define KP_STUN_ATTR_FINGERPRINT 0x8028

typedef struct kp_stun_mapped {
  kp_addr_t addr;
  uint16_t port;
  bool xored;        /* from XOR-MAPPED-ADDRESS (else MAPPED-ADDRESS) */
  bool fingerprint;  /* a FINGERPRINT attribute was present and matched */
} kp_stun_mapped_t;

/** A Binding request with no attributes (20 bytes) into out[cap]. KP_ERR_RANGE if cap < 20. */
kp_status_t kp_stun_binding_request(const uint8_t txid[12], uint8_t *out, size_t cap, size_t *len);

/**
 * Parse one datagram as the Binding success response to transaction @p txid.
 * Checks: header, magic cookie, length == datagram - 20 and a multiple of 4, transaction id,
 * each attribute's length (padded to 4) inside the message, address attribute lengths by
 * family, FINGERPRINT (CRC-32 ^ 0x5354554E) when present. XOR-MAPPED-ADDRESS wins over
 * MAPPED-ADDRESS wherever it appears.
 * @return KP_OK; KP_ERR_INVAL malformed / not STUN / other transaction; KP_ERR_TRUNC short;
 *         KP_ERR_PERM a Binding error response; KP_ERR_NOTFOUND well-formed, no address.
 */
kp_status_t kp_stun_parse_response(const uint8_t *p, size_t n, const uint8_t txid[12], kp_stun_mapped_t *out);

/* ------------------------------------------------------ IP-lookup body (pure) */
/**
 * The address in an IP-lookup response body: a Cloudflare-trace "ip=ADDR" line, an Ubuntu
 * geoip "<Ip>ADDR</Ip>" element, or a body that is one address (blanks trimmed).
 * @return KP_OK, KP_ERR_NOTFOUND (no valid address)
 */
kp_status_t kp_locate_parse_ip_body(const uint8_t *p, size_t n, kp_addr_t *out);

/* --------------------------------------------------------------- lookups (I/O) */
struct kp_httpc;
struct kp_geo;

/* OONI's defaults (probe-cli enginelocate): */
#define KP_LOCATE_WHOAMI_DEFAULT "whoami.v4.powerdns.org"
extern const char *const kp_locate_default_stun[];   /* NULL-terminated host:port list */
extern const char *const kp_locate_default_urls[];   /* NULL-terminated https URL list */

typedef struct kp_locate_cfg {
  const char *const *stun;     /* NULL-terminated "host:port" ("[v6]:port"); NULL = defaults; {NULL} = none */
  const char *const *urls;     /* NULL-terminated IP-lookup URLs; NULL = defaults; {NULL} = none */
  struct kp_httpc *http;       /* control-plane client for urls; NULL = skip the HTTPS step */
  const struct kp_geo *geo;    /* NULL = addresses are found but not mapped */
  kp_addr_t resolver;          /* the probe's DNS resolver (family 0 = skip whoami) */
  uint16_t resolver_port;      /* 0 = 53 */
  const char *whoami;          /* NULL = KP_LOCATE_WHOAMI_DEFAULT; "" = skip */
  int timeout_ms;              /* per STUN server / per URL / whoami; 0 = 3000 */
  int budget_ms;               /* the whole lookup: no step starts after it, each is cut to what is
                                  left (getaddrinfo aside); whoami keeps >= 1 s; 0 = 6000 */
} kp_locate_cfg_t;

typedef struct kp_locate_result {
  bool found;                  /* the probe address is known */
  kp_addr_t probe_addr;        /* NEVER written out unless the user asked */
  char method[160];            /* "stun HOST:PORT", "https URL" or "" */
  char cc[3];                  /* "" unknown */
  uint32_t asn;                /* 0 unknown */
  char network_name[96];
  bool resolver_found;         /* whoami answered (else resolver_ip is the configured one) */
  char resolver_ip[KP_ADDR_STRLEN]; /* "" when no resolver */
  uint32_t resolver_asn;
  char resolver_network_name[96];
} kp_locate_result_t;

/** One STUN exchange with @p hostport (resolved with getaddrinfo). KP_ERR_TIMEOUT/IO/... on failure. */
kp_status_t kp_locate_stun(const char *hostport, int timeout_ms, kp_stun_mapped_t *out);
/** The first A answer to @p name asked of @p resolver over UDP. */
kp_status_t kp_locate_whoami(const kp_addr_t *resolver, uint16_t port, const char *name, int timeout_ms,
                             kp_addr_t *out);
/** The whole state machine above. Always KP_OK unless @p cfg is NULL. */
kp_status_t kp_locate(const kp_locate_cfg_t *cfg, kp_locate_result_t *out);

#endif
