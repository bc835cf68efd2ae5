/*
 * wc_cli.c: a driver for webconn's commands until `keepon probe web` and
 * `keepon lab qa` are dispatched from cmd_probe.c / cmd_lab.c (owned by other
 * components): `wc_cli web ARGS...` == `keepon probe web ARGS...`,
 * `wc_cli qa ARGS...` == `keepon lab qa ARGS...`. Tests only.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/labqa.h"
#include "webconn/webconn.h"

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "web")) return kp_webconn_cli(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "qa")) return kp_cmd_lab_qa(argc - 1, argv + 1);
  fprintf(stderr, "usage: wc_cli web|qa ARGS...\n");
  return 2;
}
