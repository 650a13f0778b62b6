#!/usr/bin/env python3
"""Checks a Grafana dashboard and Prometheus rule files against a live Prometheus
(tests/system/dashboard_test).

Every query of the dashboard (panel targets, nested rows included, and the
label_values() template variables) is run through /api/v1/query twice: with
every template variable at its "All" value (.*) and with the first real value
of each variable, resolved in order as Grafana resolves chained variables.
Each run must give status success and a non-empty result, and so must every
metric selector inside the query on its own (so a misspelt metric hidden
behind `or`, or a misspelt label that `=~".*"` would match, still fails).
Rule files: every expression must be valid and each of its selectors must
have data; a recording rule's own expression and its recorded series must
be non-empty; Prometheus must report every rule healthy. --expect EXPR: a
PromQL filter that must return data (e.g. 'max(tapflow_cluster_role) == 2').
--self-test: broken copies of the dashboard (a metric renamed, a label name
misspelt) must fail. Exit status 0 only if everything held.

  dashboard_check.py --prometheus http://127.0.0.1:9090 --dashboard D.json \
    [--rules R.yml]... [--job tapflowd] [--wait-samples 15] [--expect EXPR]... [--self-test]
"""
import argparse
import copy
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

# What Grafana puts in place of its built-in variables (the scrape interval
# is 1 s: $__rate_interval would be 4 s at least; 10 s holds several samples).
BUILTINS = {"$__rate_interval": "10s", "$__interval": "2s", "$__range": "1m"}
SELECTOR_RE = re.compile(
    r'(?<![A-Za-z0-9_:"])(?P<name>tapflow[_:][A-Za-z0-9_:]*|up(?=\s*\{))\s*(?P<matchers>\{[^}]*\})?')
LABEL_VALUES_RE = re.compile(r'^\s*label_values\(\s*(?P<sel>.+?)\s*,\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$')


class Prometheus:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.queries = 0

    def get(self, path, **params):
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:  # 400/422: a bad query; the body says why
            try:
                return json.load(e)
            except ValueError:
                return {"status": "error", "error": f"HTTP {e.code}"}

    def query(self, expr):
        self.queries += 1
        return self.get("/api/v1/query", query=expr)


def result_len(reply):
    data = reply.get("data", {})
    res = data.get("result")
    if data.get("resultType") in ("scalar", "string"):
        return 1
    return len(res or [])


def all_finite_nan(reply):
    """True when every sample of a vector result is NaN."""
    res = reply.get("data", {}).get("result") or []
    vals = [s.get("value", [0, "0"])[1] for s in res]
    return bool(vals) and all(v == "NaN" for v in vals)


def substitute(expr, variables):
    for k, v in BUILTINS.items():
        expr = expr.replace(k, v)
    # Longest names first ($netns before $n...); ${var} and $var forms.
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    return expr


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def dashboard_queries(dash):
    """(where, expr) of every panel target."""
    out = []
    for p in walk_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                out.append((f'panel "{p.get("title")}" {t.get("refId")}', t["expr"]))
    return out


def query_variables(dash):
    """(name, selector, label) of the label_values() query variables, in order."""
    out = []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = LABEL_VALUES_RE.match(q or "")
        if not m:
            raise SystemExit(f"variable ${v.get('name')}: not label_values(SELECTOR, LABEL): {q!r}")
        out.append((v["name"], m["sel"], m["label"]))
    return out


