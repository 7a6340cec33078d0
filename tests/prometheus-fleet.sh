#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The fleet view against a real Prometheus (Debian's server): two vpowerd hosts (fixture RAPL,
# A 100 W and B 60 W, static inventories whose VMs carry Nova metadata; one VM's UUID on both
# hosts, as after a migration) scraped every second, with monitoring/prometheus's rules loaded.
# Through Prometheus' HTTP API: the owner labels arrive; the recorded per-project watts equal
# vpowerd's own per-VM figures within 5%; the fleet-wide figure equals the two hosts' totals;
# every rule evaluates without error and no alert fires; stopping one vpowerd fires VpowerdDown
# for it alone; every Grafana dashboard query runs.
#
# The rules are the shipped files with their time scaled down (windows 5m -> 20s, 1h -> 40s,
# 24h -> 60s; for: 5m -> 5s; the 5 m group interval -> 2s), so that the test takes a minute, not
# an hour. Their real windows and for: durations are covered by `promtool test rules`
# (tests/monitoring.sh).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

command -v prometheus >/dev/null || vp_skip_or_fail "prometheus not installed (apt-get install prometheus)"
command -v promtool >/dev/null || vp_skip_or_fail "promtool not installed (apt-get install prometheus)"
vp_setup_workdir
vp_plan 9

# --- two hosts ---
nova () {   # nova FILE NAME PROJECT_ID PROJECT USER FLAVOR: a VM's Nova metadata, as nova-compute writes it
  cat >"$1" <<XML
<metadata>
  <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
    <nova:package version="27.1.0"/>
    <nova:name>$2</nova:name>
    <nova:flavor name="$6"><nova:vcpus>1</nova:vcpus></nova:flavor>
    <nova:owner>
      <nova:user uuid="u-$5">$5</nova:user>
      <nova:project uuid="$3">$4</nova:project>
    </nova:owner>
  </nova:instance>
</metadata>
XML
}
nova "$work/web1.xml" web-1 p-acme acme alice m1.small
nova "$work/db1.xml" db-1 p-beta beta bob m1.large
nova "$work/mover.xml" mover p-acme acme alice m1.small
nova "$work/web2.xml" web-2 p-beta beta bob m1.small

burners=()
for duty in 0.25 0.15 0.2 0.2 0.15; do "$VP_BURN" "$duty" & pids+=($!); burners+=($!); done
MOVER=cccccccc-0000-4000-8000-0000000000aa
cat >"$work/a.ini" <<INI
[web1]
uuid=cccccccc-0000-4000-8000-000000000001
pid=${burners[0]}
metadata=web1.xml
[db1]
uuid=cccccccc-0000-4000-8000-000000000002
pid=${burners[1]}
metadata=db1.xml
[instance-mover]
uuid=$MOVER
pid=${burners[2]}
metadata=mover.xml
INI
cat >"$work/b.ini" <<INI
[web2]
uuid=cccccccc-0000-4000-8000-000000000003
pid=${burners[3]}
metadata=web2.xml
[instance-mover]
uuid=$MOVER
pid=${burners[4]}
metadata=mover.xml
INI
for host in a b; do cp -R "$abs_top_srcdir/tests/data/powercap/single" "$work/rapl-$host"; done
"$VP_FAKE_RAPL" "$work/rapl-a" intel-rapl:0=100 intel-rapl:0:0=40 intel-rapl:0:1=10 & pids+=($!)
"$VP_FAKE_RAPL" "$work/rapl-b" intel-rapl:0=60 intel-rapl:0:0=25 intel-rapl:0:1=5 & pids+=($!)
start_host () {   # start_host NAME: sets URL_NAME, PORT_NAME, PID_NAME
  mkdir -p "$work/run-$1"
  vp_start_vpowerd "$work/vpowerd-$1.log" --sensor powercap --powercap-root "$work/rapl-$1" \
    --inventory "static:$work/$1.ini" --interval 1 --state-dir "$work/state-$1" --runtime-dir "$work/run-$1" ||
    return 1
  eval "URL_$1=\$VP_URL PORT_$1=\$VP_PORT PID_$1=\$VP_PID"
}
start_host a && start_host b
vp_ok $? "two vpowerd hosts run, with Nova metadata on their VMs"
pids+=("$PID_a" "$PID_b")
VP_PID=

