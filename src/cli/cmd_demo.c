/* cmd_demo.c: placeholder until the command lands; says so and exits 2. */
#include <stdio.h>

#include "cli/cli.h"

int kp_cmd_demo(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "keepon demo: not built yet\n");
  return KP_EXIT_USAGE;
}
