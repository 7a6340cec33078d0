#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Pulls every PromQL expression out of Grafana dashboards, with variables substituted.

  dashboard-exprs.py [--var NAME=VALUE]... DASHBOARD.json...

Prints one JSON object per expression: {"dashboard", "panel", "ref", "expr", "instant"}.
Also checks what vpower's dashboards promise, and exits 1 (saying why on stderr) if:
- the datasource is not a templated "datasource" variable used by every panel and target;
- a panel that draws numbers has no unit;
- a rate()/irate()/increase() over a literal window instead of $__rate_interval or $__range
  (recording rules carry their own windows: this applies to raw counters only).

Grafana's own variables become what Grafana would put there ($__rate_interval: 1m, $__range:
1h, $__interval: 15s); dashboard variables take --var values, else their allValue when they
have one, else "x" (a syntax check needs no real value)."""
import json
import re
import sys

GRAFANA = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s", "__range_s": "3600"}
DRAWS_NUMBERS = {"timeseries", "stat", "bargauge", "gauge", "table"}


def main(argv):
    overrides, paths = {}, []
    args = iter(argv)
    for arg in args:
        if arg == "--var":
            name, _, value = next(args).partition("=")
            overrides[name] = value
        else:
            paths.append(arg)
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
        name = dash.get("uid", path)
        variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
        ds = variables.get("datasource")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            problems.append(f"{name}: no templated Prometheus datasource variable")
        values = dict(GRAFANA)
        for var, spec in variables.items():
            values[var] = overrides.get(var, spec.get("allValue") or "x")

        def substitute(expr):
            return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]",
                          lambda m: values.get(m.group(1) or m.group(2) or m.group(3), m.group(0)), expr)

        for v in variables.values():
            if v.get("type") == "query":
                if v.get("datasource", {}).get("uid") != "${datasource}":
                    problems.append(f"{name}: variable {v['name']} does not use ${{datasource}}")
        for panel in dash.get("panels", []):
            if panel.get("type") == "row":
                continue
            title = panel.get("title", "?")
            if panel.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"{name}/{title}: panel does not use ${{datasource}}")
            if panel.get("type") in DRAWS_NUMBERS and not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
                problems.append(f"{name}/{title}: no unit")
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                if target.get("datasource", {}).get("uid") != "${datasource}":
                    problems.append(f"{name}/{title}/{target.get('refId')}: target does not use ${{datasource}}")
                # Quoted strings out first: a label regex has brackets too.
                bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
                for window in re.findall(r"\b(?:rate|irate|increase)\s*\(\s*[^()\[]*\[([^\]]+)\]", bare):
                    if window not in ("$__rate_interval", "$__range"):
                        problems.append(f"{name}/{title}: rate over a literal window [{window}]: use $__rate_interval")
                print(json.dumps({"dashboard": name, "panel": title, "ref": target.get("refId"),
                                  "expr": substitute(expr), "instant": bool(target.get("instant"))}))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
