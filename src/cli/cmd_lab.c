/* cmd_lab.c: placeholder until the command lands; says so and exits 2. */
#include <stdio.h>

#include "cli/cli.h"

int kp_cmd_lab(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "keepon lab: not built yet\n");
  return KP_EXIT_USAGE;
}
