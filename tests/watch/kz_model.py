#!/usr/bin/env python3
"""Write the Kazakhstan January 2022 sim model (docs/watch.md) and check a watch run against it.

  kz_model.py model OUT.json KZ_CIDR GEO_TABLE     write the model
  kz_model.py check MODEL.json SIGNALS.jsonl       assert every window is recovered within a round

Timeline (UTC, ../shared/data/README.md): blackout from Jan 5 10:30, connectivity windows
Jan 5 17:30-22:00, Jan 6 10:30-14:00, Jan 7 02:30-06:00, Jan 8 02:30-10:00, Jan 9 02:30-06:00,
stable again from Jan 11 02:15 (the run stops before). Plus one regional outage (the synthetic
region Synthetic-03, Jan 5 03:10-05:05) to check region-level detection.
The model starts at Jan 5 00:04 so that round boundaries (600 s) fall 4 minutes off the
windows' half hours: transitions happen mid-round.
"""
import json, sys, calendar, time

def ts(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M"))

START = ts("2022-01-05T00:04")
WINDOWS = [("2022-01-05T17:30", "2022-01-05T22:00"), ("2022-01-06T10:30", "2022-01-06T14:00"),
           ("2022-01-07T02:30", "2022-01-07T06:00"), ("2022-01-08T02:30", "2022-01-08T10:00"),
           ("2022-01-09T02:30", "2022-01-09T06:00")]
BLACKOUT = (ts("2022-01-05T10:30"), ts("2022-01-11T02:15"))
REGION = ("Synthetic-03", ts("2022-01-05T03:10"), ts("2022-01-05T05:05"))
END = ts("2022-01-09T12:04")

def outages():
    """blackout minus the windows, as [start, end) intervals"""
    out, cur = [], BLACKOUT[0]
    for s, e in WINDOWS:
        out.append((cur, ts(s)))
        cur = ts(e)
    out.append((cur, BLACKOUT[1]))
    return out

def model(path, cidr, table):
    region_pfx = [l.split(",")[0] for l in open(table)
                  if not l.startswith("#") and not l.startswith("prefix,") and l.split(",")[2] == REGION[0]]
    m = {"start": START, "seed": 2022, "loss": 0.01, "rtt_ms": 150,
         "blocks": [{"file": cidr, "hosts": 64, "a_min": 0.2, "a_max": 0.95}],
         "outages": [{"cidr": cidr, "start": s, "end": e} for s, e in outages()] +
                    [{"prefixes": region_pfx, "start": REGION[1], "end": REGION[2]}]}
    json.dump(m, open(path, "w"), indent=1)

def check(sig_path, step=600):
    country, region = {}, {}
    for line in open(sig_path):
        r = json.loads(line)
        if r.get("type") != "signal":
            continue
        tot = r["value"] + r["down"] + r["uncertain"]
        if r["entity_type"] == "country" and r["entity_code"] == "KZ":
            country[r["t"]] = r["value"] / tot
        if r["entity_type"] == "region" and r["entity_code"] == "KZ/" + REGION[0]:
            region[r["t"]] = r["value"] / tot
    assert country, "no KZ country signal"
    assert region, "no region signal"
    rounds = sorted(country)
    fails = 0
    # the truth: up if no outage covers the round; a round is "up" by the signal if > 50 % up
    def out_at(t):
        return any(s <= t < e for s, e in outages())
    truth_edges = []
    for s, e in outages():
        if s < END:
            truth_edges.append(("down", s))
        if e < END:
            truth_edges.append(("up", e))
    sig_edges = []
    prev = None
    for t in rounds:
        st = "up" if country[t] > 0.5 else "down"
        if prev is not None and st != prev:
            sig_edges.append((st, t))
        prev = st
    print(f"rounds {len(rounds)}, truth edges {len(truth_edges)}, signal edges {len(sig_edges)}")
    for (k1, t1), (k2, t2) in zip(truth_edges, sig_edges):
        lag = t2 - t1
        ok = k1 == k2 and -step < lag <= step
        print(f"  {k1:4} truth {time.strftime('%m-%d %H:%M', time.gmtime(t1))}  signal round "
              f"{time.strftime('%m-%d %H:%M', time.gmtime(t2))}  lag {lag:+5d} s  {'ok' if ok else 'FAIL'}")
        fails += not ok
    if len(truth_edges) != len(sig_edges):
        print("edge count differs"); fails += 1
    # inside each window (and each blackout piece), rounds fully inside must agree
    for t in rounds:
        if out_at(t) == out_at(t + step - 1):
            want_up = not out_at(t)
            if (country[t] > 0.5) != want_up:
                print(f"  round {t}: up fraction {country[t]:.2f}, truth {'up' if want_up else 'down'}")
                fails += 1
    # the regional outage: region down, country up
    rs = [t for t in sorted(region) if REGION[1] <= t and t + step <= REGION[2]]
    assert rs, "no round inside the regional outage"
    for t in rs:
        if region[t] > 0.1 or country[t] < 0.6:
            print(f"  regional round {t}: region {region[t]:.2f} country {country[t]:.2f}"); fails += 1
    pre = [t for t in sorted(region) if t + step <= REGION[1]]
    if any(region[t] < 0.9 for t in pre):
        print("  region not up before its outage"); fails += 1
    print("FAIL" if fails else "all windows recovered within one round")
    return 1 if fails else 0

if __name__ == "__main__":
    if sys.argv[1] == "model":
        model(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(check(sys.argv[3]))
