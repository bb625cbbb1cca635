#!/usr/bin/env python3
"""Summarise and gate an Autobahn|Testsuite report (python3, stdlib only).

Usage:
    check.py server|client [--async] [--report PATH] [--expected PATH]
                           [--cases PATTERNS] [--write-expected] [--no-expected]

Reads reports/<mode>/index.json (as written by wstest) and

  1. prints the number of cases per outcome, for `behavior` and
     `behaviorClose` separately, and lists every case that is not OK in both;
  2. POLICY: fails if any case in sections 1-13 is not OK in `behavior` or
     `behaviorClose`.  7.1.6, 7.13.1 and 7.13.2 are INFORMATIONAL by design
     and pass when each field is INFORMATIONAL or OK.  Sections 12 and 13
     (permessage-deflate) are gated too, now that ws6455 speaks it;
  3. EXPECTED: compares {agent: {case: {behavior, behaviorClose}}} with the
     committed expected-results-<mode>.json and fails on any difference (case
     added, missing, or outcome changed).  A missing expected file is a failure.
     With --cases (the AUTOBAHN_CASES patterns of a run on a subset), only the
     expected cases those patterns select must be in the report; the others
     were not run and are not missing.  A pattern that selects no expected
     case is a failure (a typo would otherwise shrink the subset silently).

--async reads reports/async-<mode>/index.json and compares it with
expected-results-<mode>-async.json instead: the async path (feature `tokio`:
`ws6455 echo --async`, the autobahn_client_async example), whose results are
the blocking path's, case by case: it also fails if that file differs from
expected-results-<mode>.json.

--write-expected regenerates expected-results-<mode>.json from the report
(the comparison is then skipped; the policy check still decides the exit code).
--no-expected skips the comparison.

Exit status: 0 = all good, 1 = policy or expected-results failure,
2 = report missing/unreadable or bad usage.
"""

import argparse
import json
import os
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))

# Cases the test suite itself labels INFORMATIONAL (no right or wrong answer).
INFORMATIONAL_OK = {"7.1.6", "7.13.1", "7.13.2"}
GATED_SECTIONS = set(range(1, 14))  # sections 1..13 (12, 13: permessage-deflate)
FIELDS = ("behavior", "behaviorClose")


def case_key(case_id):
    """Numeric sort key: 1.1.2 < 1.1.10 < 1.2.1 < 10.1.1."""
    parts = []
    for p in case_id.split("."):
        try:
            parts.append((0, int(p), ""))
        except ValueError:
            parts.append((1, 0, p))
    return parts


def section(case_id):
    try:
        return int(case_id.split(".")[0])
    except ValueError:
        return None


def strip(report):
    """index.json -> {agent: {case: {behavior, behaviorClose}}}."""
    out = {}
    for agent, cases in report.items():
        out[agent] = {}
        for cid, res in cases.items():
            out[agent][cid] = {f: res.get(f) for f in FIELDS}
    return out


def policy_failures(cases):
    """Return [(case_id, reason)] for cases violating the sections 1-13 rule."""
    bad = []
    for cid in sorted(cases, key=case_key):
        if section(cid) not in GATED_SECTIONS:
            continue
        res = cases[cid]
        allowed = {"OK", "INFORMATIONAL"} if cid in INFORMATIONAL_OK else {"OK"}
        wrong = [f for f in FIELDS if res.get(f) not in allowed]
        if wrong:
            bad.append((cid, ", ".join("%s=%s" % (f, res.get(f)) for f in wrong)))
    return bad


def case_pattern(pattern):
    """The predicate wstest applies to a case pattern (caseset.py,
    resolveCasePatternList): with a `*`, a regex with `.` literal and `*` as
    `.*`, matched at the start of the case id only; without, the exact id."""
    if "*" not in pattern:
        return lambda cid: cid == pattern
    regex = re.compile(pattern.replace(".", r"\.").replace("*", ".*"))
    return lambda cid: regex.match(cid) is not None


def select(expected, patterns, actual):
    """Restrict expected results to the cases a run on a subset answers for:
    those the patterns select, and any other the report holds all the same.

    Returns (the expected results restricted, how many cases the patterns
    select, the patterns that select no case of any agent)."""
    matchers = [(p, case_pattern(p)) for p in patterns]
    used = set()
    kept = {}
    count = 0
    for agent, cases in expected.items():
        kept[agent] = {}
        for cid, res in cases.items():
            hits = [p for p, matches in matchers if matches(cid)]
            used.update(hits)
            count += bool(hits)
            if hits or cid in actual.get(agent, {}):
                kept[agent][cid] = res
    return kept, count, [p for p in patterns if p not in used]


