/*
 * opts.h: table-driven command-line options. One table per command drives
 * parsing, validation and --help (after redis' static_configs[] / nginx'
 * ngx_command_s), so an option cannot exist without its help line.
 */
#ifndef KP_BASE_OPTS_H
#define KP_BASE_OPTS_H

#include <stdbool.h>
#include <stdio.h>

typedef enum kp_opt_kind { KP_OPT_FLAG, KP_OPT_STR, KP_OPT_INT, KP_OPT_DOUBLE } kp_opt_kind_t;

typedef struct kp_opt {
  const char *name;   /* long name, without "--" */
  char short_name;    /* 0 = none */
  kp_opt_kind_t kind;
  const char *metavar;
  const char *help;   /* include the default in the text */
  void *dst;          /* bool*, const char**, long*, double* */
  double min, max;    /* bounds for numbers when min < max */
} kp_opt_t;

typedef struct kp_cmd_help {
  const char *usage;   /* e.g. "keepon probe im [options]" */
  const char *summary; /* one paragraph */
} kp_cmd_help_t;

/**
 * Parse argv[0..argc) (argv[0] is the command name and is skipped).
 * Positional arguments are stored in pos[] (capacity argc) and counted in *npos.
 * "--" ends options. --help/-h prints help to stdout.
 * @return 0 ok, 1 help printed (caller exits 0), 2 usage error printed to stderr
 */
int kp_opts_parse(const kp_cmd_help_t *h, const kp_opt_t *opts, int argc, char **argv,
                  char **pos, int *npos);
void kp_opts_help(FILE *f, const kp_cmd_help_t *h, const kp_opt_t *opts);
/**
 * kp_opts_parse with the positional array allocated here: on 0, *pos (argc + 1 slots,
 * NULL-terminated) belongs to the caller, who frees it; otherwise *pos is NULL.
 * @return as kp_opts_parse; 2 also when out of memory (after a message)
 */
int kp_opts_parse_alloc(const kp_cmd_help_t *h, const kp_opt_t *opts, int argc, char **argv,
                        char ***pos, int *npos);
/** The exit code for a non-zero kp_opts_parse result: 0 after --help, 2 after a usage error. */
static inline int kp_opts_exit(int rc) { return rc == 1 ? 0 : 2; }

#endif
