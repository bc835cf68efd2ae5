#include "base/opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void kp_opts_help(FILE *f, const kp_cmd_help_t *h, const kp_opt_t *opts) {
  fprintf(f, "usage: %s\n", h->usage);
  if (h->summary) fprintf(f, "\n%s\n", h->summary);
  fprintf(f, "\noptions:\n");
  for (const kp_opt_t *o = opts; o && o->name; o++) {
    char left[64];
    if (o->short_name)
      snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
               o->metavar ? o->metavar : "");
    else
      snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
    fprintf(f, "  %-30s %s\n", left, o->help);
  }
  fprintf(f, "  %-30s %s\n", "-h, --help", "show this help");
}

static const kp_opt_t *find(const kp_opt_t *opts, const char *name, size_t nlen, char sh) {
  for (const kp_opt_t *o = opts; o && o->name; o++) {
    if (sh ? o->short_name == sh : (strlen(o->name) == nlen && strncmp(o->name, name, nlen) == 0)) return o;
  }
  return NULL;
}

static int set(const kp_cmd_help_t *h, const kp_opt_t *o, const char *val) {
  char *end;
  switch (o->kind) {
  case KP_OPT_FLAG: *(bool *)o->dst = true; return 0;
  case KP_OPT_STR: *(const char **)o->dst = val; return 0;
  case KP_OPT_INT: {
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end) break;
    if (o->min < o->max && (v < o->min || v > o->max)) {
      fprintf(stderr, "%s: --%s must be between %g and %g (got %s)\n", h->usage, o->name, o->min, o->max, val);
      return 2;
    }
    *(long *)o->dst = v;
    return 0;
  }
  case KP_OPT_DOUBLE: {
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end) break;
    if (o->min < o->max && (v < o->min || v > o->max)) {
      fprintf(stderr, "%s: --%s must be between %g and %g (got %s)\n", h->usage, o->name, o->min, o->max, val);
      return 2;
    }
    *(double *)o->dst = v;
    return 0;
  }
  }
  fprintf(stderr, "usage: %s\n--%s: not a number: '%s'\n", h->usage, o->name, val);
  return 2;
}

int kp_opts_parse(const kp_cmd_help_t *h, const kp_opt_t *opts, int argc, char **argv,
                  char **pos, int *npos) {
  *npos = 0;
  bool only_pos = false;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (only_pos || a[0] != '-' || a[1] == 0) {
      pos[(*npos)++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) { only_pos = true; continue; }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      kp_opts_help(stdout, h, opts);
      return 1;
    }
    const kp_opt_t *o;
    const char *val = NULL;
    if (a[1] == '-') {
      const char *name = a + 2;
      const char *eq = strchr(name, '=');
      size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
      o = find(opts, name, nlen, 0);
      if (eq) val = eq + 1;
    } else {
      o = a[2] == 0 ? find(opts, NULL, 0, a[1]) : NULL;
    }
    if (!o) {
      fprintf(stderr, "usage: %s\nunknown option '%s' (try --help)\n", h->usage, a);
      return 2;
    }
    if (o->kind == KP_OPT_FLAG) {
      if (val) {
        fprintf(stderr, "usage: %s\n--%s takes no value\n", h->usage, o->name);
        return 2;
      }
      *(bool *)o->dst = true;
      continue;
    }
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "usage: %s\n%s needs a value (%s)\n", h->usage, a, o->metavar ? o->metavar : "ARG");
        return 2;
      }
      val = argv[++i];
    }
    int rc = set(h, o, val);
    if (rc) return rc;
  }
  return 0;
}

int kp_opts_parse_alloc(const kp_cmd_help_t *h, const kp_opt_t *opts, int argc, char **argv,
                        char ***pos, int *npos) {
  *npos = 0;
  *pos = calloc((size_t)argc + 1, sizeof **pos);
  if (!*pos) {
    fprintf(stderr, "%s: out of memory\n", h->usage);
    return 2;
  }
  int rc = kp_opts_parse(h, opts, argc, argv, *pos, npos);
  if (rc) {
    free(*pos);
    *pos = NULL;
  }
  return rc;
}