def blocking_twin_differs(mode, expected_async):
    """The async path's expected results must be the blocking path's: the
    same engine answers every case the same way behind either kind of I/O.
    Returns None when they agree, else (the blocking file's path, the
    differences as compare() prints them, blocking first)."""
    path = os.path.join(HERE, "expected-results-%s.json" % mode)
    try:
        with open(path) as f:
            blocking = json.load(f)
    except (OSError, ValueError) as e:
        return path, ["  cannot read %s: %s" % (path, e)]
    diff = compare(blocking, expected_async)
    return (path, diff) if diff else None


def fmt(res):
    return "behavior=%-14s behaviorClose=%s" % (res.get("behavior"), res.get("behaviorClose"))


def compare(expected, actual):
    """Return list of human-readable difference lines."""
    lines = []
    for agent in sorted(set(expected) | set(actual)):
        if agent not in actual:
            lines.append("agent %r: in expected results but not in the report" % agent)
            continue
        if agent not in expected:
            lines.append("agent %r: in the report but not in expected results" % agent)
            continue
        exp, act = expected[agent], actual[agent]
        for cid in sorted(set(exp) | set(act), key=case_key):
            if cid not in act:
                lines.append("  [%s] %-8s MISSING  expected %s (not in report)" % (agent, cid, fmt(exp[cid])))
            elif cid not in exp:
                lines.append("  [%s] %-8s ADDED    now      %s (not in expected)" % (agent, cid, fmt(act[cid])))
            elif any(exp[cid].get(f) != act[cid].get(f) for f in FIELDS):
                head = "  [%s] %-8s CHANGED  " % (agent, cid)
                lines.append("%sexpected %s" % (head, fmt(exp[cid])))
                lines.append("%snow      %s" % (" " * len(head), fmt(act[cid])))
    return lines


