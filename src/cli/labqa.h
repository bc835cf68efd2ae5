/*
 * labqa.h: `keepon lab qa FILE` (cmd_labqa.c), dispatched from `keepon lab`.
 */
#ifndef KP_CLI_LABQA_H
#define KP_CLI_LABQA_H

/**
 * Recreate each scenario of an OONI QA file (shared/data/ooni/qa/scenarios.json
 * format) in the QA world (lab/qa/), run `probe web` on its input and compare the
 * v0.5 test keys with expect_effective. argv[0] is "qa".
 * Prints PASS/FAIL/SKIP lines and "N passed, N failed"; exit 0 all passed,
 * 3 some failed, 2 bad usage, 1 the world could not be built.
 */
int kp_cmd_lab_qa(int argc, char **argv);

#endif
