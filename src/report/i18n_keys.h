/*
 * i18n_keys.h: every message key the report sources use, as one X-macro list.
 * Code names a message by its enum value (KP_M_<id>), so it can only use a key
 * declared here; data/i18n/<lang>.tsv must define exactly these keys (the
 * report test fails on a missing or unknown key, or on placeholders {1}..{9}
 * that differ from English's). Internal to src/report.
 */
#ifndef KP_REPORT_I18N_KEYS_H
#define KP_REPORT_I18N_KEYS_H

#define KP_I18N_KEYS(X)                                                                                         \
  X(LANG_NAME, "lang.name")                                                                                     \
  X(TITLE, "title")                                                                                             \
  X(TITLE_CC, "title.country")                                                                                  \
  X(META_WINDOW, "meta.window")                                                                                 \
  X(META_NODATA, "meta.no_data")                                                                                \
  X(META_INCIDENTS, "meta.incidents")                                                                           \
  X(META_GENERATED, "meta.generated")                                                                           \
  X(META_ZONE, "meta.zone")                                                                                     \
  X(META_ZONE_UTC, "meta.zone_utc")                                                                             \
  X(RANGE, "range")                                                                                             \
  X(TIME_PAIR, "time.pair")                                                                                     \
  X(TIME_UTC, "time.utc")                                                                                       \
  X(SEC_SUMMARY, "section.summary")                                                                             \
  X(SEC_TIMELINE, "section.timeline")                                                                           \
  X(SEC_SIGNALS, "section.signals")                                                                             \
  X(SEC_AFFECTED, "section.affected")                                                                           \
  X(SEC_TECHNIQUES, "section.techniques")                                                                       \
  X(SEC_FINDINGS, "section.findings")                                                                           \
  X(SEC_EVIDENCE, "section.evidence")                                                                           \
  X(SUMMARY_NONE, "summary.none")                                                                               \
  X(S_SPAN, "sentence.span")                                                                                    \
  X(S_ONGOING, "sentence.ongoing")                                                                              \
  X(S_CURFEW, "sentence.curfew")                                                                                \
  X(S_SERVICES, "sentence.services")                                                                            \
  X(S_REGIONS, "sentence.regions")                                                                              \
  X(S_NETWORKS, "sentence.networks")                                                                            \
  X(S_SOURCES, "sentence.sources")                                                                              \
  X(NONE, "word.none")                                                                                          \
  X(DUR_DHM, "duration.dhm")                                                                                    \
  X(DUR_HM, "duration.hm")                                                                                      \
  X(TYPE_FULL, "type.full")                                                                                     \
  X(TYPE_REGIONAL, "type.regional")                                                                             \
  X(TYPE_NETWORK, "type.network")                                                                               \
  X(TYPE_SERVICE, "type.service")                                                                               \
  X(TYPE_THROTTLING, "type.throttling")                                                                         \
  X(TYPE_PARTIAL, "type.partial")                                                                               \
  X(LEVEL_NORMAL, "level.normal")                                                                               \
  X(LEVEL_WARNING, "level.warning")                                                                             \
  X(LEVEL_CRITICAL, "level.critical")                                                                           \
  X(TH_ID, "table.id")                                                                                          \
  X(TH_TYPE, "table.type")                                                                                      \
  X(TH_LEVEL, "table.level")                                                                                    \
  X(TH_START, "table.start")                                                                                    \
  X(TH_END, "table.end")                                                                                        \
  X(TH_DURATION, "table.duration")                                                                              \
  X(TH_WINDOWS, "table.windows")                                                                                \
  X(TH_SCOPE, "table.scope")                                                                                    \
  X(TH_SERVICES, "table.services")                                                                              \
  X(TH_CONFIDENCE, "table.confidence")                                                                          \
  X(CELL_CURFEW, "cell.curfew")                                                                                 \
  X(CELL_ONGOING, "cell.ongoing")                                                                               \
  X(CELL_NATIONAL, "cell.national")                                                                             \
  X(CELL_ALL, "cell.all")                                                                                       \
  X(CELL_DOWN_SHARE, "cell.down_share")                                                                         \
  X(WINDOWS_OF, "windows.of")                                                                                   \
  X(WINDOW_ITEM, "windows.item")                                                                                \
  X(AFF_REGIONS, "affected.regions")                                                                            \
  X(AFF_NETWORKS, "affected.networks")                                                                          \
  X(AFF_SERVICES, "affected.services")                                                                          \
  X(AFF_NONE, "affected.none")                                                                                  \
  X(TECH_INCIDENT, "techniques.incident")                                                                       \
  X(TECH_TECHNIQUE, "techniques.technique")                                                                     \
  X(TECH_FAILED, "techniques.failed")                                                                           \
  X(TECH_NONE, "techniques.none")                                                                               \
  X(TECH_UNREACHABLE, "techniques.unreachable")                                                                \
  X(FINDINGS_NONE, "findings.none")                                                                             \
  X(F_BGP_VISIBLE, "finding.bgp_visible")                                                                       \
  X(F_BGP_SPIKE, "finding.bgp_spike")                                                                           \
  X(F_CURFEW_FIXED, "finding.curfew_fixed")                                                                     \
  X(F_CURFEW_VARYING, "finding.curfew_varying")                                                                 \
  X(F_OVERLAPS, "finding.overlaps")                                                                             \
  X(F_NETWORK_UP, "finding.network_up")                                                                         \
  X(EV_EVENT, "evidence.event")                                                                                 \
  X(SIGNALS_NONE, "signals.none")                                                                               \
  X(SIGNALS_NODATA, "signals.no_data")                                                                          \
  X(PLOT_TIMELINE, "plot.timeline")                                                                             \
  X(PLOT_TIME_AXIS, "plot.time_axis")                                                                           \
  X(UNIT_PING, "unit.ping-slash24")                                                                             \
  X(UNIT_BGP, "unit.bgp")                                                                                       \
  X(UNIT_BGP_UPDATES, "unit.bgp-updates")                                                                       \
  X(UNIT_PROBE, "unit.probe")                                                                                   \
  X(UNIT_ACCESS, "unit.access")                                                                                 \
  X(UNIT_OTHER, "unit.other")                                                                                   \
  X(SEC_WARNING, "section.warning")                                                                             \
  X(RISK_LEVEL, "risk.level")                                                                                   \
  X(RISK_ITEM, "risk.item")                                                                                     \
  X(RISK_FOLLOWED, "risk.followed")                                                                             \
  X(RISK_OPEN, "risk.open")                                                                                     \
  X(RISK_NONE, "risk.none")                                                                                     \
  X(PRE_APPS, "precursor.apps")                                                                                 \
  X(PRE_THROTTLING, "precursor.throttling")                                                                     \
  X(PRE_DNS, "precursor.dns")                                                                                   \
  X(SEC_REACH, "section.reach")                                                                                 \
  X(REACH_NONE, "reach.none")                                                                                   \
  X(REACH_INTRO, "reach.intro")                                                                                 \
  X(REACH_ITEM, "reach.item")                                                                                   \
  X(REACH_FULL_CUT, "reach.full_cut")                                                                           \
  X(REACH_WHITELIST, "reach.whitelist")                                                                         \
  X(REACH_NATIONAL, "reach.national_only")                                                                      \
  X(REACH_NOTHING, "reach.nothing")                                                                             \
  X(SEC_ACCESS, "section.access")                                                                               \
  X(ACCESS_NONE, "access.none")                                                                                 \
  X(ACCESS_INTRO, "access.intro")                                                                               \
  X(ACCESS_ITEM, "access.item")                                                                                 \
  X(ACCESS_ITEM_UP, "access.item_up")                                                                           \
  X(ACCESS_BEFORE, "access.before")                                                                             \
  X(ACCESS_SAME, "access.same")                                                                                 \
  X(ACCESS_MOBILE, "access.mobile")                                                                             \
  X(ACCESS_FIXED, "access.fixed")                                                                               \
  X(ACCESS_INCIDENT, "access.incident")                                                                         \
  X(ACCESS_L_MOBILE_ONLY, "access.label.mobile_only")                                                           \
  X(ACCESS_L_FIXED_ONLY, "access.label.fixed_only")                                                             \
  X(ACCESS_L_BOTH, "access.label.both")                                                                         \
  X(ACCESS_L_MOBILE, "access.label.mobile")                                                                     \
  X(ACCESS_L_FIXED, "access.label.fixed")                                                                       \
  X(FOOTER, "footer")

typedef enum kp_msg {
#define KP_X_ENUM(id, key) KP_M_##id,
  KP_I18N_KEYS(KP_X_ENUM)
#undef KP_X_ENUM
  KP_M__COUNT
} kp_msg_t;

#endif
