#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shipped monitoring: every Prometheus rule file passes `promtool check rules`, the rules'
# unit tests pass `promtool test rules`, and every PromQL expression of every Grafana dashboard
# (variables substituted) parses as promtool parses rules, so a dashboard cannot ship a broken
# query. A deliberately broken dashboard shows the check is not vacuous.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || vp_skip_or_fail "promtool not installed (apt-get install prometheus)"
command -v python3 >/dev/null || vp_skip_or_fail "python3 not installed"
vp_setup_workdir
rules_dir=$abs_top_srcdir/monitoring/prometheus
dash_dir=$abs_top_srcdir/monitoring/grafana
exprs=$abs_top_srcdir/tests/helpers/dashboard-exprs.py
rule_files=("$rules_dir"/*.yml)
rule_tests=("$rules_dir"/tests/*.yml)
dashboards=("$dash_dir"/*.json)
vp_plan $(( ${#rule_files[@]} + ${#rule_tests[@]} + 2 * ${#dashboards[@]} + 3 ))

for file in "${rule_files[@]}"; do
  out=$(promtool check rules "$file" 2>&1); status=$?
  vp_ok $status "promtool check rules $(basename "$file"): $(grep -o '[0-9]* rules found' <<<"$out")"
  [ $status -eq 0 ] || sed 's/^/# /' <<<"$out"
done
for file in "${rule_tests[@]}"; do
  out=$(cd "$rules_dir/tests" && promtool test rules "$(basename "$file")" 2>&1)
  vp_ok $? "promtool test rules tests/$(basename "$file")"
  grep -q SUCCESS <<<"$out" || sed 's/^/# /' <<<"$out" | head -40
done

# dashboard-exprs.py prints one JSON object per expression; each becomes a recording rule, which
# promtool parses with Prometheus's own PromQL parser.
check_dashboard_exprs () {
  local dashboard=$1 rules=$2
  "$exprs" "$dashboard" >"$rules.exprs" || return 1
  [ -s "$rules.exprs" ] || { echo "# no expressions in $dashboard"; return 1; }
  python3 - "$rules.exprs" >"$rules" <<'PY' || return 1
import json, sys
print("groups:\n  - name: dashboard\n    rules:")
for n, line in enumerate(open(sys.argv[1])):
    e = json.loads(line)
    print(f"      - record: dashboard:expr_{n}:check\n        expr: {json.dumps(e['expr'])}")
PY
  local out
  out=$(promtool check rules "$rules" 2>&1) || { sed 's/^/# /' <<<"$out"; return 1; }
}
for dashboard in "${dashboards[@]}"; do
  name=$(basename "$dashboard" .json)
  out=$("$exprs" "$dashboard" 2>&1 >/dev/null)
  vp_ok $? "$name: templated datasource, units, \$__rate_interval"
  [ -z "$out" ] || sed 's/^/# /' <<<"$out"
  check_dashboard_exprs "$dashboard" "$work/$name.rules.yml"
  vp_ok $? "$name: all $(wc -l <"$work/$name.rules.yml.exprs") PromQL expressions parse (promtool)"
done

# Not vacuous: a broken query, a panel without a unit and a literal rate window are caught.
python3 - "${dashboards[0]}" "$work" <<'PY'
import copy, json, sys
d = json.load(open(sys.argv[1]))
panel = next(p for p in d["panels"] if p.get("targets"))
broken = copy.deepcopy(d)
target = next(p for p in broken["panels"] if p.get("targets"))["targets"][0]
target["expr"] = "sum(rate(vpower_vm_energy_joules_total[$__rate_interval])"   # one ")" short
json.dump(broken, open(sys.argv[2] + "/broken-query.json", "w"))
d["panels"].append(dict(copy.deepcopy(panel), id=999, title="no unit", fieldConfig={"defaults": {}},
                        targets=[dict(panel["targets"][0], expr="rate(vpower_vm_energy_joules_total[5m])")]))
json.dump(d, open(sys.argv[2] + "/broken-lint.json", "w"))
PY
"$exprs" "$work/broken-query.json" >/dev/null 2>&1 && ! check_dashboard_exprs "$work/broken-query.json" "$work/broken.rules.yml" >/dev/null
vp_ok $? "a dashboard with an unbalanced query fails the promtool check"
out=$("$exprs" "$work/broken-lint.json" 2>&1 >/dev/null)
grep -q "no unit: no unit" <<<"$out"
vp_ok $? "a panel without a unit is reported"
grep -q "literal window \[5m\]" <<<"$out"
vp_ok $? "a rate over a literal window is reported"
vp_finish