class Checker:
    def __init__(self, prom, verbose=True):
        self.prom = prom
        self.failures = []
        self.checked = 0
        self.nan_only = []
        self.verbose = verbose

    def fail(self, msg):
        self.failures.append(msg)
        if self.verbose:
            print("  FAIL: " + msg, file=sys.stderr)

    def selectors_have_data(self, where, expr):
        for m in SELECTOR_RE.finditer(expr):
            sel = m["name"] + (m["matchers"] or "")
            r = self.prom.query(sel)
            if r.get("status") != "success":
                self.fail(f"{where}: selector {sel}: {r.get('error', r)}")
            elif result_len(r) == 0:
                self.fail(f"{where}: selector {sel} has no data")

    def expr_has_data(self, where, expr, need_data=True):
        self.checked += 1
        r = self.prom.query(expr)
        if r.get("status") != "success":
            self.fail(f"{where}: {r.get('errorType', '')} {r.get('error', r)}: {expr}")
            return None
        if need_data and result_len(r) == 0:
            self.fail(f"{where}: no data: {expr}")
        elif all_finite_nan(r):
            self.nan_only.append(where)
        self.selectors_have_data(where, expr)
        return r

    def resolve_variables(self, dash, all_values):
        """The variables' values: '.*' each (all_values), or the first value
        each label_values() query returns with the variables before it set."""
        values = {}
        for name, sel, label in query_variables(dash):
            if all_values:
                values[name] = ".*"
                continue
            sel_now = substitute(sel, values)
            r = self.prom.query(f"group by ({label}) ({sel_now})")
            found = sorted(s["metric"].get(label, "") for s in r.get("data", {}).get("result") or [])
            found = [v for v in found if v]
            if r.get("status") != "success" or not found:
                self.fail(f"variable ${name}: label_values({sel_now}, {label}) gives no value"
                          f" ({r.get('error', 'empty')})")
                values[name] = "^$"  # matches nothing: every query after this fails too
            else:
                # As Grafana formats a value for =~: regex-escaped, in a PromQL string.
                values[name] = re.sub(r"([.+*?()|\[\]{}^$\\])", r"\\\\\1", found[0])
        return values

    def check_dashboard(self, dash, label=""):
        for all_values in (True, False):
            values = self.resolve_variables(dash, all_values)
            # The variable queries themselves (chained on the values before them).
            for name, sel, var_label in query_variables(dash):
                self.expr_has_data(f"{label}variable ${name}", f"group by ({var_label}) ({substitute(sel, values)})")
            for where, expr in dashboard_queries(dash):
                self.expr_has_data(f"{label}{where} [{'all' if all_values else 'values'}]", substitute(expr, values))
            if self.verbose:
                shown = ", ".join(f"${k}={v}" for k, v in values.items())
                print(f"  dashboard pass with {shown}: {len(dashboard_queries(dash))} queries", file=sys.stderr)

    def check_rules(self, path):
        with open(path) as f:
            doc = yaml.safe_load(f)
        n = 0
        for g in doc.get("groups", []):
            for rule in g.get("rules", []):
                n += 1
                name = rule.get("record") or rule.get("alert")
                where = f"{path.rsplit('/', 1)[-1]} {g['name']}/{name}"
                expr = rule["expr"].strip()
                if "record" in rule:
                    self.expr_has_data(where, expr)
                    self.expr_has_data(where + " (recorded)", rule["record"])
                else:
                    # An alert's expression is empty while all is well: it must
                    # parse and evaluate, and what it reads must exist.
                    self.expr_has_data(where, expr, need_data=False)
        return n

    def rules_healthy(self, expected):
        r = self.prom.get("/api/v1/rules")
        rules = [rl for g in r.get("data", {}).get("groups", []) for rl in g.get("rules", [])]
        if len(rules) != expected:
            self.fail(f"Prometheus loaded {len(rules)} rules, the files hold {expected}")
        for rl in rules:
            if rl.get("health") != "ok":
                self.fail(f"rule {rl.get('name')}: health {rl.get('health')}: {rl.get('lastError')}")
            if rl.get("type") == "alerting" and rl.get("state") != "inactive":
                print(f"  note: alert {rl['name']} is {rl['state']}", file=sys.stderr)


def broken_copies(dash):
    """Two copies that must fail: a metric of one panel renamed, a label name
    in another misspelt (dpid=~ -> dpdi=~, which '.*' alone would not catch)."""
    queries = [(p, t) for p in walk_panels(dash["panels"]) for t in p.get("targets", []) if "expr" in t]
    out = []
    d1 = copy.deepcopy(dash)
    q1 = [(p, t) for p in walk_panels(d1["panels"]) for t in p.get("targets", []) if "expr" in t]
    i = next(i for i, (_, t) in enumerate(queries) if "tapflow_datapath_rx_messages_total" in t["expr"])
    q1[i][1]["expr"] = q1[i][1]["expr"].replace("tapflow_datapath_rx_messages_total", "tapflow_datapath_rx_message_total")
    out.append(("metric renamed", q1[i][0]["title"], d1))
    d2 = copy.deepcopy(dash)
    q2 = [(p, t) for p in walk_panels(d2["panels"]) for t in p.get("targets", []) if "expr" in t]
    j = next(j for j, (_, t) in enumerate(queries) if "tapflow_fib_routes" in t["expr"] and 'dpid=~' in t["expr"])
    q2[j][1]["expr"] = q2[j][1]["expr"].replace('dpid=~', 'dpdi=~')
    out.append(("label name misspelt", q2[j][0]["title"], d2))
    return out


