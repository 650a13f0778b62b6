#!/usr/bin/env python3
"""Flow churn between two `ovs-ofctl --no-names dump-flows` of one switch.

  flow_churn.py BEFORE AFTER ELAPSED_S ADDED_RE REMOVED_RE

A flow is keyed by cookie, table, priority and match. Every flow of BEFORE
must still be in AFTER with the same actions and a duration grown by at least
ELAPSED_S (less a little slack): a flow deleted and added again, or replaced by
an ADD, starts its duration over. Flows only in AFTER must match ADDED_RE,
flows only in BEFORE must match REMOVED_RE ("" matches nothing). Exit status
0 with a summary, else 1 with each offending flow.
"""
import re
import sys

STATS = re.compile(r"\b(duration|n_packets|n_bytes|idle_age|hard_age)=[^,\s]+,?\s*")


def flows(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("cookie="):
            continue
        m = re.search(r"\bduration=([0-9.]+)s", line)
        duration = float(m.group(1)) if m else 0.0
        rest = STATS.sub("", line)
        match, _, actions = rest.partition(" actions=")
        out[match.strip().rstrip(",")] = (actions.strip(), duration)
    return out


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = flows(sys.argv[1]), flows(sys.argv[2])
    elapsed = float(sys.argv[3])
    added_re = re.compile(sys.argv[4]) if sys.argv[4] else None
    removed_re = re.compile(sys.argv[5]) if sys.argv[5] else None
    problems = []
    kept = 0
    for key, (actions, duration) in sorted(before.items()):
        if key not in after:
            if removed_re is None or not removed_re.search(key):
                problems.append(f"deleted: {key} actions={actions}")
            continue
        a_actions, a_duration = after[key]
        if a_actions != actions:
            problems.append(f"modified: {key} actions={actions} -> {a_actions}")
        elif a_duration + 0.5 < duration + elapsed:
            problems.append(f"re-added (duration {duration}s -> {a_duration}s over {elapsed}s): {key}")
        else:
            kept += 1
    added = [k for k in after if k not in before]
    for key in sorted(added):
        if added_re is None or not added_re.search(key):
            problems.append(f"unexpected new flow: {key} actions={after[key][0]}")
    removed = [k for k in before if k not in after]
    print(f"    flows: {kept} untouched, {len(added)} added, {len(removed)} removed, "
          f"{len(problems)} problem(s)", file=sys.stderr)
    for p in problems:
        print(f"    {p}", file=sys.stderr)
    for key in sorted(added):
        print(f"    + {key}", file=sys.stderr)
    for key in sorted(removed):
        print(f"    - {key}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
