/*
 * svg.c: inline SVG plots for reports.
 *
 * A series plot maps [from, until) onto at most PW pixel columns; each column
 * shows the MINIMUM of its bins, so a short outage stays visible however many
 * bins share a column. Missing bins break the line. Event windows are shaded
 * first, so the line is drawn over them. Midnight (UTC) grid lines and labels
 * are drawn when the span is at most 60 days. All numbers use fixed "%.1f" so
 * the output is deterministic; all text is XML-escaped (entity names come from
 * untrusted input).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report/report.h"
#include "report/internal.h"

#define W 720
#define H 170
#define ML 60
#define MR 10
#define MT 22
#define MB 28
#define PW (W - ML - MR)
#define PH (H - MT - MB)

kp_status_t kp_rep_esc(kp_buf_t *o, const char *s) {
  kp_status_t st = KP_OK;
  for (; *s && st == KP_OK; s++) {
    switch (*s) {
    case '&': st = kp_buf_puts(o, "&amp;"); break;
    case '<': st = kp_buf_puts(o, "&lt;"); break;
    case '>': st = kp_buf_puts(o, "&gt;"); break;
    case '"': st = kp_buf_puts(o, "&quot;"); break;
    case '\'': st = kp_buf_puts(o, "&#39;"); break;
    default: st = kp_buf_putc(o, *s);
    }
  }
  return st;
}

/* the formats are the literals of this module's callers */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void kp_rep_time(int64_t t, const char *fmt, char *out, size_t cap) {
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  if (strftime(out, cap, fmt, &tm) == 0 && cap) out[0] = 0;
}
#pragma GCC diagnostic pop

static double xof(int64_t t, int64_t from, int64_t until) {
  return ML + (double)(t - from) / (double)(until - from) * PW;
}

static void fmt_num(double v, char *out, size_t cap) {
  if (fabs(v) >= 1e6) snprintf(out, cap, "%.2fM", v / 1e6);
  else if (fabs(v) >= 1e4) snprintf(out, cap, "%.1fk", v / 1e3);
  else snprintf(out, cap, "%.0f", v);
}

kp_status_t kp_report_svg(const kp_series_t *se, int64_t from, int64_t until, const kp_window_t *shade,
                          size_t nshade, kp_buf_t *o) {
  const kp_rep_axis_t ax = {.unit = NULL, .time_axis = "time (UTC)", .scale = 1, .ymax = 0};
  return kp_rep_svg(se, from, until, shade, nshade, &ax, o);
}

/* Layout: bold "entity · datasource" top left, the y unit top right (every plot says what
 * its y axis counts), y range labels at the left, dates below, the time axis' name and
 * the window's end (UTC) bottom right. */