def check_structure(dash):
    errs = []
    if not 36 <= dash.get("schemaVersion", 0) <= 39:
        errs.append(f"schemaVersion {dash.get('schemaVersion')}")
    vars_ = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    if vars_.get("DS_PROMETHEUS", {}).get("type") != "datasource":
        errs.append("no datasource variable DS_PROMETHEUS")
    ids = set()
    for p in walk_panels(dash.get("panels", [])):
        if p["id"] in ids:
            errs.append(f"panel id {p['id']} twice")
        ids.add(p["id"])
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            errs.append(f"panel {p.get('title')}: datasource is not ${{DS_PROMETHEUS}}")
        if not p.get("targets"):
            errs.append(f"panel {p.get('title')}: no targets")
        refs = [t.get("refId") for t in p.get("targets", [])]
        if len(set(refs)) != len(refs) or None in refs:
            errs.append(f"panel {p.get('title')}: refIds {refs}")
        for k in ("x", "y", "w", "h"):
            if k not in p.get("gridPos", {}):
                errs.append(f"panel {p.get('title')}: gridPos without {k}")
    return errs


def wait_scraped(prom, job, samples, timeout):
    """Until Prometheus holds `samples` scrapes of the job (all targets up)."""
    deadline = time.time() + timeout
    expr = f'min(count_over_time(up{{job="{job}"}}[5m])) >= {samples} and min(up{{job="{job}"}}) == 1'
    while True:
        r = prom.query(expr)
        if r.get("status") == "success" and result_len(r) > 0:
            return
        if time.time() > deadline:
            raise SystemExit(f"Prometheus has not scraped job {job} {samples} times within {timeout} s "
                             f"(targets: {json.dumps(prom.get('/api/v1/targets').get('data', {}).get('activeTargets'))[:600]})")
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--rules", action="append", default=[])
    ap.add_argument("--job", default="tapflowd")
    ap.add_argument("--wait-samples", type=int, default=15)
    ap.add_argument("--wait-timeout", type=int, default=60)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()

    prom = Prometheus(a.prometheus)
    t0 = time.time()
    wait_scraped(prom, a.job, a.wait_samples, a.wait_timeout)
    print(f"  Prometheus holds {a.wait_samples} scrapes of job {a.job} "
          f"(waited {time.time() - t0:.1f} s)", file=sys.stderr)

    with open(a.dashboard) as f:
        dash = json.load(f)
    structure = check_structure(dash)
    for e in structure:
        print("  FAIL: dashboard structure: " + e, file=sys.stderr)

    c = Checker(prom)
    c.check_dashboard(dash)
    n_dash = c.checked
    n_rules = 0
    for path in a.rules:
        n_rules += c.check_rules(path)
    if a.rules:
        c.rules_healthy(n_rules)
    for e in a.expect:
        c.expr_has_data(f"expectation {e}", e)

    self_ok = True
    if a.self_test:
        for what, title, broken in broken_copies(dash):
            bc = Checker(prom, verbose=False)
            bc.check_dashboard(broken, "broken: ")
            # Failures of that very panel (not ones the dashboard has anyway).
            hits = [f for f in bc.failures if f'panel "{title}"' in f]
            if hits:
                print(f'  self-test: a copy with a {what} in panel "{title}" fails ({len(hits)} failures,'
                      f" e.g. {hits[0][:150]})", file=sys.stderr)
            else:
                print(f'  FAIL: self-test: a copy with a {what} in panel "{title}" passed', file=sys.stderr)
                self_ok = False

    # What tapflowd exports that the dashboard never reads (information only).
    r = prom.query(f'group by (__name__) ({{job="{a.job}"}})')
    exported = {s["metric"]["__name__"] for s in r.get("data", {}).get("result", [])}
    text = json.dumps(dash)
    unread = sorted(n for n in exported if n.startswith("tapflow_")
                    and re.sub(r"_(bucket|sum|count)$", "", n) not in text and n not in text)
    if unread:
        print(f"  note: exported but not on the dashboard: {' '.join(unread)}", file=sys.stderr)
    if c.nan_only:
        print(f"  note: {len(c.nan_only)} queries gave only NaN (no events in the window): "
              f"{'; '.join(c.nan_only[:6])}", file=sys.stderr)

    n_panels = sum(1 for p in walk_panels(dash["panels"]) if p["type"] != "row")
    summary = (f"{n_panels} panels, {len(dashboard_queries(dash))} dashboard queries x 2 variable passes"
               f" + {2 * len(query_variables(dash))} variable queries = {n_dash} evaluations;"
               f" {n_rules} rules; {len(a.expect)} expectations; {prom.queries} API queries in all")
    if c.failures or structure or not self_ok:
        print(f"dashboard_check: FAILED ({len(c.failures) + len(structure)} failures): {summary}",
              file=sys.stderr)
        return 1
    print(f"dashboard_check: OK: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