def write_json(path, data):
    """Write expected results: one case per line, cases in numeric order."""
    lines = ["{"]
    agents = sorted(data)
    for ai, agent in enumerate(agents):
        lines.append("  %s: {" % json.dumps(agent))
        cids = sorted(data[agent], key=case_key)
        for ci, cid in enumerate(cids):
            res = {f: data[agent][cid].get(f) for f in FIELDS}
            lines.append("    %s: %s%s" % (json.dumps(cid), json.dumps(res),
                                          "," if ci < len(cids) - 1 else ""))
        lines.append("  }%s" % ("," if ai < len(agents) - 1 else ""))
    lines.append("}")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["server", "client"])
    ap.add_argument("--async", dest="on_async", action="store_true",
                    help="the async path's run: reports/async-<mode>/ and"
                         " expected-results-<mode>-async.json by default")
    ap.add_argument("--report", help="index.json to read (default: reports/<mode>/index.json)")
    ap.add_argument("--expected", help="expected results file (default: expected-results-<mode>.json)")
    ap.add_argument("--write-expected", action="store_true",
                    help="(re)generate the expected results file from the report")
    ap.add_argument("--no-expected", action="store_true",
                    help="skip the comparison with the expected results file")
    ap.add_argument("--cases", metavar="PATTERNS",
                    help="the run was on these comma-separated case patterns only"
                         " (AUTOBAHN_CASES): compare just the expected cases they select")
    args = ap.parse_args(argv)
    if args.cases and args.write_expected:
        ap.error("--write-expected needs the report of a full run, not of --cases")

    # The async path has reports and expected results of its own.
    run = ("async-" if args.on_async else "") + args.mode
    expected_name = "expected-results-%s%s.json" % (args.mode, "-async" if args.on_async else "")
    report_path = args.report or os.path.join(HERE, "reports", run, "index.json")
    expected_path = args.expected or os.path.join(HERE, expected_name)
    # How to rewrite the expected results, for the hints below.
    check_cmd = "autobahn/check.py %s%s" % (args.mode, " --async" if args.on_async else "")
    update_cmd = "%sautobahn/run.sh %s --update-expected" % (
        "AUTOBAHN_ASYNC=1 " if args.on_async else "", args.mode)

    try:
        with open(report_path) as f:
            report = json.load(f)
    except FileNotFoundError:
        print("ERROR: report %s not found (did wstest run to completion?)" % report_path)
        return 2
    except (OSError, ValueError) as e:
        print("ERROR: cannot read report %s: %s" % (report_path, e))
        return 2
    if not isinstance(report, dict):
        print("ERROR: report %s is not a JSON object" % report_path)
        return 2

    actual = strip(report)
    failed = False

    print("Autobahn %s%s report: %s" % (args.mode, " (async)" if args.on_async else "", report_path))
    if not actual or not any(actual.values()):
        print("FAIL: the report contains no test results (testee unreachable or crashed?)")
        failed = True

    policy_bad = []
    for agent in sorted(actual):
        cases = actual[agent]
        print("\n=== agent %s: %d cases ===" % (agent, len(cases)))
        for field in FIELDS:
            counts = Counter(res.get(field) for res in cases.values())
            print("  %-15s %s" % (field + ":", ", ".join(
                "%s %d" % (k, v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))))

        gated = [c for c in cases if section(c) in GATED_SECTIONS]
        if not gated:
            print("FAIL: agent %s has no results in sections 1-13" % agent)
            failed = True

        bad = policy_failures(cases)
        bad_ids = {cid for cid, _ in bad}
        not_ok = [c for c in sorted(cases, key=case_key)
                  if any(cases[c].get(f) != "OK" for f in FIELDS)]
        if not_ok:
            print("  cases not OK (%d):" % len(not_ok))
            # Outside sections 1-13 only the expected file governs: one line
            # per section and outcome instead of one per case.
            ungated = {}
            for cid in not_ok:
                if cid in bad_ids:
                    print("    FAIL %-8s %s" % (cid, fmt(cases[cid])))
                elif section(cid) in GATED_SECTIONS:
                    print("    info %-8s %s" % (cid, fmt(cases[cid])))  # an allowed INFORMATIONAL case
                else:
                    key = (section(cid), fmt(cases[cid]))
                    ungated[key] = ungated.get(key, 0) + 1
            for (sec, outcome), count in sorted(ungated.items()):
                print("         section %s: %d case(s) %s" % (sec, count, outcome))
        policy_bad.extend((agent, cid, why) for cid, why in bad)

    if policy_bad:
        failed = True
        print("\nFAIL: %d case(s) in sections 1-13 are not OK:" % len(policy_bad))
        for agent, cid, why in policy_bad:
            print("  [%s] %-8s %s" % (agent, cid, why))
    elif not failed:
        print("\nPolicy: every case in sections 1-13 is OK (or INFORMATIONAL where allowed).")

    if args.write_expected:
        write_json(expected_path, actual)
        print("Wrote expected results to %s (%d case(s)); review and commit it."
              % (expected_path, sum(len(c) for c in actual.values())))
    elif args.no_expected:
        print("Expected results: comparison skipped (--no-expected).")
    elif not os.path.exists(expected_path):
        failed = True
        print("\nFAIL: expected results file %s does not exist yet." % expected_path)
        print("      Create it with:  %s --write-expected" % check_cmd)
        print("      (or: %s), then review and commit it." % update_cmd)
    else:
        try:
            with open(expected_path) as f:
                expected = json.load(f)
        except (OSError, ValueError) as e:
            print("\nFAIL: cannot read expected results %s: %s" % (expected_path, e))
            return 1
        if args.on_async and not args.expected:
            twin = blocking_twin_differs(args.mode, expected)
            if twin:
                failed = True
                print("\nFAIL: %s differs from the blocking path's %s (%d line(s)):"
                      % (expected_name, os.path.basename(twin[0]), len(twin[1])))
                for line in twin[1]:
                    print(line)
        subset = ""
        if args.cases:
            patterns = [c.strip() for c in args.cases.split(",") if c.strip()]
            expected, count, unused = select(expected, patterns, actual)
            subset = " for the %d case(s) the patterns select" % count
            if unused:
                failed = True
                print("\nFAIL: pattern(s) that select no case in %s: %s"
                      % (expected_path, ", ".join(unused)))
        diff = compare(expected, actual)
        if diff:
            failed = True
            print("\nFAIL: results differ from %s (%d line(s)):" % (expected_path, len(diff)))
            for line in diff:
                print(line)
            if args.cases:
                print("The expected results come from full direct runs: if the change is"
                      " intended, run %s and commit the file." % update_cmd)
            else:
                print("If the change is intended, run: %s --write-expected"
                      " (or %s) and commit the file." % (check_cmd, update_cmd))
        else:
            print("Expected results: report matches %s%s."
                  % (os.path.basename(expected_path), subset))

    print("\nAutobahn %s%s: %s" % (args.mode, " (async)" if args.on_async else "",
                                   "FAILED" if failed else "PASSED"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