# --- Prometheus, with the rules scaled down ---
mkdir -p "$work/rules"
for file in vpower-rules.yml vpower-alerts.yml; do
  sed -e 's/\[5m\]/[20s]/g; s/\[1h\]/[40s]/g; s/\[24h\]/[60s]/g; s/\[30m\]/[60s]/g' \
      -e 's/^\( *for:\) [0-9]*m$/\1 5s/; s/^\( *interval:\) 5m$/\1 2s/' \
      "$abs_top_srcdir/monitoring/prometheus/$file" >"$work/rules/$file"
done
PROM_PORT=$(vp_free_port)
PROM=http://127.0.0.1:$PROM_PORT
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - $work/rules/vpower-rules.yml
  - $work/rules/vpower-alerts.yml
scrape_configs:
  - job_name: vpower
    static_configs:
      - targets: ['127.0.0.1:$PORT_a', '127.0.0.1:$PORT_b']
YML
promtool check config "$work/prometheus.yml" >"$work/promtool.out" 2>&1 || { cat "$work/promtool.out"; exit 1; }
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$work/prometheus.log" 2>&1 & pids+=($!)

# promql EXPR: the instant query's result as JSON lines {"metric": {...}, "value": V, "t": T}.
promql () {
  curl -fsS --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
if d["status"] != "success": sys.exit(1)
for r in d["data"]["result"]:
    print(json.dumps({"metric": r["metric"], "value": float(r["value"][1]), "t": r["value"][0]}))'
}
both_up () { [ "$(promql 'sum(up{job="vpower"})' 2>/dev/null | vp_json 'int(d["value"])' 2>/dev/null)" = 2 ]; }
vp_wait_for 60 both_up
vp_ok $? "Prometheus scrapes both vpowerds"
[ $? -eq 0 ] || tail -20 "$work/prometheus.log" | sed 's/^/# /'

# The owner labels reach Prometheus, on the info series only.
promql 'vpower_vm_info' >"$work/info.json"
python3 - "$work/info.json" "$MOVER" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
seen = sorted((r["metric"]["domain"], r["metric"].get("vm_name"), r["metric"].get("project"), r["metric"].get("project_id"),
               r["metric"].get("user"), r["metric"].get("flavor")) for r in rows)
for s in seen: print("#", s)
want = sorted([("web1", "web-1", "acme", "p-acme", "alice", "m1.small"), ("db1", "db-1", "beta", "p-beta", "bob", "m1.large"),
               ("instance-mover", "mover", "acme", "p-acme", "alice", "m1.small"), ("web2", "web-2", "beta", "p-beta", "bob", "m1.small"),
               ("instance-mover", "mover", "acme", "p-acme", "alice", "m1.small")])
movers = {r["metric"]["instance"] for r in rows if r["metric"]["uuid"] == sys.argv[2]}
sys.exit(0 if seen == want and len(movers) == 2 else 1)
PY
vp_ok $? "vpower_vm_info carries each VM's Nova name, project, user and flavor; the moved VM's UUID is on both hosts"

# vpowerd's own figures: both hosts' JSON at every tick, for as long as the rates need.
python3 - "$URL_a" "$URL_b" "$work/own.jsonl" 32 <<'PY' &
import json, sys, time, urllib.request
urls, out, seconds = sys.argv[1:3], sys.argv[3], float(sys.argv[4])
last = {}
end = time.time() + seconds
with open(out, "w") as f:
    while time.time() < end:
        for host, url in zip("ab", urls):
            d = json.load(urllib.request.urlopen(url + "/api/v1/vms", timeout=5))
            h = json.load(urllib.request.urlopen(url + "/api/v1/host", timeout=5))
            if last.get(host) == d["ticks"]:
                continue
            last[host] = d["ticks"]
            zone = lambda z: z["name"].startswith("package-") or z["name"] == "dram"
            f.write(json.dumps({"host": host, "t": d["timestamp"], "ht": h["timestamp"],
                                "host_uj": sum(z["total_uj"] for z in h["zones"] if zone(z)),
                                "vms": {v["uuid"]: [v["labels"].get("project"), sum(z["total_uj"] for z in v["zones"] if zone(z))]
                                        for v in d["vms"]}}) + "\n")
            f.flush()
        time.sleep(0.2)
PY
poller=$!
wait $poller

