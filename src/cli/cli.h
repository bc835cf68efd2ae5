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
/** `keepon probe web ...` (argv[0] = "web"), in cmd_probe_web.c. */
int kp_cmd_probe_web(int argc, char **argv);
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

/**
 * keepon's state folder: $KEEPON_HOME, else $XDG_DATA_HOME/keepon, else
 * ~/.local/share/keepon. Created (0700) on first use. Returns a static string.
 */
const char *kp_cli_state_dir(void);

/**
 * Prints, once per state folder, what keepon stores and sends about the person
 * running it (nothing identifying by default). Safe to call from every command
 * that measures or uploads.
 */
void kp_cli_privacy_notice(void);

/** Directory holding keepon's installed data (lab scripts, fingerprints, targets). */
const char *kp_cli_data_dir(void);

#endif
