/*
 * cmd_analyze.c: `keepon analyze FILE...`: each OONI measurement in the
 * files (JSON or JSONL, any probe version) written to stdout (or --output)
 * with keepon's verdict, technique and evidence keys added (kp_analyze_text,
 * src/probe/analyze.c). Bad lines are counted and skipped; the summary goes
 * to stderr. Exit 0 when something was analyzed, 2 for bad usage or when no
 * file could be read, 1 when nothing in them was a measurement.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "probe/probe.h"

int kp_cmd_analyze(int argc, char **argv) {
  const char *output = NULL, *targets_path = NULL;
  const kp_opt_t opts[] = {
    {"output", 'o', KP_OPT_STR, "FILE", "write JSONL here (atomically) instead of stdout", &output, 0, 0},
    {"targets", 't', KP_OPT_STR, "FILE", "target file for expected networks and blockpage patterns (default built in)",
     &targets_path, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon analyze [options] FILE...",
    "Reads OONI measurements (JSON or JSONL, as in OONI's public data) and writes each with keepon_verdict, "
    "keepon_technique, keepon_evidence and keepon_endpoints added to test_keys.",
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0, ret = KP_EXIT_USAGE;
  kp_targets_t *tg = calloc(1, sizeof *tg);
  kp_buf_t in, out;
  kp_buf_init(&in, (size_t)1 << 30);
  kp_buf_init(&out, (size_t)2 << 30);
  if (!pos || !tg) goto done;
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc == 1) {
    ret = KP_EXIT_OK;
    goto done;
  }
  if (rc != 0) goto done;
  if (npos == 0) {
    fprintf(stderr, "keepon analyze: name at least one file\n");
    goto done;
  }
  char err[256];
  kp_status_t st;
  if (targets_path) {
    if ((st = kp_file_read(targets_path, &in)) != KP_OK ||
        (st = kp_targets_parse(in.data ? in.data : (const uint8_t *)"", in.len, tg, err, sizeof err)) != KP_OK) {
      fprintf(stderr, "keepon analyze: bad targets %s\n", targets_path);
      goto done;
    }
  } else {
    size_t len;
    const char *def = kp_targets_default_json(&len);
    if (kp_targets_parse(def, len, tg, err, sizeof err) != KP_OK) goto done;
  }
  size_t total = 0, bad = 0, unread = 0;
  for (int i = 0; i < npos; i++) {
    in.len = 0;
    if ((st = kp_file_read(pos[i], &in)) != KP_OK) {
      fprintf(stderr, "keepon analyze: cannot read %s: %s\n", pos[i], kp_strstatus(st));
      unread++;
      continue;
    }
    kp_analyze_stats_t s;
    if ((st = kp_analyze_text(in.data ? in.data : (const uint8_t *)"", in.len, tg, &out, &s)) != KP_OK) {
      fprintf(stderr, "keepon analyze: %s: %s\n", pos[i], kp_strstatus(st));
      ret = KP_EXIT_FAIL;
      goto done;
    }
    total += s.measurements;
    bad += s.bad;
    if (s.bad)
      fprintf(stderr, "keepon analyze: %s: %zu bad line(s) skipped (first: line %zu: %s)\n", pos[i], s.bad,
              s.first_bad_line, s.first_bad);
    if (!output) { /* stream per file: the output need not all fit in memory */
      fwrite(out.data ? (const char *)out.data : "", 1, out.len, stdout);
      out.len = 0;
    }
  }
  if (output && (st = kp_file_write_atomic(output, out.data, out.len, 0644)) != KP_OK) {
    fprintf(stderr, "keepon analyze: cannot write %s: %s\n", output, kp_strstatus(st));
    ret = KP_EXIT_FAIL;
    goto done;
  }
  fprintf(stderr, "keepon analyze: %zu measurement(s) analyzed, %zu bad line(s) skipped, %zu file(s) unreadable\n",
          total, bad, unread);
  ret = total ? KP_EXIT_OK : unread == (size_t)npos ? KP_EXIT_USAGE : KP_EXIT_FAIL;
done:
  kp_buf_free(&in);
  kp_buf_free(&out);
  free(tg);
  free(pos);
  return ret;
}
