/*
 * cmd_lab.c: `keepon lab up|down|status|censor ...` (docs/lab.md).
 *
 * The lab itself is bash (the scripts in lab/); this command validates the arguments, finds the lab folder
 * ($KEEPON_LAB_DIR, else lab/ of the source tree holding this binary's build folder, else the
 * installed share/keepon/lab), exports KP_LAB_PREFIX, KP_LAB_STATE (absolute), KP_LAB_TARGET,
 * KP_LAB_RATE and KP_BIN, and execs bash lab/lab.sh. Bad input exits 2 before anything runs.
 *
 * `keepon lab inject ...` (hidden, run by lab/censor.sh inside the censor namespace) is the
 * on-path DNS injector of src/lab.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/opts.h"
#include "cli/cli.h"
#include "cli/labqa.h"
#include "lab/lab.h"

static const char *const techs[] = {"dns_forged",   "dns_injected",  "dns_nxdomain", "ip_blackhole",
                                    "tcp_reset",    "tls_sni_reset", "tls_sni_drop", "tls_mitm",     "http_blockpage",
                                    "throttled",    "network_down"};

static bool is_tech(const char *s) {
  for (size_t i = 0; i < sizeof techs / sizeof *techs; i++)
    if (strcmp(s, techs[i]) == 0) return true;
  return false;
}

/* prefixes become namespace names: short, lower case, digits, '-' */
static bool valid_prefix(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 24 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0]))) return false;
  for (size_t i = 0; i < n; i++)
    if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-')) return false;
  return true;
}
/* an app, a host name or an address: letters, digits, '.', '-', '_', ':' */
static bool valid_target(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 253) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':')) return false;
  }
  return true;
}
/* tc rates: digits then bit|kbit|mbit|gbit */
static bool valid_rate(const char *s) {
  size_t d = 0;
  while (isdigit((unsigned char)s[d])) d++;
  if (d == 0 || d > 9) return false;
  const char *u = s + d;
  return strcmp(u, "bit") == 0 || strcmp(u, "kbit") == 0 || strcmp(u, "mbit") == 0 || strcmp(u, "gbit") == 0;
}

static bool file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The lab folder (holding lab.sh) into out[PATH_MAX]; false if none is found. */
static bool find_lab_dir(char *out) {
  char cand[PATH_MAX + 16];
  const char *e = getenv("KEEPON_LAB_DIR");
  if (e && *e) {
    snprintf(cand, sizeof cand, "%s/lab.sh", e);
    if (!file_exists(cand)) return false;
    snprintf(out, PATH_MAX, "%s", e);
    return true;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    for (int up = 0; up < 5; up++) {
      char *slash = strrchr(exe, '/');
      if (!slash) break;
      *slash = 0;
      snprintf(cand, sizeof cand, "%.*s/lab/lab.sh", PATH_MAX - 16, exe);
      if (file_exists(cand)) {
        snprintf(out, PATH_MAX, "%.*s/lab", PATH_MAX - 8, exe);
        return true;
      }
    }
  }
  snprintf(cand, sizeof cand, "%.*s/lab/lab.sh", PATH_MAX - 16, kp_cli_data_dir());
  if (!file_exists(cand)) return false;
  snprintf(out, PATH_MAX, "%.*s/lab", PATH_MAX - 8, kp_cli_data_dir());
  return true;
}

/* ---- hidden: keepon lab inject ------------------------------------------------------------- */

static volatile sig_atomic_t inject_stop;
static void on_signal(int sig) {
  (void)sig;
  inject_stop = 1;
}
static void inject_ready(void *ctx) {
  fprintf(stderr, "keepon lab inject: injector ready on %s\n", (const char *)ctx);
  fflush(stderr);
}

