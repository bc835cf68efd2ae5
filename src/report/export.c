/*
 * export.c: the incident list in other people's formats.
 *
 * STOP (Access Now Shutdown Tracker, anchors §5): one CSV row per incident, the
 * 36 current columns in their published order. Only what keepon measures is
 * filled (dates, type, scope, networks, platforms, status); decision and cause
 * columns stay empty for a human to complete. Dates are M/D/YYYY; "duration" is
 * days (rounded up) or "Curfew Style". Fields go through kp_csv_cell: RFC 4180
 * quoting and the spreadsheet formula guard (= + - @ TAB CR).
 * Vocabulary, STOP's own values only (a cell keepon cannot fill from measurements stays
 * empty rather than guessed):
 *   shutdown_type    Shutdown | Throttle. STOP's "Shutdown, Throttle" row is one event with
 *                    both; keepon writes a throttling incident as its own row (failures inside
 *                    a cut are "unreachable", never a technique, so a shutdown row cannot
 *                    carry throttling). Never Unknown: keepon saw what it reports.
 *   affected_network Mobile | Broadband | "Mobile, Broadband" from the incident's access split
 *                    (mobile/fixed, detect's access.c); empty when the split is not known.
 *                    The networks' AS numbers go to telcos_involved, not here.
 *
 * CODF: export_codf.c.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/codec.h"
#include "base/json.h"
#include "report/internal.h"
#include "report/report.h"

static const struct { const char cc[3]; const char *name; } countries[] = {
    {"AF", "Afghanistan"}, {"AZ", "Azerbaijan"}, {"BD", "Bangladesh"}, {"BY", "Belarus"},
    {"CD", "Democratic Republic of the Congo"}, {"CU", "Cuba"}, {"DZ", "Algeria"}, {"EG", "Egypt"},
    {"ET", "Ethiopia"}, {"GA", "Gabon"}, {"GN", "Guinea"}, {"IN", "India"}, {"IQ", "Iraq"},
    {"IR", "Iran (Islamic Republic of)"}, {"JO", "Jordan"}, {"KE", "Kenya"}, {"KZ", "Kazakhstan"},
    {"LY", "Libya"}, {"MM", "Myanmar"}, {"PK", "Pakistan"}, {"RU", "Russian Federation"}, {"SD", "Sudan"},
    {"SN", "Senegal"}, {"SY", "Syrian Arab Republic"}, {"TJ", "Tajikistan"}, {"TM", "Turkmenistan"},
    {"TR", "Türkiye"}, {"UA", "Ukraine"}, {"UG", "Uganda"}, {"UZ", "Uzbekistan"}, {"VE", "Venezuela"},
    {"YE", "Yemen"}, {"ZW", "Zimbabwe"}};

const char *kp_country_name(const char *cc) {
  for (size_t i = 0; i < sizeof countries / sizeof *countries; i++)
    if (cc && !strcmp(countries[i].cc, cc)) return countries[i].name;
  return cc ? cc : "";
}

const char *kp_rep_country_at(size_t i) { return i < sizeof countries / sizeof *countries ? countries[i].cc : NULL; }

static const char *const stop_cols[] = {
    "start_date_type", "start_date", "end_date", "duration", "shutdown_status", "country", "geo_scope",
    "area_name", "shutdown_type", "affected_network", "shutdown_extent", "ordered_by", "decision_maker",
    "actual_cause", "actual_cause_details", "info_source", "info_source_link", "gov_justification", "gov_ack",
    "facebook_affected", "twitter_affected", "whatsapp_affected", "instagram_affected", "telegram_affected",
    "other_affected", "sms_affected", "phonecall_affected", "telcos_involved", "election", "violence",
    "hr_abuse_reported", "users_targeted", "users_target_detail", "event", "an_link", "region"};
#define NCOLS (sizeof stop_cols / sizeof *stop_cols)

/* Appends one cell; the first failure (the buffer's cap) sticks in *st. */
static void csv_field(kp_buf_t *o, const char *s, bool first, kp_status_t *st) {
  if (*st == KP_OK && !first) *st = kp_buf_putc(o, ',');
  if (*st == KP_OK) *st = kp_csv_cell(o, s);
}

static void mdy(int64_t t, char *out, size_t cap) {
  char y[8], m[4], d[4];
  kp_rep_time(t, "%Y", y, sizeof y);
  kp_rep_time(t, "%m", m, sizeof m);
  kp_rep_time(t, "%d", d, sizeof d);
  snprintf(out, cap, "%d/%d/%s", atoi(m), atoi(d), y);
}

static bool has_svc(const kp_incident_t *c, const char *name) {
  for (size_t i = 0; i < c->nservices; i++)
    if (!strcmp(c->services[i], name)) return true;
  return false;
}

static void joined(char *out, size_t cap, const char *const *v, size_t n, const char *sep, bool strip_cc) {
  out[0] = 0;
  for (size_t i = 0; i < n; i++) {
    const char *s = v[i];
    if (strip_cc && strlen(s) > 3 && s[2] == '/') s += 3;
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%s", i ? sep : "", s);
  }
}

