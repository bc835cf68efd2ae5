/*
 * rule.c: the classification of one window (docs/probe.md "What stayed reachable"). Pure.
 *
 *   foreign tested?  no -> unknown     (nothing to tell a cut from a domestic outage)
 *   domestic tested? no -> unknown
 *   a foreign reference answered -> open
 *   no domestic entry answered   -> full_cut
 *   domestic answered / tested >= KP_REACH_NATIONAL_SHARE -> national_only
 *   otherwise (some, not most)   -> whitelist
 *
 * Port holes (scope port) and DNS entries of any scope are listed with what worked but decide
 * nothing: in Kazakhstan TCP 179 and 3785 and DNS on 53 passed through the whole cut
 * (net4people/bbs#102), so a hole or a resolver that answers does not make a cut partial, and
 * one that does not answer does not make it total. (In the lab, the censor's own resolver keeps
 * answering through the cut for the same reason.)
 */
#include <string.h>

#include "reach/reach.h"

kp_reach_class_t kp_reach_classify(const kp_reach_counts_t *c) {
  if (!c->for_n || !c->dom_n) return KP_REACH_UNKNOWN;
  if (c->for_ok) return KP_REACH_OPEN;
  if (!c->dom_ok) return KP_REACH_FULL_CUT;
  /* integer form of dom_ok / dom_n >= 0.75, so the boundary is exact */
  if (c->dom_ok * 4 >= c->dom_n * 3) return KP_REACH_NATIONAL;
  return KP_REACH_WHITELIST;
}

static const char *const NAMES[] = {"unknown", "open", "full_cut", "whitelist", "national_only"};

const char *kp_reach_class_name(kp_reach_class_t c) {
  return (unsigned)c < sizeof NAMES / sizeof *NAMES ? NAMES[c] : "unknown";
}

kp_reach_class_t kp_reach_class_parse(const char *s) {
  for (size_t i = 0; s && i < sizeof NAMES / sizeof *NAMES; i++)
    if (!strcmp(s, NAMES[i])) return (kp_reach_class_t)i;
  return KP_REACH_UNKNOWN;
}

void kp_reach_tally(const kp_reach_list_t *l, kp_reach_run_t *r) {
  kp_reach_counts_t c = {0};
  for (size_t i = 0; i < l->n; i++) {
    bool ok = r->out[i].ok;
    if (l->t[i].kind == KP_REACH_DNS) { /* DNS is a hole, whatever its scope (above) */
      c.port_n++;
      c.port_ok += ok;
      continue;
    }
    switch (l->t[i].scope) {
    case KP_REACH_DOMESTIC: c.dom_n++; c.dom_ok += ok; break;
    case KP_REACH_FOREIGN: c.for_n++; c.for_ok += ok; break;
    case KP_REACH_PORT: c.port_n++; c.port_ok += ok; break;
    }
  }
  r->counts = c;
  r->cls = kp_reach_classify(&c);
}
