/*
 * export_codf.c: Common Outage Data Format records exactly as IODA's
 * /outages/events?format=codf writes them.
 *
 * Definition followed: ioda-api src/Entity/OutagesEventNormalizer.php (InetIntel/ioda-api),
 * one object per event, keys in this order:
 *   location        "<entityType>/<entityCode>" (asn codes as IODA writes them: "asn/9198")
 *   start           event start, Unix seconds
 *   duration        until - from, seconds
 *   uncertainty     null
 *   method          the detection method ("median" is IODA's median rule, keepon's "ioda"
 *                   detector; keepon's own detectors keep their names, "cusum", "curfew")
 *   datasource      e.g. "ping-slash24"
 *   status          0 (down)
 *   fraction        the fraction of the location out, null when unknown. IODA writes null
 *                   always; keepon knows it for the address-block counts (ping-slash24: /24
 *                   blocks answering, bgp: /24 blocks visible), where the deepest drop is
 *                   the share of the location's blocks lost; null for every other source
 *   score           the event's score (Σ drop% × minutes, as IODA)
 *   location_name   the entity's name (country: UN short name; asn: "AS<n>", IODA's
 *                   default name of an ASN entity; other: the code)
 *   overlaps_window true when the event runs past either end of the window
 * and nothing else (the incident id is in the incidents JSON, not here).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/ioda.h"
#include "base/json.h"
#include "report/internal.h"
#include "report/report.h"

static bool blocks_count(const char *ds) { return !strcmp(ds, "ping-slash24") || !strcmp(ds, "bgp"); }

kp_status_t kp_export_codf(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_arr_begin(&w);
  for (size_t k = 0; k < kp_incset_count(is); k++) {
    const kp_incident_t *c = kp_incset_at(is, k);
    if (!kp_report_selects(o, c)) continue;
    for (size_t i = 0; i < c->nevents; i++) {
      const kp_event_t *e = c->events[i];
      const kp_series_t *s = e->series;
      char loc[160];
      snprintf(loc, sizeof loc, "%s/%s", s->entity_type, kp_ioda_code_out(s->entity_type, s->entity_code));
      const char *name = !strcmp(s->entity_type, "country") ? kp_country_name(s->entity_code) : s->entity_code;
      int64_t end = s->t0 + (int64_t)s->n * s->step;
      bool overlaps = e->end >= end || (o->from && e->start < o->from) || (o->until && e->end > o->until);
      kp_jw_obj_begin(&w);
      kp_jw_kstr(&w, "location", loc);
      kp_jw_kint(&w, "start", e->start);
      kp_jw_kint(&w, "duration", e->end - e->start);
      kp_jw_knull(&w, "uncertainty");
      kp_jw_kstr(&w, "method", !strcmp(e->detector, "ioda") ? "median" : e->detector);
      kp_jw_kstr(&w, "datasource", s->datasource);
      kp_jw_kint(&w, "status", 0);
      kp_jw_key(&w, "fraction");
      if (blocks_count(s->datasource) && e->max_drop > 0) kp_jw_fixed(&w, fmin(1.0, e->max_drop / 100.0), 3);
      else kp_jw_null(&w);
      kp_jw_key(&w, "score");
      kp_jw_fixed(&w, e->score, 2);
      kp_jw_kstr(&w, "location_name", name);
      kp_jw_kbool(&w, "overlaps_window", overlaps);
      kp_jw_obj_end(&w);
    }
  }
  kp_jw_arr_end(&w);
  if (w.st != KP_OK) return w.st;
  return kp_buf_putc(out, '\n');
}
