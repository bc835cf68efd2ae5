/*
 * keepon dashboard (vanilla JS, no dependencies; plots are hand-drawn SVG).
 *
 * Data flow: GET /api/v1/entities (tree country -> region -> ASN, plus the time range),
 * GET /api/v1/incidents (detect's incidents, every entity) -- both paged, every page
 * followed (getPages; entity pages merged by mergeTree) -- and per selected entity
 * GET /api/v1/signals/raw/TYPE/CODE?from=&until= (IODA-shaped series). Everything else is
 * computed here: the plots with incidents/events shaded, the incident table, and the blocking
 * matrix (rows: probe-<app> signals; columns: time bins; colour: failure rate; label: the
 * techniques named by blocking incidents overlapping the bin). A country also gets one line per
 * access type, GET /api/v1/signals/raw/access/CC%2Fmobile (and fixed): detect's access-down
 * series, the share of that access type's measurements that found no network (docs/detect.md
 * "Mobile and fixed"), titled "access-down (mobile)".
 *
 * State: {tree, incidents, path:[node...]}; the URL hash mirrors the path (#KZ/KZ%2FAlmaty/AS9198)
 * so a view can be linked. Every fetch failure is shown in #status (never thrown), so the page
 * logs no console errors on an empty server.
 */
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const SVGNS = 'http://www.w3.org/2000/svg';
  const state = { tree: [], from: 0, until: 0, incidents: [], path: [] };

  function el(tag, attrs, text) {
    const e = tag.startsWith('svg:') ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function pad(n) { return n < 10 ? '0' + n : '' + n; }
  function fmtTime(t) {
    if (t === null || t === undefined || !isFinite(t)) return 'ongoing';
    const d = new Date(t * 1000);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
  }
  function fmtDur(s) {
    if (!isFinite(s)) return '';
    const h = Math.floor(s / 3600), m = Math.round((s % 3600) / 60);
    return h ? h + ' h ' + pad(m) + ' min' : m + ' min';
  }
  function toTime(v) {
    if (v === null || v === undefined) return null;
    if (typeof v === 'number') return v > 1e12 ? v / 1000 : v;
    const p = Date.parse(String(v).replace(' ', 'T').replace(/(T\d\d:\d\d(:\d\d)?)$/, '$1Z'));
    return isNaN(p) ? null : p / 1000;
  }
  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return r.json();
  }
  function status(msg) { $('status').textContent = msg || ''; }
  /* a paged listing (metadata.next_offset): every page, each handed to add(page) */
  async function getPages(url, add) {
    let doc = await getJSON(url);
    add(doc);
    for (let n = 0; doc.metadata && doc.metadata.next_offset !== undefined && n < 10000; n++) {
      doc = await getJSON(url + '?offset=' + doc.metadata.next_offset);
      add(doc);
    }
  }
  /* an entities page repeats its first node's ancestors: merge by (type, code) at each level */
  function mergeTree(into, nodes) {
    for (const n of nodes || []) {
      const last = into[into.length - 1];
      if (last && last.type === n.type && last.code === n.code) mergeTree((last.children = last.children || []), n.children);
      else into.push(n);
    }
  }

  /* ---- incidents: accept detect's record with a few spellings of each field ---- */
  function list(v) {
    if (v === undefined || v === null) return [];
    return Array.isArray(v) ? v : [v];
  }
  function names(v) {
    /* ["a","b"], [{"name":"a","count":3}], {"a":3} -> ["a","b"] */
    if (v && typeof v === 'object' && !Array.isArray(v)) return Object.keys(v);
    return list(v).map((x) => (x && typeof x === 'object' ? x.name ?? x.technique ?? x.code ?? '' : String(x))).filter(Boolean);
  }
  function normIncident(i) {
    const ent = i.entity || {};
    const events = list(i.events).map((e) => ({
      datasource: e.datasource || e.signal || '',
      entity_type: e.entity_type || '', entity_code: e.entity_code || '',
      start: toTime(e.start ?? e.begin ?? e.from ?? e.t_start),
      end: toTime(e.end ?? e.until ?? e.stop ?? e.t_end),
    }));
    const apps = names(i.services ?? i.apps ?? i.targets ?? i.app);
    const techs = names(i.techniques ?? i.technique);
    const sig = names(i.sources ?? i.datasources ?? i.signals ?? i.datasource);
    for (const e of events) if (e.datasource && !sig.includes(e.datasource)) sig.push(e.datasource);
    const inc = {
      id: i.id ?? i.incident_id ?? '',
      entity_type: i.entity_type || ent.type || (i.cc ? 'country' : ''),
      entity_code: i.entity_code || ent.code || i.cc || '',
      cc: i.cc || '',
      regions: names(i.regions), asns: names(i.asns),
      start: toTime(i.start ?? i.begin ?? i.from ?? i.t_start ?? i.start_time),
      end: i.ongoing ? null : toTime(i.end ?? i.until ?? i.stop ?? i.t_end ?? i.end_time),
      kind: String(i.type || i.kind || i.category || (apps.length ? 'service' : 'outage')),
      signals: sig, apps, techniques: techs, events,
      /* which app was blocked how ({"whatsapp": {"tls_sni_reset": 12}}); absent in older records */
      appTechs: Object.fromEntries(Object.entries(i.service_techniques && typeof i.service_techniques === 'object'
        ? i.service_techniques : {}).map(([k, v]) => [k, names(v)])),
      /* curfew incidents list their down windows: shade those, not the whole span */
      windows: list(i.windows).map((w) => ({ start: toTime(w.start ?? w[0]), end: toTime(w.end ?? w[1]) }))
        .filter((w) => w.start !== null),
    };
    inc.blocking = inc.apps.length > 0 || /service|throttl|block/.test(inc.kind);
    /* an early-warning alert (keepon detect --risk): say which precursors fired, first one first */
    inc.risk = i.level === 'shutdown risk';
    if (inc.risk) {
      const pre = names(i.precursors);
      inc.kind = 'shutdown risk: ' + pre.join(', ') + (i.first ? ' (first: ' + i.first + ')' : '') +
        (i.followed_by ? '; followed by ' + i.followed_by : '');
      inc.blocking = true; /* shaded on the probe plots, where its precursors show */
    }
    return inc;
  }

  /* ---- entity tree ---- */
  function nodeKey(n) { return n.type + ':' + n.code; }
  function descendants(n, out) {
    out.add(nodeKey(n));
    for (const c of n.children || []) descendants(c, out);
    return out;
  }
  /* an incident concerns a node when it names the node or one of its descendants */
  function incidentsFor(n) {
    const keys = descendants(n, new Set());
    return state.incidents.filter((i) => {
      if (keys.has(i.entity_type + ':' + i.entity_code)) return true;
      if (i.regions.some((r) => keys.has('region:' + r)) || i.asns.some((a) => keys.has('asn:' + a))) return true;
      /* a country-wide incident (no regions/asns named) also covers every region and network in it */
      if (i.cc && !i.regions.length && !i.asns.length) {
        if (n.type === 'country') return i.cc === n.code;
        return state.path.length > 0 && state.path[0].code === i.cc;
      }
      return n.type === 'country' && i.entity_code.startsWith(n.code + '/');
    });
  }
  function label(n) {
    return n.name && n.name !== n.code ? n.code + ' — ' + n.name : n.code;
  }

  function renderPicker() {
    const ul = $('entities');
    ul.textContent = '';
    const cur = state.path[state.path.length - 1];
    const items = cur ? (cur.children || []) : state.tree;
    $('picker-title').textContent = cur ? (items.length ? 'Inside ' + cur.code : 'No regions or networks below ' + cur.code) : 'Countries';
    $('picker-empty').hidden = state.tree.length > 0;
    for (const n of items) {
      const li = el('li');
      const a = el('a', { 'data-type': n.type, 'data-code': n.code, href: '#' }, label(n));
      a.appendChild(el('span', { class: 'kind' }, n.type));
      const nInc = incidentsFor(n).length;
      if (nInc) a.appendChild(el('span', { class: 'warn' }, nInc + ' incident' + (nInc > 1 ? 's' : '')));
      a.addEventListener('click', (ev) => { ev.preventDefault(); select(state.path.concat([n])); });
      li.appendChild(a);
      ul.appendChild(li);
    }
    const nav = $('crumbs');
    nav.textContent = '';
    const all = el('a', { href: '#', 'data-level': '0' }, 'all');
    all.addEventListener('click', (ev) => { ev.preventDefault(); select([]); });
    nav.appendChild(all);
    state.path.forEach((n, i) => {
      nav.appendChild(el('span', { class: 'sep' }, '›'));
      const a = el('a', { href: '#', 'data-level': String(i + 1) }, n.code);
      a.addEventListener('click', (ev) => { ev.preventDefault(); select(state.path.slice(0, i + 1)); });
      nav.appendChild(a);
    });
  }

  /* ---- signals ---- */
  function flattenSeries(doc) {
    const out = [];
    (function walk(v) {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        if (Array.isArray(v.values) && v.datasource) out.push(v);
        else if (v.data !== undefined) walk(v.data);
      }
    })(doc);
    return out.map((s) => {
      const from = toTime(s.from), step = Number(s.step || s.nativeStep || 300);
      const pts = [];
      s.values.forEach((v, k) => {
        const val = Array.isArray(v) ? v[0] : v;
        pts.push([from + k * step, val === null || val === undefined ? null : Number(val)]);
      });
      return { datasource: String(s.datasource), step, points: pts };
    });
  }
  const ORDER = ['ping-slash24', 'bgp', 'bgp-updates'];
  function dsRank(d) { const i = ORDER.indexOf(d); return i < 0 ? ORDER.length + (d.startsWith('probe-') ? 0 : 1) : i; }

  function tickLabel(v, ymax) {
    if (ymax >= 20) return String(Math.round(v));
    return String(Math.round(v * 100) / 100);
  }
  /* what each plot's y axis counts (docs/formats.md); probe-* values are failures per 1000
     measurements of the bin, drawn as a percentage */
  function unitOf(ds) {
    if (ds === 'ping-slash24') return { label: '/24 address blocks answering ping (count)', scale: 1, ymax: 0 };
    if (ds === 'bgp') return { label: '/24 address blocks visible in BGP (count)', scale: 1, ymax: 0 };
    if (ds === 'bgp-updates') return { label: 'BGP updates per bin (announcements + withdrawals)', scale: 1, ymax: 0 };
    if (ds.startsWith('probe-')) return { label: 'failed measurements (% of the bin\'s measurements)', scale: 0.1, ymax: 100 };
    if (ds === 'vantage-agreement') return { label: '/24 blocks on which every healthy watch vantage agrees (%)', scale: 1, ymax: 100 };
    if (ds === 'access-down') return { label: 'measurements that found no network (% of this access type\'s measurements in the bin)', scale: 0.1, ymax: 100 };
    return { label: 'value as reported by the source (no unit given)', scale: 1, ymax: 0 };
  }
  function drawPlot(series0, incs, from, until, node) {
    const unit = unitOf(series0.datasource);
    const series = Object.assign({}, series0, {
      points: series0.points.map((p) => [p[0], p[1] === null || !isFinite(p[1]) ? p[1] : p[1] * unit.scale]) });
    const box = el('div', { class: 'plot', 'data-datasource': series.datasource });
    if (series.access) box.setAttribute('data-access', series.access);
    const title = el('div', { class: 'title' }, series.datasource + (series.access ? ' (' + series.access + ')' : ''));
    title.appendChild(el('span', { class: 'unit' }, ' \u00b7 ' + unit.label));
    box.appendChild(title);
    const W = Math.max(600, Math.floor(($('plots').clientWidth || 900) - 10)), H = 150;
    const L = 48, R = 8, T = 8, B = 20;
    const pts = series.points.filter((p) => p[1] !== null && isFinite(p[1]));
    let ymax = unit.ymax;
    if (!ymax) for (const p of pts) ymax = Math.max(ymax, p[1]);
    if (ymax <= 0) ymax = 1;
    const span = Math.max(1, until - from);
    const x = (t) => L + ((t - from) / span) * (W - L - R);
    const y = (v) => T + (1 - v / ymax) * (H - T - B);
    const svg = el('svg:svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none',
      'data-points': String(pts.length), role: 'img', 'aria-label': series.datasource });
    for (let k = 0; k <= 4; k++) {
      const v = (ymax * k) / 4;
      svg.appendChild(el('svg:line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.appendChild(el('svg:text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, tickLabel(v, ymax)));
    }
    /* shading: every incident of the entity lightly, the events of this very signal darker */
    for (const i of incs) {
      if (i.blocking && !series.datasource.startsWith('probe-')) continue; /* app blocking: only on probe plots */
      const spans = i.windows.length ? i.windows : [{ start: i.start, end: i.end }];
      for (const w of spans) {
        const s = Math.max(from, w.start ?? from), e = Math.min(until, w.end ?? until);
        if (e > s) svg.appendChild(el('svg:rect', { class: 'event', x: x(s), y: T, width: Math.max(1, x(e) - x(s)), height: H - T - B,
          'data-incident': String(i.id) }));
      }
      /* this signal's own events, for this very entity (an incident lists its events on every
         entity); each span once */
      const seen = new Set();
      for (const ev of i.events) {
        if (ev.datasource !== series.datasource) continue;
        if (ev.entity_code && node && (ev.entity_type !== node.type || ev.entity_code !== node.code)) continue;
        const key = ev.start + ':' + ev.end;
        if (seen.has(key)) continue;
        seen.add(key);
        const s2 = Math.max(from, ev.start ?? from), e2 = Math.min(until, ev.end ?? until);
        if (e2 > s2) svg.appendChild(el('svg:rect', { class: 'event event-own', x: x(s2), y: T, width: Math.max(1, x(e2) - x(s2)), height: H - T - B }));
      }
    }
    svg.appendChild(el('svg:line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    svg.appendChild(el('svg:line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }));
    const ticks = 6;
    for (let k = 0; k <= ticks; k++) {
      const t = from + (span * k) / ticks;
      svg.appendChild(el('svg:text', { x: x(t), y: H - 5, 'text-anchor': k === 0 ? 'start' : k === ticks ? 'end' : 'middle' }, fmtTime(t).slice(5) + (k === ticks ? ' UTC' : '')));
    }
    /* the line breaks at null values (no data is not zero) */
    let d = '', pen = false;
    for (const p of series.points) {
      if (p[1] === null || !isFinite(p[1])) { pen = false; continue; }
      d += (pen ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1);
      pen = true;
    }
    if (d) svg.appendChild(el('svg:path', { class: 'series', d }));
    if (pts.length <= 400) for (const p of pts) svg.appendChild(el('svg:circle', { class: 'pt', cx: x(p[0]), cy: y(p[1]), r: 1.6 }));
    box.appendChild(svg);
    return box;
  }

  /* ---- blocking matrix ---- */
  const TECH_ABBR = { dns_forged: 'DNS', dns_nxdomain: 'NX', dns_injected: 'DNSi', ip_blackhole: 'IP', tcp_reset: 'RST',
    tls_sni_reset: 'SNI', tls_sni_drop: 'SNId', http_blockpage: 'BP', throttled: 'THR', network_down: 'DOWN' };
  function drawMatrix(seriesList, incs, from, until) {
    const box = $('matrix');
    box.textContent = '';
    const apps = seriesList.filter((s) => s.datasource.startsWith('probe-'));
    if (!apps.length) { box.appendChild(el('p', { class: 'muted' }, 'No probe signals for this entity.')); return; }
    const span = Math.max(1, until - from);
    /* a bin holds at least one probe bin (no empty columns between measurements), 1 h minimum,
       doubled until there are at most 60 columns */
    let bin = Math.max(3600, ...apps.map((s) => s.step || 0));
    while (span / bin > 60) bin *= 2;
    const nb = Math.ceil(span / bin);
    const tbl = el('table', { class: 'matrix' });
    const hr = el('tr');
    hr.appendChild(el('th', {}, 'app'));
    for (let b = 0; b < nb; b++) hr.appendChild(el('th', { class: 'bin' }, b % 2 ? '' : fmtTime(from + b * bin).slice(5)));
    tbl.appendChild(hr);
    for (const s of apps) {
      const app = s.datasource.slice(6);
      const tr = el('tr', { 'data-app': app });
      tr.appendChild(el('th', { class: 'app' }, app));
      const sum = new Array(nb).fill(0), cnt = new Array(nb).fill(0);
      for (const p of s.points) {
        if (p[1] === null || !isFinite(p[1])) continue;
        const b = Math.floor((p[0] - from) / bin);
        if (b >= 0 && b < nb) { sum[b] += p[1]; cnt[b]++; }
      }
      let prev = '';
      for (let b = 0; b < nb; b++) {
        const t0 = from + b * bin, t1 = t0 + bin;
        const techs = new Set();
        for (const i of incs) {
          if (!i.blocking || (i.apps.length && !i.apps.includes(app))) continue;
          if ((i.start ?? from) < t1 && (i.end ?? until) > t0) (i.appTechs[app] ?? i.techniques).forEach((t) => techs.add(t));
        }
        const td = el('td', { class: 'cell' });
        if (cnt[b]) {
          const rate = sum[b] / cnt[b] / 1000; /* probe-* values are failure rate x1000 */
          td.style.background = 'rgba(207,34,46,' + Math.min(0.75, Math.max(0.04, rate * 0.75)).toFixed(2) + ')';
          td.title = app + ' ' + fmtTime(t0) + ': ' + Math.round(rate * 100) + '% failed' + (techs.size ? ' (' + [...techs].join(', ') + ')' : '');
          td.dataset.rate = rate.toFixed(3);
        } else {
          td.style.background = '#eaeef2';
          td.title = app + ' ' + fmtTime(t0) + ': no data';
        }
        /* the label is written once per run of equal labels, so cells stay narrow */
        const lab = [...techs].map((t) => TECH_ABBR[t] || t).join('/');
        td.dataset.tech = lab;
        if (lab && lab !== prev) td.textContent = lab;
        prev = lab;
        tr.appendChild(td);
      }
      tbl.appendChild(tr);
    }
    box.appendChild(tbl);
    const used = new Set();
    incs.forEach((i) => i.techniques.forEach((t) => used.add(t)));
    if (used.size) box.appendChild(el('p', { class: 'muted small' },
      [...used].map((t) => (TECH_ABBR[t] || t) + ' = ' + t).join(' · ')));
  }

  function drawIncidents(incs) {
    const tb = $('incidents').querySelector('tbody');
    tb.textContent = '';
    if (!incs.length) {
      const tr = el('tr');
      tr.appendChild(el('td', { colspan: '8', class: 'muted' }, 'No incidents for this entity.'));
      tb.appendChild(tr);
      return;
    }
    for (const i of incs.slice().sort((a, b) => (a.start ?? 0) - (b.start ?? 0))) {
      const tr = el('tr', { class: i.risk ? 'risk' : i.blocking ? 'blocking' : 'outage' });
      const cells = [fmtTime(i.start), fmtTime(i.end), i.end !== null && i.start !== null ? fmtDur(i.end - i.start) : '',
        [i.entity_code].concat(i.regions, i.asns).filter(Boolean).join(', '), i.kind + (i.windows.length > 1 ? ' (' + i.windows.length + ' windows)' : ''), i.signals.join(', '), i.apps.join(', '), i.techniques.join(', ')];
      for (const c of cells) tr.appendChild(el('td', {}, c));
      tb.appendChild(tr);
    }
  }

  /* ---- view ---- */
  let seq = 0;
  async function select(path) {
    state.path = path;
    location.hash = path.map((n) => encodeURIComponent(n.code)).join('/');
    renderPicker();
    const n = path[path.length - 1];
    $('plots').textContent = '';
    $('matrix').textContent = '';
    if (!n) {
      $('entity-title').textContent = 'Select a country';
      drawIncidents(state.incidents);
      return;
    }
    $('entity-title').textContent = label(n) + ' (' + n.type + ')';
    const incs = incidentsFor(n);
    drawIncidents(incs);
    const my = ++seq;
    const from = state.from, until = state.until;
    status('loading signals…');
    let series = [];
    try {
      const doc = await getJSON('/api/v1/signals/raw/' + encodeURIComponent(n.type) + '/' + encodeURIComponent(n.code) +
        '?from=' + from + '&until=' + until);
      series = flattenSeries(doc);
    } catch (e) {
      if (my === seq) status('signals unavailable: ' + e.message);
      return;
    }
    if (my !== seq) return;
    series.sort((a, b) => dsRank(a.datasource) - dsRank(b.datasource) || a.datasource.localeCompare(b.datasource));
    if (n.type === 'country') { /* mobile and fixed apart: one access-down line per access type */
      for (const acc of ['mobile', 'fixed']) {
        try {
          const d = await getJSON('/api/v1/signals/raw/access/' + encodeURIComponent(n.code + '/' + acc) +
            '?from=' + from + '&until=' + until);
          for (const s of flattenSeries(d)) if (s.datasource === 'access-down') series.push(Object.assign(s, { access: acc }));
        } catch (e) { /* no split for this country: nothing to draw */ }
        if (my !== seq) return;
      }
    }
    status(series.length ? series.length + ' signals, ' + incs.length + ' incidents' : 'no signals for this entity');
    for (const s of series) $('plots').appendChild(drawPlot(s, incs, from, until, n));
    agreementLabel(series);
    drawMatrix(series, incs, from, until);
  }

  /* ---- many watch vantages: agreement on the merged ping-slash24, and vantage faults ---- */
  function agreementLabel(series) {
    const ag = series.find((s) => s.datasource === 'vantage-agreement');
    const box = $('plots').querySelector('[data-datasource="ping-slash24"] .title');
    if (!ag || !box) return;
    const vals = ag.points.map((p) => p[1]).filter((v) => v !== null && isFinite(v));
    if (!vals.length) return;
    const last = vals[vals.length - 1], low = Math.min(...vals);
    box.appendChild(el('span', { class: 'agree muted small', 'data-agree-last': String(last), 'data-agree-min': String(low) },
      ' · merged from several vantages: they agree on ' + Math.round(last) + '% of blocks (lowest ' + Math.round(low) + '%)'));
  }
  /* consecutive fault rounds of one vantage become one span */
  function faultSpans(list) {
    const by = {};
    for (const f of list) (by[f.vantage] = by[f.vantage] || []).push(f);
    const out = [];
    for (const v of Object.keys(by).sort()) {
      const fs = by[v].sort((a, b) => a.t - b.t);
      let cur = null;
      for (const f of fs) {
        if (cur && f.t <= cur.end) { cur.end = f.t + f.step; cur.rounds++; cur.reach = Math.max(cur.reach, f.reach); continue; }
        cur = { vantage: v, start: f.t, end: f.t + f.step, rounds: 1, reach: f.reach };
        out.push(cur);
      }
    }
    return out.sort((a, b) => a.start - b.start);
  }
  function drawFaults(list) {
    const tb = $('vfaults').querySelector('tbody');
    tb.textContent = '';
    const spans = faultSpans(list);
    if (!spans.length) {
      tb.appendChild(el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'No vantage faults in the collector\'s window.')));
      return;
    }
    for (const s of spans) {
      const tr = el('tr', { 'data-vantage': s.vantage });
      tr.appendChild(el('td', {}, s.vantage));
      tr.appendChild(el('td', {}, fmtTime(s.start)));
      tr.appendChild(el('td', {}, fmtTime(s.end)));
      tr.appendChild(el('td', {}, s.rounds + ' round(s), reached ≤ ' + Math.round(100 * s.reach) + '% of what the others reach'));
      tb.appendChild(tr);
    }
  }

  function findPath(codes) {
    const path = [];
    let level = state.tree;
    for (const c of codes) {
      const n = level.find((x) => x.code === c);
      if (!n) break;
      path.push(n);
      level = n.children || [];
    }
    return path;
  }

  async function init() {
    try {
      const tree = [];
      let ent = null;
      await getPages('/api/v1/entities', (d) => { ent = ent || d; mergeTree(tree, d.entities); });
      state.tree = tree;
      const now = Math.floor(Date.now() / 1000);
      state.until = toTime(ent.until) || now;
      state.from = toTime(ent.from) || state.until - 7 * 86400;
      if (state.until <= state.from) state.until = state.from + 3600;
    } catch (e) {
      status('entities unavailable: ' + e.message);
    }
    try {
      const all = [];
      await getPages('/api/v1/incidents', (d) => all.push(...list(d.incidents ?? d)));
      state.incidents = all.map(normIncident);
    } catch (e) {
      status('incidents unavailable: ' + e.message);
    }
    try {
      const vf = [];
      await getPages('/api/v1/watch/faults', (d) => vf.push(...(d.results || [])));
      drawFaults(vf);
    } catch (e) {
      $('vfaults').hidden = true; /* a dashboard without the collector's vantage routes */
    }
    $('range').textContent = state.from ? fmtTime(state.from) + ' → ' + fmtTime(state.until) + ' UTC' : '';
    const codes = location.hash.slice(1).split('/').filter(Boolean).map(decodeURIComponent);
    await select(findPath(codes));
    document.body.dataset.ready = '1';
  }
  window.addEventListener('DOMContentLoaded', init);
})();
