/*
 * cmd_bgp.c: `keepon bgp dump` (bgpdump -m compatible text) and
 * `keepon bgp visibility` (the BGP signal as signal-point JSONL).
 * Both stream: one record in memory at a time, output flushed in 1 MiB writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/opts.h"
#include "bgp/bgp.h"
#include "cli/cli.h"

#define FLUSH_AT ((size_t)1 << 20)

static int write_all(int fd, kp_buf_t *b) {
  size_t off = 0;
  while (off < b->len) {
    ssize_t k = write(fd, b->data + off, b->len - off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    off += (size_t)k;
  }
  kp_buf_reset(b);
  return 0;
}

static void report(const char *path, const kp_mrt_rec_t *r, const char *why) {
  kp_log_warnx("bgp", "%s: record at offset %llu (type %u/%u, length %u): %s; skipped", path,
               (unsigned long long)r->offset, r->type, r->subtype, r->len, why);
}

/* ---- dump ---- */

static int cmd_dump(int argc, char **argv) {
  bool m = false, v = false;
  long max_record = (long)KP_MRT_MAX_RECORD_DEFAULT;
  const kp_opt_t opts[] = {
      {"machine", 'm', KP_OPT_FLAG, NULL, "one line per entry, bgpdump -m format (the only format; default)", &m, 0, 0},
      {"verbose", 'v', KP_OPT_FLAG, NULL, "accepted for bgpdump compatibility (warnings always go to stderr)", &v, 0, 0},
      {"max-record", 0, KP_OPT_INT, "BYTES", "largest MRT record accepted (default 16 MiB); longer ones are skipped",
       &max_record, 65536, 1 << 30},
      {0},
  };
  const kp_cmd_help_t help = {
      "keepon bgp dump [-m] FILE...",
      "Print MRT files (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP, BGP4MP_ET, MRTD BGP; gzip, bzip2 or plain; "
      "'-' = stdin) exactly as `bgpdump -m` does. Corrupt records are reported on stderr with their "
      "offset and skipped; a truncated file is reported and ends that file."};
  /* bgpdump habit: -vm / -mv */
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "-vm") == 0 || strcmp(argv[i], "-mv") == 0) argv[i] = "-m";
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0;
  int rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (rc != 0) {
    free(pos);
    return rc == 1 ? KP_EXIT_OK : KP_EXIT_USAGE;
  }
  (void)m;
  (void)v;
  if (npos == 0) {
    fprintf(stderr, "usage: %s\nno input file\n", help.usage);
    free(pos);
    return KP_EXIT_USAGE;
  }
  kp_mrt_ctx_t *ctx = NULL;
  kp_buf_t out;
  kp_buf_init(&out, (size_t)256 << 20);
  int status = KP_EXIT_OK;
  if (kp_mrt_ctx_new(&ctx) != KP_OK || kp_buf_reserve(&out, 2 * FLUSH_AT) != KP_OK) {
    status = KP_EXIT_FAIL;
    goto done;
  }
  for (int i = 0; i < npos && status == KP_EXIT_OK; i++) {
    kp_mrt_reader_t *rd = NULL;
    kp_status_t st = kp_mrt_open(pos[i], (size_t)max_record, &rd);
    if (st != KP_OK) {
      kp_log_error("bgp", "%s: %s", pos[i], st == KP_ERR_IO || st == KP_ERR_NOTFOUND ? strerror(errno) : kp_strstatus(st));
      status = KP_EXIT_FAIL;
      break;
    }
    kp_mrt_ctx_reset(ctx);
    uint64_t lines = 0;
    kp_mrt_rec_t r;
    for (;;) {
      st = kp_mrt_next(rd, &r);
      if (st == KP_ERR_NOTFOUND) break;
      if (st == KP_ERR_TRUNC) {
        kp_log_warnx("bgp", "%s: truncated record at offset %llu (%u bytes left)", pos[i],
                     (unsigned long long)r.offset, r.len);
        continue;
      }
      if (st == KP_ERR_RANGE) {
        report(pos[i], &r, "longer than --max-record");
        continue;
      }
      if (st == KP_ERR_INVAL) {
        report(pos[i], &r, "BGP4MP_ET length shorter than its microseconds field");
        continue;
      }
      if (st != KP_OK) {
        kp_log_error("bgp", "%s: read error at offset %llu: %s", pos[i], (unsigned long long)kp_mrt_reader_pos(rd),
                     kp_strstatus(st));
        status = KP_EXIT_FAIL;
        break;
      }
      st = kp_bgp_dump_record(ctx, &r, &out, &lines);
      if (st == KP_ERR_INVAL) report(pos[i], &r, kp_mrt_ctx_error(ctx));
      else if (st != KP_OK) report(pos[i], &r, kp_strstatus(st));
      if (out.len >= FLUSH_AT && write_all(1, &out) != 0) {
        status = KP_EXIT_FAIL;
        break;
      }
    }
    kp_mrt_close(rd);
  }
  if (write_all(1, &out) != 0) status = KP_EXIT_FAIL;
done:
  kp_buf_free(&out);
  kp_mrt_ctx_free(ctx);
  free(pos);
  return status;
}

int kp_cmd_bgp(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    FILE *f = argc < 2 ? stderr : stdout;
    fprintf(f,
            "usage: keepon bgp SUBCOMMAND [options]\n\n"
            "  dump [-m] FILE...        MRT -> bgpdump -m text\n"
            "  visibility [options] FILE...  MRT -> BGP signal points (JSONL)\n\n"
            "'keepon bgp SUBCOMMAND --help' describes a subcommand.\n");
    return argc < 2 ? KP_EXIT_USAGE : KP_EXIT_OK;
  }
  if (strcmp(argv[1], "dump") == 0) return cmd_dump(argc - 1, argv + 1);
  fprintf(stderr, "keepon bgp: unknown subcommand '%s'\n", argv[1]);
  return KP_EXIT_USAGE;
}