/* STOP's affected_network from the access types the incident hit (KP_ACCESS_BIT_*) */
static const char *stop_network(unsigned hit) {
  bool m = hit & KP_ACCESS_BIT_MOBILE, f = hit & KP_ACCESS_BIT_FIXED;
  return m && f ? "Mobile, Broadband" : m ? "Mobile" : f ? "Broadband" : "";
}

kp_status_t kp_export_stop(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out) {
  kp_status_t st = KP_OK;
  for (size_t i = 0; i < NCOLS; i++) csv_field(out, stop_cols[i], i == 0, &st);
  if (st == KP_OK) st = kp_buf_puts(out, "\r\n");
  static const char *const known[] = {"facebook_messenger", "twitter", "whatsapp", "instagram", "telegram"};
  for (size_t k = 0; k < kp_incset_count(is); k++) {
    const kp_incident_t *c = kp_incset_at(is, k);
    if (!kp_report_selects(o, c)) continue;
    bool full = c->type == KP_INC_FULL || c->type == KP_INC_REGIONAL || c->type == KP_INC_NETWORK ||
                c->type == KP_INC_PARTIAL;
    bool svc = c->type == KP_INC_SERVICE || (c->type == KP_INC_THROTTLING && c->nservices);
    char sd[16], ed[16], du[24], area[512], nets[512], other[512], ev[1024], link[64];
    mdy(c->start, sd, sizeof sd);
    if (c->ongoing) ed[0] = 0;
    else mdy(c->end, ed, sizeof ed);
    if (c->curfew) snprintf(du, sizeof du, "Curfew Style");
    else snprintf(du, sizeof du, "%lld", (long long)((c->end - c->start + 86399) / 86400));
    joined(area, sizeof area, c->regions, c->nregions, "; ", true);
    joined(nets, sizeof nets, c->asns, c->nasns, "; ", false);
    other[0] = 0;
    for (size_t i = 0; i < c->nservices; i++) {
      bool k5 = false;
      for (size_t j = 0; j < 5; j++) k5 |= !strcmp(c->services[i], known[j]);
      if (k5) continue;
      size_t l = strlen(other);
      snprintf(other + l, sizeof other - l, "%s%s", l ? "; " : "", c->services[i]);
    }
    /* shutdown_extent keeps Access Now's vocabulary ("Full network" only at >= KP_INC_FULL_SHARE,
       else "Partial network"); how much went dark leads the event text instead */
    size_t el = 0;
    if ((c->type == KP_INC_FULL || c->type == KP_INC_PARTIAL) && c->down_share >= 0)
      el = (size_t)snprintf(ev, sizeof ev, "%.0f%% of the country's blocks down; ", c->down_share * 100);
    joined(ev + el, sizeof ev - el, c->findings, c->nfindings, "; ", false);
    snprintf(link, sizeof link, "keepon:%s", c->id);
    const char *yes_full = full ? "Yes" : "No";
    const char *val[NCOLS] = {0};
    val[0] = "Known";
    val[1] = sd;
    val[2] = ed;
    val[3] = du;
    val[4] = c->ongoing ? "Ongoing" : "Ended";
    val[5] = kp_country_name(c->cc);
    val[6] = c->type == KP_INC_REGIONAL ? "Regional" : "National";
    val[7] = area;
    val[8] = c->type == KP_INC_THROTTLING ? "Throttle" : "Shutdown";
    val[9] = stop_network(c->access_affected);
    val[10] = svc ? "Service-based" : c->type == KP_INC_PARTIAL ? "Partial network" : "Full network";
    val[15] = "keepon measurements";
    val[16] = link;
    val[19] = full ? yes_full : has_svc(c, "facebook_messenger") ? "Yes" : "No";
    val[20] = full ? yes_full : has_svc(c, "twitter") ? "Yes" : "No";
    val[21] = full ? yes_full : has_svc(c, "whatsapp") ? "Yes" : "No";
    val[22] = full ? yes_full : has_svc(c, "instagram") ? "Yes" : "No";
    val[23] = full ? yes_full : has_svc(c, "telegram") ? "Yes" : "No";
    val[24] = full ? "All" : other;
    val[27] = nets;
    val[33] = ev;
    for (size_t i = 0; i < NCOLS; i++) csv_field(out, val[i] ? val[i] : "", i == 0, &st);
    if (st == KP_OK) st = kp_buf_puts(out, "\r\n");
  }
  return st;
}

kp_status_t kp_export_json(const kp_report_opts_t *o, const kp_incset_t *is, kp_buf_t *out) {
  kp_jw_t w;
  kp_jw_init(&w, out);
  kp_jw_arr_begin(&w);
  for (size_t k = 0; k < kp_incset_count(is); k++)
    if (kp_report_selects(o, kp_incset_at(is, k))) kp_incident_json(kp_incset_at(is, k), &w);
  kp_jw_arr_end(&w);
  if (w.st != KP_OK) return w.st;
  return kp_buf_putc(out, '\n');
}
