// synth.js: synthetic observatory data for the dashboard test (a Kazakhstan-like week).
// usage: node synth.js OUTDIR [SEED]
// Writes OUTDIR/signals.jsonl (signal points, docs/formats.md), OUTDIR/incidents.json (an array
// in detect's incident shape) and OUTDIR/entities.json (ASN -> country/region metadata).
// Values are pseudo-random around a level (seeded), with the outage windows cut out, so the
// browser test sees real series, not fixtures.
'use strict';
const fs = require('fs');
const path = require('path');
const [out, seedArg] = process.argv.slice(2);
let seed = Number(seedArg || 7) >>> 0 || 7;
function rnd() { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 4294967296; }
const T0 = Date.UTC(2022, 0, 4, 0, 0) / 1000, T1 = Date.UTC(2022, 0, 8, 0, 0) / 1000;
const at = (d, h, m) => Date.UTC(2022, 0, d, h, m) / 1000;
const down = [[at(5, 10, 30), at(5, 17, 30)], [at(5, 22, 0), at(6, 10, 30)], [at(6, 14, 0), at(7, 2, 30)], [at(7, 6, 0), T1]];
const blocked = at(4, 14, 30);
const isDown = (t) => down.some(([a, b]) => t >= a && t < b);
const lines = [];
function sig(type, code, ds, step, f, extra) {
  for (let t = T0; t < T1; t += step) {
    const v = f(t);
    lines.push(JSON.stringify(Object.assign({ type: 'signal', entity_type: type, entity_code: code, datasource: ds, t, step,
      value: v === null ? null : Math.round(v) }, extra || {})));
  }
}
const ents = [['country', 'KZ', 12587, null], ['region', 'KZ/Almaty', 3100, 'KZ'], ['region', 'KZ/Astana', 1900, 'KZ'],
  ['asn', 'AS9198', 4200, 'KZ'], ['asn', 'AS21299', 800, 'KZ']];
for (const [type, code, n, cc] of ents) {
  const extra = cc ? { cc } : undefined;
  sig(type, code, 'ping-slash24', 600, (t) => (isDown(t) ? n * (0.02 + 0.02 * rnd()) : n * (0.9 + 0.05 * rnd())), extra);
  sig(type, code, 'bgp', 300, () => n, extra);
}
for (const app of ['whatsapp', 'telegram', 'signal', 'facebook_messenger']) {
  const appBlocked = app !== 'facebook_messenger';
  sig('country', 'KZ', 'probe-' + app, 3600, (t) => {
    if (isDown(t)) return rnd() < 0.3 ? null : 1000;
    if (t >= blocked && appBlocked) return 850 + 150 * rnd();
    return 60 * rnd();
  });
}
/* detect's access split (docs/detect.md "Mobile and fixed"): mobile's network gone from the app
   blocking on, fixed only in the cut; deterministic (no rnd(): the draws above stay as they were) */
sig('access', 'KZ/mobile', 'access-down', 3600, (t) => (t >= blocked ? 1000 : 0), { cc: 'KZ', n: 2 });
sig('access', 'KZ/fixed', 'access-down', 3600, (t) => (isDown(t) ? 1000 : 0), { cc: 'KZ', n: 4 });
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'signals.jsonl'), lines.join('\n') + '\n');
const iso = (t) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
/* detect's incident record (src/detect/incident.c): ISO start/end + *_ts, techniques as a map */
const incidents = [
  { id: 'KZ-full-1', cc: 'KZ', type: 'full shutdown', level: 'critical', start: iso(down[0][0]), end: iso(T1),
    start_ts: down[0][0], end_ts: T1, ongoing: true, curfew: true, daily_fixed: false,
    sources: ['ping-slash24', 'probe-whatsapp'], regions: [], asns: [], services: [], techniques: {},
    windows: down.map(([a, b]) => ({ start: iso(a), end: iso(b) })),
    findings: ['BGP visibility unchanged while active probing dropped'], events: [], evidence: [] },
  { id: 'KZ-service-1', cc: 'KZ', type: 'service blocking', level: 'critical', start: iso(blocked), end: iso(down[0][0]),
    start_ts: blocked, end_ts: down[0][0], ongoing: false, curfew: false, daily_fixed: false,
    sources: ['probe-whatsapp', 'probe-telegram', 'probe-signal'], regions: [], asns: [],
    services: ['whatsapp', 'telegram', 'signal'], techniques: { tls_sni_reset: 20, tcp_reset: 20, dns_forged: 18 },
    service_techniques: { whatsapp: { tls_sni_reset: 20 }, telegram: { tcp_reset: 20 }, signal: { dns_forged: 18 } },
    windows: [], findings: [], events: [], evidence: [] },
  /* an early-warning alert as `keepon detect --risk` writes it (src/detect/risk.c kp_risk_json) */
  { id: 'KZ-risk-1', type: 'shutdown risk', level: 'shutdown risk', cc: 'KZ', start: iso(blocked), end: iso(down[0][0]),
    start_ts: blocked, end_ts: down[0][0], precursors: ['messaging apps blocked', 'new DNS tampering'],
    first: 'messaging apps blocked', services: ['whatsapp', 'telegram', 'signal'], incidents: ['KZ-service-1'],
    followed_by: 'KZ-full-1', lead_s: down[0][0] - blocked },
];
fs.writeFileSync(path.join(out, 'incidents.json'), JSON.stringify(incidents));
fs.writeFileSync(path.join(out, 'entities.json'), JSON.stringify([
  { type: 'country', code: 'KZ', from: T0, until: T1 },
  { type: 'region', code: 'KZ/Almaty', cc: 'KZ' }, { type: 'region', code: 'KZ/Astana', cc: 'KZ' },
  { type: 'asn', code: 'AS9198', cc: 'KZ', region: 'KZ/Almaty' }, { type: 'asn', code: 'AS21299', cc: 'KZ' }]));
console.log(lines.length + ' signal points, ' + incidents.length + ' incidents');
