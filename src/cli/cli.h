/*
 * cli.h: the keepon commands. Each command lives in its own cmd_<name>.c and
 * is registered once in the table in main.c. Commands are thin: they parse
 * options (base/opts.h), call the library, print, and map results to exit codes:
 *   0 success (a blocked target is a success: it is a result),
 *   1 the run failed (I/O, network setup, internal),
 *   2 bad usage or bad input (nothing is written in that case),
 *   3 the command's check found a problem (e.g. verify found tampering).
 */
#ifndef KP_CLI_CLI_H
#define KP_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

typedef int (*kp_cmd_fn)(int argc, char **argv);

typedef struct kp_cmd {
  const char *name;
  kp_cmd_fn fn;
  const char *summary;
} kp_cmd_t;

#define KP_EXIT_OK 0
#define KP_EXIT_FAIL 1
#define KP_EXIT_USAGE 2
#define KP_EXIT_CHECK 3

int kp_cmd_probe(int argc, char **argv);
int kp_cmd_analyze(int argc, char **argv);
int kp_cmd_probe_run(int argc, char **argv);
struct kp_buf;
/** Append each line of @p jsonl to the outbox in @p dir (NULL = <state>/outbox), durably. @return KP_EXIT_* */
int kp_cli_keep_in_outbox(const char *dir, const struct kp_buf *jsonl);
/** Deliver pending outbox records to @p url (best effort; what fails stays pending). */
void kp_cli_upload_pending(const char *dir, const char *url);
/** `keepon probe web ...` (argv[0] = "web"), in cmd_probe_web.c. */
int kp_cmd_probe_web(int argc, char **argv);
/** `keepon probe reach ...` (argv[0] = "reach"), in cmd_probe_reach.c: what stayed reachable. */
int kp_cmd_probe_reach(int argc, char **argv);
int kp_cmd_helper(int argc, char **argv);
int kp_cmd_serve(int argc, char **argv);
int kp_cmd_upload(int argc, char **argv);
int kp_cmd_outbox(int argc, char **argv);
int kp_cmd_verify(int argc, char **argv);
int kp_cmd_evidence(int argc, char **argv);
int kp_cmd_watch(int argc, char **argv);
int kp_cmd_census(int argc, char **argv);
int kp_cmd_bgp(int argc, char **argv);
int kp_cmd_detect(int argc, char **argv);
int kp_cmd_report(int argc, char **argv);
int kp_cmd_lab(int argc, char **argv);
int kp_cmd_demo(int argc, char **argv);
int kp_cmd_remote(int argc, char **argv);

/**
 * keepon's state folder: $KEEPON_HOME, else $XDG_DATA_HOME/keepon, else
 * ~/.local/share/keepon. Created (0700) on first use; an existing folder must be
 * owned by the user (group/other bits are removed). NULL, after a message on
 * stderr, when HOME is unset or the folder is refused: no /tmp fallback.
 */
const char *kp_cli_state_dir(void);

/**
 * The default output of a probe run: <state>/measurements/KIND-<UTC time>.jsonl, the folder
 * created (0700). False, after a message on stderr naming CMD, when there is no state folder,
 * the folder cannot be made, or the path does not fit in @p cap.
 */
bool kp_cli_measurement_path(const char *cmd, const char *kind, char *out, size_t cap);

/**
 * Prints, once per state folder, what keepon stores and sends about the person
 * running it (nothing identifying by default). Safe to call from every command
 * that measures or uploads.
 */
void kp_cli_privacy_notice(void);

/*
 * The control-plane client's options, the same on every command that talks to a keepon
 * server, helper or webhook (upload, verify --server, detect --server/--webhook, probe web --th).
 * Put KP_CLI_HTTPC_OPTS(&v) in the command's kp_opt_t table; then kp_cli_httpc_new(&v, &c).
 * Defaults come from $KEEPON_PROXY and $KEEPON_CA_FILE when the flags are absent.
 */