kp_status_t kp_rep_svg(const kp_series_t *se, int64_t from, int64_t until, const kp_window_t *shade, size_t nshade,
                       const kp_rep_axis_t *ax, kp_buf_t *o) {
  if (until <= from) return KP_ERR_INVAL;
  char a[64], b[64];
  double ymax = 0, k = ax->scale > 0 ? ax->scale : 1;
  size_t b0 = from > se->t0 ? (size_t)((from - se->t0) / se->step) : 0;
  for (size_t i = b0; i < se->n && se->t0 + (int64_t)i * se->step < until; i++)
    if (!isnan(se->v[i]) && se->v[i] * k > ymax) ymax = se->v[i] * k;
  if (ax->ymax > 0) ymax = ax->ymax;
  if (ymax <= 0) ymax = 1;
  kp_buf_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"sans-serif\" font-size=\"11\" role=\"img\">",
                W, H, W, H);
  kp_buf_puts(o, "<title>");
  kp_rep_esc(o, se->entity_type);
  kp_buf_putc(o, ' ');
  kp_rep_esc(o, se->entity_code);
  kp_buf_puts(o, " ");
  kp_rep_esc(o, se->datasource);
  kp_buf_puts(o, "</title>");
  kp_buf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"#ccc\"/>", ML, MT, PW, PH);
  for (size_t i = 0; i < nshade; i++) {
    int64_t s0 = shade[i].start > from ? shade[i].start : from, s1 = shade[i].end < until ? shade[i].end : until;
    if (s1 <= s0) continue;
    kp_buf_printf(o, "<rect class=\"ev\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f3b0b0\" fill-opacity=\"0.6\"/>",
                  xof(s0, from, until), MT, xof(s1, from, until) - xof(s0, from, until), PH);
  }
  if (until - from <= 60 * 86400) { /* midnight grid */
    int64_t d = (from + 86399) / 86400 * 86400;
    int64_t every = until - from > 20 * 86400 ? 7 * 86400 : 86400;
    for (; d < until; d += every) {
      double x = xof(d, from, until);
      kp_rep_time(d, "%m-%d", a, sizeof a);
      kp_buf_printf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%s</text>",
                    x, MT, x, MT + PH, x, H - 14, a);
    }
  }
  /* the line: one column = min of its bins */
  kp_buf_puts(o, "<path fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.2\" d=\"");
  bool pen = false;
  for (int c = 0; c < PW; c++) {
    int64_t ta = from + (until - from) * c / PW, tb = from + (until - from) * (c + 1) / PW;
    double mn = NAN;
    int64_t ia = (ta - se->t0) / se->step, ib = (tb - se->t0 + se->step - 1) / se->step;
    if (ib <= ia) ib = ia + 1;
    for (int64_t i = ia; i < ib; i++) {
      if (i < 0 || (size_t)i >= se->n || isnan(se->v[i])) continue;
      if (isnan(mn) || se->v[i] < mn) mn = se->v[i];
    }
    if (isnan(mn)) { pen = false; continue; }
    double y = MT + PH - fmin(mn * k, ymax) / ymax * PH;
    kp_buf_printf(o, "%c%d %.1f ", pen ? 'L' : 'M', ML + c, y);
    pen = true;
  }
  kp_buf_puts(o, "\"/>");
  fmt_num(ymax, b, sizeof b);
  kp_buf_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#555\">%s</text>", ML - 4, MT + 9, b);
  kp_buf_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#555\">0</text>", ML - 4, MT + PH);
  kp_rep_time(from, "%Y-%m-%d %H:%M", a, sizeof a);
  kp_rep_time(until, "%Y-%m-%d %H:%M", b, sizeof b);
  kp_buf_printf(o, "<text x=\"%d\" y=\"%d\" fill=\"#555\">%s</text>", ML, H - 2, a);
  kp_buf_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#555\">", W - MR, H - 2);
  if (ax->time_axis) {
    kp_rep_esc(o, ax->time_axis);
    kp_buf_puts(o, " \xc2\xb7 ");
  }
  kp_buf_printf(o, "%s UTC</text>", b);
  kp_buf_printf(o, "<text x=\"%d\" y=\"14\" font-weight=\"bold\">", ML);
  kp_rep_esc(o, se->entity_type);
  kp_buf_putc(o, ' ');
  kp_rep_esc(o, se->entity_code);
  kp_buf_puts(o, " \xc2\xb7 ");
  kp_rep_esc(o, se->datasource);
  kp_buf_puts(o, "</text>");
  if (ax->unit) {
    kp_buf_printf(o, "<text class=\"unit\" x=\"%d\" y=\"14\" text-anchor=\"end\" fill=\"#555\">", W - MR);
    kp_rep_esc(o, ax->unit);
    kp_buf_puts(o, "</text>");
  }
  return kp_buf_puts(o, "</svg>");
}

kp_status_t kp_rep_timeline_svg(const kp_incident_t *const *inc, size_t n, int64_t from, int64_t until,
                                const char *title, const char *const *label, kp_buf_t *o) {
  if (until <= from) return KP_ERR_INVAL;
  int lane = 20, h = MT + (int)n * lane + MB;
  static const char *const col[] = {"#b22222", "#d2691e", "#daa520", "#6a5acd", "#2e8b57"};
  kp_buf_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"sans-serif\" font-size=\"11\" role=\"img\"><title>",
                W, h, W, h);
  kp_rep_esc(o, title);
  kp_buf_puts(o, "</title>");
  char a[64];
  if (until - from <= 60 * 86400) {
    for (int64_t d = (from + 86399) / 86400 * 86400; d < until; d += 86400) {
      double x = xof(d, from, until);
      kp_rep_time(d, "%m-%d", a, sizeof a);
      kp_buf_printf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%s</text>",
                    x, MT - 6, x, h - MB, x, h - 12, a);
    }
  }
  for (size_t i = 0; i < n; i++) {
    const kp_incident_t *c = inc[i];
    int y = MT + (int)i * lane;
    for (size_t k = 0; k < c->nwindows; k++) {
      int64_t s0 = c->windows[k].start > from ? c->windows[k].start : from;
      int64_t s1 = c->windows[k].end < until ? c->windows[k].end : until;
      if (s1 <= s0) continue;
      kp_buf_printf(o, "<rect class=\"win\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>",
                    xof(s0, from, until), y + 3, fmax(1.0, xof(s1, from, until) - xof(s0, from, until)), lane - 6,
                    col[(unsigned)c->type % (sizeof col / sizeof *col)]);
    }
    kp_buf_printf(o, "<text x=\"4\" y=\"%d\" fill=\"#333\">", y + 14);
    kp_rep_esc(o, label[i]);
    kp_buf_puts(o, "</text>");
  }
  return kp_buf_puts(o, "</svg>");
}