# Compare at the rules' last evaluation: each rule's sample time, and vpowerd's energy over the
# same 20 s window, from its own ticks.
compare () {   # compare RULE KIND: KIND is project or fleet
  promql "$1" >"$work/rule.json" && promql "timestamp($1)" >"$work/rule-t.json" || return 1
  python3 - "$work/own.jsonl" "$work/rule.json" "$work/rule-t.json" "$2" <<'PY'
import json, sys
from collections import defaultdict
own = [json.loads(l) for l in open(sys.argv[1])]
rule = [json.loads(l) for l in open(sys.argv[2])]
t_rule = max(json.loads(l)["value"] for l in open(sys.argv[3]))
window = 20.0
def figure(host, select):
    ticks = [o for o in own if o["host"] == host and o["t"] <= t_rule + 0.5]
    end = ticks[-1]
    start = min(ticks, key=lambda o: abs(o["t"] - (end["t"] - window)))
    return select(end, start) / 1e6 / (end["t"] - start["t"])
ok = bool(rule)
if sys.argv[4] == "project":
    own_w = defaultdict(float)
    for host in "ab":
        for project in ("acme", "beta"):
            own_w[project] += figure(host, lambda e, s: sum(e["vms"][u][1] - s["vms"][u][1]
                                                            for u in e["vms"] if e["vms"][u][0] == project))
    for r in rule:
        p = r["metric"].get("project")
        err = abs(r["value"] - own_w[p]) / own_w[p]
        print(f"# {p}: recorded {r['value']:.2f} W, vpowerd's own {own_w[p]:.2f} W ({100 * err:.1f}% apart)")
        ok = ok and err <= 0.05
    ok = ok and {r["metric"].get("project") for r in rule} == {"acme", "beta"}
else:
    own_w = sum(figure(host, lambda e, s: e["host_uj"] - s["host_uj"]) for host in "ab")
    err = abs(rule[0]["value"] - own_w) / own_w
    print(f"# fleet: recorded {rule[0]['value']:.2f} W, the two hosts' own {own_w:.2f} W ({100 * err:.1f}% apart)")
    ok = ok and len(rule) == 1 and err <= 0.05
sys.exit(0 if ok else 1)
PY
}
compare 'project:vpower_vm_energy_joules:rate5m' project
vp_ok $? "the recorded per-project watts equal the sum of vpowerd's own per-VM figures within 5%"
compare ':vpower_host_energy_joules:rate5m' fleet
vp_ok $? "the fleet-wide figure equals the two hosts' totals within 5%"

# Every rule evaluated, none in error (a join that found duplicate series would be one).
curl -fsS --max-time 5 "$PROM/api/v1/rules" | python3 -c '
import json, sys
rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
print(f"# {len(rules)} rules, {len(bad)} unhealthy {bad}")
sys.exit(0 if len(rules) == 17 and not bad else 1)'
vp_ok $? "all 17 rules and alerts evaluate without error"

firing () { curl -fsS --max-time 5 "$PROM/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
for a in alerts: print(a["labels"]["alertname"], a["labels"].get("instance", ""), a["state"])'; }
firing >"$work/alerts.healthy"
[ ! -s "$work/alerts.healthy" ]
vp_ok $? "no alert fires (or is pending) on the healthy fleet"
sed 's/^/# /' "$work/alerts.healthy"

# Every Grafana dashboard query, on this live data.
"$abs_top_srcdir/tests/helpers/dashboard-exprs.py" --var "instance=127.0.0.1:$PORT_a" --var domain=instance-mover \
  --var "uuid=$MOVER" "$abs_top_srcdir"/monitoring/grafana/*.json >"$work/exprs.jsonl"
python3 - "$PROM" "$work/exprs.jsonl" <<'PY'
import json, sys, urllib.parse, urllib.request
prom, failed, empty, n = sys.argv[1], [], [], 0
for line in open(sys.argv[2]):
    e = json.loads(line); n += 1
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": e["expr"]})
    try:
        d = json.load(urllib.request.urlopen(url, timeout=5))
        if not d["data"]["result"]:
            empty.append(f'{e["dashboard"]}/{e["panel"]}/{e["ref"]}')
    except Exception as error:
        failed.append(f'{e["dashboard"]}/{e["panel"]}/{e["ref"]}: {error}')
print(f"# {n} queries, {len(failed)} failed, {len(empty)} without data: {empty}")
for f in failed: print("#", f)
sys.exit(0 if n > 0 and not failed and not empty else 1)
PY
vp_ok $? "every Grafana dashboard query runs on the live data and returns series"

# One host goes down: VpowerdDown fires for it, and only for it.
kill -TERM "$PID_b"; wait "$PID_b" 2>/dev/null
down_fires () { firing >"$work/alerts.down" && grep -q "^VpowerdDown 127.0.0.1:$PORT_b firing$" "$work/alerts.down"; }
vp_wait_for 60 down_fires && [ "$(grep -c firing "$work/alerts.down")" -eq 1 ]
vp_ok $? "stopping one vpowerd fires VpowerdDown for that host alone"
sed 's/^/# /' "$work/alerts.down"
vp_finish
