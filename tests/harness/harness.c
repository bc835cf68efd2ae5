/* harness.c: runner for kp_test.h (fork per test, timeout, summary line). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kp_test.h"

#define MAX_TESTS 512

static struct {
  const char *name;
  kp_test_fn fn;
} g_tests[MAX_TESTS];
static int g_ntests;
static char g_tmp[256];

void kp_test_register(const char *name, kp_test_fn fn) {
  if (g_ntests < MAX_TESTS) {
    g_tests[g_ntests].name = name;
    g_tests[g_ntests].fn = fn;
    g_ntests++;
  }
}

const char *kp_test_src(void) {
  const char *s = getenv("KP_SRC");
  return s && *s ? s : ".";
}

const char *kp_test_shared(void) {
  static char path[1024];
  const char *s = getenv("KP_SHARED_DATA");
  if (!s || !*s) {
    snprintf(path, sizeof path, "%s/../shared/data", kp_test_src());
    s = path;
  }
  return access(s, R_OK) == 0 ? s : NULL;
}

const char *kp_test_bin(void) {
  const char *s = getenv("KP_BIN");
  return s && *s ? s : "keepon";
}

const char *kp_test_tmpdir(void) { return g_tmp; }

static void rm_rf(const char *p) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", p);
}

static int find_test(const char *name) {
  for (int i = 0; i < g_ntests; i++)
    if (strcmp(g_tests[i].name, name) == 0) return i;
  return -1;
}

/* Arguments: NAME... runs only those; --exclude NAME (repeatable) runs all others, for a
 * case another runner covers (it is then neither run nor reported as a skip). A name that
 * is no test is an error (exit 2), so a renamed test cannot turn a selection into a no-op. */
int main(int argc, char **argv) {
  int passed = 0, failed = 0, skipped = 0;
  unsigned timeout = getenv("KP_TEST_TIMEOUT") ? (unsigned)atoi(getenv("KP_TEST_TIMEOUT")) : 60;
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (int i = 0; i < g_ntests; i++) printf("%s\n", g_tests[i].name);
    return 0;
  }
  static char want[MAX_TESTS], excluded[MAX_TESTS];
  int nwant = 0, nexcluded = 0;
  for (int a = 1; a < argc; a++) {
    bool ex = strcmp(argv[a], "--exclude") == 0;
    if (ex && ++a >= argc) {
      fprintf(stderr, "--exclude needs a test name\n");
      return 2;
    }
    int i = find_test(argv[a]);
    if (i < 0) {
      fprintf(stderr, "no test named %s (--list lists them)\n", argv[a]);
      return 2;
    }
    if (ex) excluded[i] = 1, nexcluded++;
    else want[i] = 1, nwant++;
  }
  for (int i = 0; i < g_ntests; i++) {
    if ((nwant && !want[i]) || excluded[i]) continue;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/kp-test-XXXXXX");
    if (!mkdtemp(g_tmp)) {
      perror("mkdtemp");
      return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      alarm(timeout);
      g_tests[i].fn();
      fflush(NULL);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    rm_rf(g_tmp);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      printf("ok   %s\n", g_tests[i].name);
      passed++;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
      printf("skip %s\n", g_tests[i].name);
      skipped++;
    } else {
      if (WIFSIGNALED(status))
        printf("FAIL %s (signal %d%s)\n", g_tests[i].name, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ": timeout" : "");
      else
        printf("FAIL %s (exit %d)\n", g_tests[i].name, WEXITSTATUS(status));
      failed++;
    }
  }
  if (nexcluded) printf("%d passed, %d failed, %d skipped (%d excluded)\n", passed, failed, skipped, nexcluded);
  else printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (failed) return 1;
  if (passed == 0 && skipped > 0) return 77;
  return 0;
}