typedef struct kp_cli_httpc {
  const char *proxy, *ca_file, *user_agent;
} kp_cli_httpc_t;
#define KP_CLI_HTTPC_OPTS(v)                                                                                     \
  {"proxy", 0, KP_OPT_STR, "URL", "proxy: socks5h://HOST:PORT (Tor: socks5h://127.0.0.1:9050) or http://HOST:PORT", \
   &(v)->proxy, 0, 0},                                                                                          \
  {"ca-file", 0, KP_OPT_STR, "PEM", "trust these CA certificates instead of the system store", &(v)->ca_file, 0, 0}, \
  {"user-agent", 0, KP_OPT_STR, "UA", "User-Agent (default: a common browser's)", &(v)->user_agent, 0, 0}
struct kp_httpc;
/** Make the client (timeouts in ms, 0 = defaults; max_body 0 = 64 MiB). Prints the reason and returns NULL on bad options. */
struct kp_httpc *kp_cli_httpc_new(const kp_cli_httpc_t *v, int connect_ms, int timeout_ms, size_t max_body);

/** Directory holding keepon's installed data (lab scripts, fingerprints, targets). */
const char *kp_cli_data_dir(void);

/*
 * Where the probe is (src/locate): the flags `probe im`, `probe web` and `locate` share.
 * kp_cli_locate() looks up what the --probe-cc/--probe-asn flags do not give (flags win) and
 * fills @p w with what goes into the envelope; @p raw keeps the probe address for
 * --with-probe-ip only. Returns KP_EXIT_OK or KP_EXIT_USAGE (bad flags / databases).
 */
typedef struct kp_cli_locate {
  const char *stun, *urls, *whoami, *geo_table, *city, *asn, *lookup_ca;
  bool no_locate;
} kp_cli_locate_t;
#define KP_CLI_LOCATE_OPTS(v)                                                                                    \
  {"stun", 0, KP_OPT_STR, "LIST", "STUN servers host:port,... (default OONI's; 'none' = skip)", &(v)->stun, 0, 0}, \
  {"ip-lookup", 0, KP_OPT_STR, "URLS", "HTTPS IP-lookup URLs tried after STUN (default cloudflare trace, ubuntu geoip)", \
   &(v)->urls, 0, 0},                                                                                           \
  {"ip-lookup-ca", 0, KP_OPT_STR, "FILE", "CA bundle for the IP lookup instead of the system store (never proxied)", \
   &(v)->lookup_ca, 0, 0},                                                                                      \
  {"whoami", 0, KP_OPT_STR, "NAME", "name whose A answer is the resolver's address (default whoami.v4.powerdns.org)", \
   &(v)->whoami, 0, 0},                                                                                         \
  {"geo", 0, KP_OPT_STR, "FILE", "geo table (prefix,cc,region,asn,as_name) instead of the mmdb databases",    \
   &(v)->geo_table, 0, 0},                                                                                      \
  {"city-mmdb", 0, KP_OPT_STR, "FILE", "city mmdb (default var/geo/city.mmdb, scripts/geodata.sh)", &(v)->city, 0, 0}, \
  {"asn-mmdb", 0, KP_OPT_STR, "FILE", "ASN mmdb or CSV (default var/geo/asn.mmdb)", &(v)->asn, 0, 0},          \
  {"no-locate", 0, KP_OPT_FLAG, NULL, "do not look up where the probe is (ZZ / AS0 unless given)", &(v)->no_locate, 0, 0}
typedef struct kp_cli_where {
  char cc[3], asn[16], network_name[96];
  char resolver_ip[46], resolver_asn[16], resolver_network_name[96];
} kp_cli_where_t;
struct kp_locate_result;
int kp_cli_locate(const kp_cli_locate_t *v, const char *resolver, const char *cc_flag, const char *asn_flag,
                  const char *net_flag, kp_cli_where_t *w, struct kp_locate_result *raw);
int kp_cmd_locate(int argc, char **argv);

#endif
