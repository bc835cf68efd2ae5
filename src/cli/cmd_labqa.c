/*
 * cmd_labqa.c: `keepon lab qa FILE [--only NAME] [--prefix P] [--keep]`.
 *
 * For the QA world (lab/qa/world.py, namespaces P-cl, P-cen, P-w):
 *   up -> for each scenario: apply (records + DPI rules; exit 3 = SKIP with
 *   a reason) -> measure the input from P-cl in a forked child (own mount
 *   namespace with P-cl's resolv.conf, setns into P-cl, kp_wc_probe_url with
 *   the world's TH, resolver and CA) -> compare the test keys with
 *   expect_effective on the v0.5 fields -> PASS / FAIL / SKIP line
 *   -> down (always, unless --keep), also after SIGINT/SIGTERM.
 * The file is validated (JSON array of named scenarios) before anything runs.
 */

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "cli/labqa.h"
#include "webconn/webconn.h"

static volatile sig_atomic_t g_interrupted;
static void on_sig(int s) {
  (void)s;
  g_interrupted = 1;
}

/* Run argv, capture up to cap-1 bytes of stdout into out; return the exit code (-1 on error). */
static int run_capture(char *const argv[], char *out, size_t cap) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fd[1]);
  size_t len = 0;
  ssize_t n;
  char sink[4096];
  while ((n = read(fd[0], len + 1 < cap ? out + len : sink, len + 1 < cap ? cap - 1 - len : sizeof sink)) > 0)
    if (len + 1 < cap) len += (size_t)n;
  if (cap) out[len] = 0;
  close(fd[0]);
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool find_world(char *out, size_t cap) {
  const char *e = getenv("KEEPON_LAB_DIR");
  struct stat st;
  if (e && *e) {
    snprintf(out, cap, "%.4000s/qa/world.py", e);
    return stat(out, &st) == 0;
  }
  char d[PATH_MAX];
  snprintf(d, sizeof d, "%s", kp_cli_data_dir());
  snprintf(out, cap, "%.4000s/lab/qa/world.py", d); /* installed: share/keepon/lab */
  if (stat(out, &st) == 0) return true;
  char *slash = strrchr(d, '/'); /* source tree: <src>/data -> <src>/lab */
  if (slash) *slash = 0;
  snprintf(out, cap, "%.4000s/lab/qa/world.py", d);
  return stat(out, &st) == 0;
}

/* Child: enter P-cl with its resolv.conf and measure @p url; the line goes to fd. */
static int child_measure(const char *ns, const char *url, const kp_wc_probe_cfg_t *cfg, int fd) {
  char path[PATH_MAX];
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return 1;
  snprintf(path, sizeof path, "/etc/netns/%s/resolv.conf", ns);
  if (mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0) return 1;
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  int nfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nfd < 0 || setns(nfd, CLONE_NEWNET) != 0) return 1;
  close(nfd);
  kp_buf_t line;
  kp_buf_init(&line, (size_t)64 << 20);
  kp_wc_summary_t s;
  if (kp_wc_probe_url(cfg, url, &line, &s) != KP_OK) return 1;
  size_t off = 0;
  while (off < line.len) {
    ssize_t w = write(fd, line.data + off, line.len - off);
    if (w <= 0) return 1;
    off += (size_t)w;
  }
  kp_buf_free(&line);
  return 0;
}

static kp_status_t measure(const char *ns, const char *url, const kp_wc_probe_cfg_t *cfg, kp_buf_t *out) {
  int fd[2];
  if (pipe(fd) != 0) return KP_ERR_IO;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return KP_ERR_IO;
  if (pid == 0) {
    close(fd[0]);
    _exit(child_measure(ns, url, cfg, fd[1]));
  }
  close(fd[1]);
  kp_buf_reset(out);
  char buf[65536];
  ssize_t n;
  kp_status_t st = KP_OK;
  while ((n = read(fd[0], buf, sizeof buf)) > 0)
    if (kp_buf_append(out, buf, (size_t)n) != KP_OK) st = KP_ERR_NOMEM;
  close(fd[0]);
  int ws = 0;
  waitpid(pid, &ws, 0);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) return KP_ERR_IO;
  return st;
}