static int cmd_inject(int argc, char **argv) {
  const char *iface = "cen-cl", *f4 = "198.19.66.66", *f6 = "2001:db8:66::66";
  long delay = 150;
  const kp_opt_t opts[] = {
    {"iface", 0, KP_OPT_STR, "IF", "interface facing the client (default cen-cl)", &iface, 0, 0},
    {"delay-ms", 0, KP_OPT_INT, "MS", "hold the true query this long (default 150)", &delay, 0, 5000},
    {"forge4", 0, KP_OPT_STR, "IP", "forged A answer (default 198.19.66.66)", &f4, 0, 0},
    {"forge6", 0, KP_OPT_STR, "IP", "forged AAAA answer (default 2001:db8:66::66)", &f6, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon lab inject [options] NAME...",
    "On-path DNS injector for the lab's censor namespace (started by 'keepon lab censor dns_injected on'):\n"
    "answers UDP queries for NAME at once with a forged address and lets the true query through later."};
  char **pos = NULL;
  int npos = 0, rc = kp_opts_parse_alloc(&help, opts, argc, argv, &pos, &npos);
  if (rc) return kp_opts_exit(rc);
  kp_lab_inject_cfg_t cfg = {.iface = iface, .delay_ms = (int)delay, .names = (const char *const *)pos,
                             .nnames = (size_t)npos, .stop = &inject_stop, .clock = kp_clock_system(),
                             .on_ready = inject_ready, .ctx = (void *)iface};
  if (npos == 0 || inet_pton(AF_INET, f4, cfg.forge4) != 1 || inet_pton(AF_INET6, f6, cfg.forge6) != 1) {
    fprintf(stderr, "usage: %s\nneeds at least one NAME and valid --forge4/--forge6 addresses\n", help.usage);
    free(pos);
    return KP_EXIT_USAGE;
  }
  struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll() returns EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  kp_status_t st = kp_lab_inject_run(&cfg);
  free(pos);
  if (st != KP_OK) {
    fprintf(stderr, "keepon lab inject: %s\n", kp_strstatus(st));
    return KP_EXIT_FAIL;
  }
  return KP_EXIT_OK;
}

/* ---- keepon lab ---------------------------------------------------------------------------- */

int kp_cmd_lab(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "inject") == 0) return cmd_inject(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "qa") == 0) return kp_cmd_lab_qa(argc - 1, argv + 1);
  const char *prefix = getenv("KP_LAB_PREFIX"), *state = getenv("KP_LAB_STATE"), *target = NULL,
             *rate = "64kbit", *allow = NULL;
  if (!prefix || !*prefix) prefix = "kp";
  const kp_opt_t opts[] = {
    {"prefix", 'p', KP_OPT_STR, "P", "lab instance: namespaces P-client, P-censor, P-servers (default kp or $KP_LAB_PREFIX)", &prefix, 0, 0},
    {"state", 0, KP_OPT_STR, "DIR", "run-time folder (default ./var/lab/P or $KP_LAB_STATE)", &state, 0, 0},
    {"target", 't', KP_OPT_STR, "NAME", "censor: whatsapp, telegram, signal, facebook_messenger, a host name or an address", &target, 0, 0},
    {"rate", 0, KP_OPT_STR, "R", "throttled: rate toward the client, e.g. 64kbit, 2mbit (default 64kbit)", &rate, 0, 0},
    {"allow", 0, KP_OPT_STR, "LIST", "network_down on: what still passes, e.g. '198.19.9.1 198.19.10.53 tcp:179 udp:53'", &allow, 0, 0},
    {0},
  };
  const kp_cmd_help_t help = {
    "keepon lab up|down|status | keepon lab censor TECH on|off [--target NAME] [--rate R] | keepon lab censor reset\n"
    "       keepon lab qa SCENARIOS.json   (OONI's Web Connectivity QA world; 'keepon lab qa --help')",
    "The network-namespace censorship lab (docs/lab.md; needs root). TECH is one of: dns_forged,\n"
    "dns_injected, dns_nxdomain, ip_blackhole, tcp_reset, tls_sni_reset, tls_sni_drop, tls_mitm, http_blockpage,\n"
    "throttled, network_down (which takes no --target). 'up' and 'down' are idempotent; 'status' exits 3\n"
    "when the lab is not up."};
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  if (!pos) return KP_EXIT_FAIL;
  int npos = 0, rc = kp_opts_parse(&help, opts, argc, argv, pos, &npos);
  int ret = KP_EXIT_USAGE;
  const char *verb = npos > 0 ? pos[0] : NULL;
  char *args[8] = {0};
  int nargs = 0;
  if (rc) {
    ret = rc == 1 ? KP_EXIT_OK : KP_EXIT_USAGE;
    goto out;
  }
  if (!verb) {
    kp_opts_help(stderr, &help, opts);
    goto out;
  }
  if (!valid_prefix(prefix)) {
    fprintf(stderr, "keepon lab: bad --prefix '%s' (a-z, 0-9, '-', at most 24 characters)\n", prefix);
    goto out;
  }
  if (target && !valid_target(target)) {
    fprintf(stderr, "keepon lab: bad --target '%s'\n", target);
    goto out;
  }
  for (const char *c = allow; c && *c; c++)
    if (!strchr("0123456789abcdefABCDEF.:/ tcpud", *c)) {
      fprintf(stderr, "keepon lab: bad --allow '%s' (addresses, prefixes, tcp:PORT, udp:PORT)\n", allow);
      goto out;
    }
  if (!valid_rate(rate)) {
    fprintf(stderr, "keepon lab: bad --rate '%s' (e.g. 64kbit, 2mbit)\n", rate);
    goto out;
  }
  if (strcmp(verb, "up") == 0 || strcmp(verb, "down") == 0 || strcmp(verb, "status") == 0) {
    if (npos != 1) {
      fprintf(stderr, "keepon lab %s: takes no further arguments\n", verb);
      goto out;
    }
  } else if (strcmp(verb, "censor") == 0) {
    if (npos == 2 && (strcmp(pos[1], "reset") == 0 || strcmp(pos[1], "status") == 0)) {
      args[nargs++] = pos[1];
    } else if (npos == 3 && is_tech(pos[1]) && (strcmp(pos[2], "on") == 0 || strcmp(pos[2], "off") == 0)) {
      if (strcmp(pos[1], "network_down") == 0 ? target != NULL : target == NULL) {
        fprintf(stderr, "keepon lab censor: %s\n",
                target ? "network_down takes no --target" : "this technique needs --target NAME");
        goto out;
      }
      args[nargs++] = pos[1];
      args[nargs++] = pos[2];
    } else {
      if (npos >= 2 && !is_tech(pos[1]))
        fprintf(stderr, "keepon lab censor: unknown technique '%s' (try --help)\n", pos[1]);
      else
        fprintf(stderr, "usage: %s\n", help.usage);
      goto out;
    }
  } else {
    fprintf(stderr, "keepon lab: unknown subcommand '%s' (try --help)\n", verb);
    goto out;
  }

  char labdir[PATH_MAX], script[PATH_MAX + 16], cwd[PATH_MAX], statebuf[PATH_MAX * 2], exe[PATH_MAX];
  if (!find_lab_dir(labdir)) {
    fprintf(stderr, "keepon lab: lab scripts not found (set KEEPON_LAB_DIR to the folder holding lab.sh)\n");
    ret = KP_EXIT_FAIL;
    goto out;
  }
  if (geteuid() != 0) {
    fprintf(stderr, "keepon lab: needs root (it creates network namespaces)\n");
    ret = KP_EXIT_FAIL;
    goto out;
  }
  if (!getcwd(cwd, sizeof cwd)) {
    perror("keepon lab: getcwd");
    ret = KP_EXIT_FAIL;
    goto out;
  }
  if (!state || !*state) snprintf(statebuf, sizeof statebuf, "%s/var/lab/%s", cwd, prefix);
  else if (state[0] == '/') snprintf(statebuf, sizeof statebuf, "%s", state);
  else snprintf(statebuf, sizeof statebuf, "%s/%s", cwd, state);
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  snprintf(script, sizeof script, "%s/lab.sh", labdir);
  setenv("KP_LAB_PREFIX", prefix, 1);
  setenv("KP_LAB_STATE", statebuf, 1);
  setenv("KP_LAB_RATE", rate, 1);
  if (target) setenv("KP_LAB_TARGET", target, 1);
  else unsetenv("KP_LAB_TARGET");
  if (allow) setenv("KP_LAB_ALLOW", allow, 1);
  else unsetenv("KP_LAB_ALLOW");
  if (exe[0]) setenv("KP_BIN", exe, 1);
  char *av[12] = {"bash", script, (char *)verb};
  int ac = 3;
  for (int i = 0; i < nargs; i++) av[ac++] = args[i];
  av[ac] = NULL;
  fflush(NULL);
  execv("/bin/bash", av);
  perror("keepon lab: exec /bin/bash");
  ret = KP_EXIT_FAIL;
out:
  free(pos);
  return ret;
}