int kp_cmd_lab_qa(int argc, char **argv) {
  const char *only = NULL, *prefix = NULL, *state = NULL, *shard = NULL;
  bool keep = false;
  double step = 1;
  const kp_opt_t opts[] = {
    {"only", 0, KP_OPT_STR, "NAME", "run only this scenario", &only, 0, 0},
    {"prefix", 'p', KP_OPT_STR, "P", "namespace prefix (default kq<pid>)", &prefix, 0, 0},
    {"state", 0, KP_OPT_STR, "DIR", "run-time folder (default ./var/labqa/P)", &state, 0, 0},
    {"shard", 0, KP_OPT_STR, "K/N", "run only scenarios whose index i has i % N == K (parallel runs)", &shard, 0, 0},
    {"keep", 0, KP_OPT_FLAG, NULL, "leave the world up afterwards (remove it with world.py down)", &keep, 0, 0},
    {"timeout", 0, KP_OPT_DOUBLE, "S", "probe step timeout in seconds (default 1)", &step, 0.2, 30},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon lab qa FILE [--only NAME] [--shard K/N] [--prefix P] [--keep]",
    "Builds OONI's Web Connectivity QA world in network namespaces (lab/qa/world.py), recreates each "
    "scenario of FILE (OONI's scenarios.json format) from its network description, runs the web probe "
    "and compares its test keys with expect_effective on every v0.5 field. Prints PASS name, FAIL name: "
    "field expected X got Y or SKIP name: reason, and a last line 'N passed, N failed'.",
  };
  char *pos[4];
  int npos = 0;
  if (argc > 16) {
    fprintf(stderr, "keepon lab qa: too many arguments\n");
    return KP_EXIT_USAGE;
  }
  int r = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  if (r == 1) return KP_EXIT_OK;
  if (r != 0) return KP_EXIT_USAGE;
  if (npos != 1) {
    fprintf(stderr, "keepon lab qa: one scenario FILE is required\n");
    return KP_EXIT_USAGE;
  }
  const char *file = pos[0];
  unsigned sk = 0, sn = 1;
  if (shard && (sscanf(shard, "%u/%u", &sk, &sn) != 2 || sn == 0 || sk >= sn || sn > 64)) {
    fprintf(stderr, "keepon lab qa: --shard wants K/N with 0 <= K < N <= 64\n");
    return KP_EXIT_USAGE;
  }
  kp_buf_t fb;
  kp_buf_init(&fb, (size_t)64 << 20);
  kp_json_doc_t *doc = NULL;
  kp_json_limits_t lim = {0};
  if (kp_file_read(file, &fb) != KP_OK || kp_json_parse(fb.data, fb.len, &lim, &doc, NULL) != KP_OK ||
      !kp_json_is(kp_json_root(doc), KP_JSON_ARRAY)) {
    fprintf(stderr, "keepon lab qa: %s is not a readable JSON array of scenarios\n", file);
    kp_buf_free(&fb);
    kp_json_doc_free(doc);
    return KP_EXIT_USAGE;
  }
  kp_buf_free(&fb);
  const kp_json_t *all = kp_json_root(doc);
  for (size_t i = 0; i < kp_json_len(all); i++)
    if (!kp_json_get_str(kp_json_at(all, i), "name") || !kp_json_get_str(kp_json_at(all, i), "input")) {
      fprintf(stderr, "keepon lab qa: scenario %zu has no name or input\n", i);
      kp_json_doc_free(doc);
      return KP_EXIT_USAGE;
    }
  char pfx[32], statebuf[PATH_MAX], world[PATH_MAX], self[PATH_MAX], absfile[PATH_MAX];
  if (!prefix) {
    snprintf(pfx, sizeof pfx, "kq%d", (int)getpid() % 100000);
    prefix = pfx;
  }
  if (strlen(prefix) > 12 || strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(prefix)) {
    fprintf(stderr, "keepon lab qa: --prefix wants 1-12 of a-z0-9\n");
    kp_json_doc_free(doc);
    return KP_EXIT_USAGE;
  }
  if (!state) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "/tmp");
    snprintf(statebuf, sizeof statebuf, "%.3000s/var/labqa/%s", cwd, prefix);
    state = statebuf;
  }
  if (!find_world(world, sizeof world) || !realpath(file, absfile)) {
    fprintf(stderr, "keepon lab qa: cannot find lab/qa/world.py (set KEEPON_LAB_DIR)\n");
    kp_json_doc_free(doc);
    return KP_EXIT_FAIL;
  }
  /* the helper runs as `keepon helper`: this binary, or $KP_BIN when driven by a test driver */
  const char *bin = getenv("KP_BIN");
  ssize_t sl = bin && *bin ? (ssize_t)snprintf(self, sizeof self, "%s", bin)
                           : readlink("/proc/self/exe", self, sizeof self - 1);
  self[sl > 0 && (size_t)sl < sizeof self ? sl : 0] = 0;
  kp_mkdirs(state, 0700);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  char out[4096], cl[64], cafile[PATH_MAX + 16];
  snprintf(cl, sizeof cl, "%s-cl", prefix);
  snprintf(cafile, sizeof cafile, "%s/pki/ca.crt", state);
  char *up[] = {"python3", world, "up", (char *)state, (char *)prefix, self, NULL};
  int rc = KP_EXIT_FAIL;
  size_t passed = 0, failed = 0;
  if (run_capture(up, out, sizeof out) != 0) {
    fprintf(stderr, "keepon lab qa: the QA world did not come up (logs in %s/log)\n", state);
    goto down;
  }
  kp_wc_probe_cfg_t cfg = {.resolver = "198.18.4.53", .ca_file = cafile, .helper = "http://198.18.5.80:80/",
                           .step_timeout = step, .url_timeout = 40, .control_timeout = 20, .dns_window = 0.1,
                           .opts = {.lab = true},
                           .probe_cc = "IT", .probe_asn = "AS137"};
  kp_buf_t line;
  kp_buf_init(&line, (size_t)64 << 20);
  for (size_t i = 0; i < kp_json_len(all) && !g_interrupted; i++) {
    const kp_json_t *sc = kp_json_at(all, i);
    const char *name = kp_json_get_str(sc, "name");
    if ((only && strcmp(only, name)) || i % sn != sk) continue;
    char *ap[] = {"python3", world, "apply", (char *)state, (char *)prefix, absfile, (char *)name, NULL};
    int arc = run_capture(ap, out, sizeof out);
    out[strcspn(out, "\n")] = arc == 0 ? out[strcspn(out, "\n")] : 0;
    if (arc == 3) {
      printf("SKIP %s: %s\n", name, !strncmp(out, "SKIP ", 5) ? out + 5 : out);
      fflush(stdout);
      continue;
    }
    if (arc != 0) {
      printf("FAIL %s: could not recreate the network (world.py apply exit %d)\n", name, arc);
      failed++;
      continue;
    }
    const char *input = kp_json_get_str(sc, "input");
    char *in = strstr(out, "INPUT ");
    char url[1024];
    snprintf(url, sizeof url, "%s", in ? in + 6 : input);
    url[strcspn(url, "\n")] = 0;
    char gai[64] = "";
    char *cg = strstr(out, "CLIENT_GAI_FAILURE ");
    if (cg) {
      snprintf(gai, sizeof gai, "%s", cg + 19);
      gai[strcspn(gai, "\n")] = 0;
    }
    cfg.emulate_gai_failure = gai[0] ? gai : NULL;
    kp_json_doc_t *m = NULL;
    if (measure(cl, url, &cfg, &line) != KP_OK || kp_json_parse(line.data, line.len, &lim, &m, NULL) != KP_OK) {
      printf("FAIL %s: the probe did not produce a measurement\n", name);
      failed++;
      kp_json_doc_free(m);
      continue;
    }
    kp_wc_keys_t k;
    const char *cf = NULL;
    kp_wc_keys_from_json(kp_json_get(kp_json_root(m), "test_keys"), &k, &cf);
    char msg[512];
    if (kp_wc_qa_compare(sc, &k, cf, msg, sizeof msg)) {
      printf("PASS %s\n", name);
      passed++;
    } else {
      printf("FAIL %s: %s\n", name, msg);
      failed++;
    }
    fflush(stdout);
    kp_json_doc_free(m);
  }
  kp_buf_free(&line);
  printf("%zu passed, %zu failed\n", passed, failed);
  rc = g_interrupted ? KP_EXIT_FAIL : failed ? KP_EXIT_CHECK : KP_EXIT_OK;
down:
  if (!keep) {
    char *dn[] = {"python3", world, "down", (char *)state, (char *)prefix, NULL};
    run_capture(dn, out, sizeof out);
  }
  kp_json_doc_free(doc);
  return rc;
}
