#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace dump --chrome and --folded on traces that `utrace record` wrote.

--chrome must be one JSON document in the Trace Event Format whose complete
events are each call of the trace, exactly (the same start and duration in
ns as `utrace dump --json` says), as many per function as the program
counted, nested per thread (any two calls of a thread disjoint or one
inside the other), with a name for every thread and process that has
calls.  --folded must be `frames weight` lines whose weights, for each
thread (--tid), add up to the durations of its outermost calls in
`utrace dump --json`, exactly."""

import decimal
import json
import re
import unittest

import harness as h

# s-demo's expression: 6 numbers in 3 terms in 1 expression
DEMO_EXPR = "1*2*3+4*5+6"
DEMO_COUNTS = {"work_number": 6, "work_term": 3, "work_expr": 1}
DEMO_STACKS = {"work_expr", "work_expr;work_term", "work_expr;work_term;work_number"}
BUSY_THREADS, BUSY_CALLS = 3, 500
BUSY_STATUS = 23
DUMP_TIMEOUT = 60
NS_PER_US = 1000
X_FIELDS = frozenset(("name", "cat", "ph", "ts", "dur", "pid", "tid"))
FOLDED_RE = re.compile(r"^([^;\s][^;]*(?:;[^;\s][^;]*)*) (\d+)$")


def exact_ns(tc, us):
    """A JSON number of microseconds (read as a Decimal) in ns: whole ns only."""
    tc.assertIsInstance(us, decimal.Decimal, "not a number with decimals: %r" % us)
    ns = us * NS_PER_US
    tc.assertEqual(ns, ns.to_integral_value(), "not whole nanoseconds: %r us" % us)
    return int(ns)


class DumpTest(unittest.TestCase):
    def dump(self, d, *opts):
        res = h.run([h.utrace_path(), "dump", "-d", d] + list(opts), timeout=DUMP_TIMEOUT)
        self.assertEqual(res.status, 0, "dump %r failed: %r" % (opts, res.stderr))
        self.assertEqual(res.stderr, b"")
        return res.stdout

    def clean_events(self, d):
        """The events of dump --json, nothing lost."""
        events, summary = h.dump_json(self, d)
        h.check_summary_clean(self, events, summary)
        return events

    # ---- chrome ------------------------------------------------------------------

    def chrome(self, d):
        """The document: its calls as {(pid, tid): [(start ns, dur ns, name)]}, and
        its names as {(pid, tid): name} of threads and {pid: name} of processes."""
        doc = json.loads(self.dump(d, "--chrome").decode("utf-8"),
                         parse_float=decimal.Decimal)
        self.assertIsInstance(doc, dict)
        self.assertEqual(doc.get("displayTimeUnit"), "ns")
        other = doc["otherData"]
        self.assertEqual((other["open_calls"], other["exits_without_entry"]), (0, 0), other)
        origin = other["start_monotonic_ns"]
        calls, threads, processes = {}, {}, {}
        for ev in doc["traceEvents"]:
            if ev.get("ph") == "M":
                self.assertIn(ev.get("name"), ("process_name", "thread_name"), ev)
                self.assertIsInstance(ev["args"]["name"], str, ev)
                if ev["name"] == "thread_name":
                    threads[(ev["pid"], ev["tid"])] = ev["args"]["name"]
                else:
                    processes[ev["pid"]] = ev["args"]["name"]
                continue
            self.assertEqual(ev.get("ph"), "X", ev)
            self.assertEqual(set(ev), X_FIELDS, "fields of a call (no args: it returned)")
            self.assertTrue(isinstance(ev["name"], str) and isinstance(ev["cat"], str), ev)
            start = origin + exact_ns(self, ev["ts"])
            dur = exact_ns(self, ev["dur"])
            self.assertGreaterEqual(dur, 0, ev)
            calls.setdefault((ev["pid"], ev["tid"]), []).append((start, dur, ev["name"]))
        self.assertEqual(set(threads), set(calls), "thread names: one per thread with calls")
        self.assertEqual(set(processes), {pid for pid, _ in calls}, "process names")
        return calls, threads, processes

    def check_nested(self, calls):
        """Per thread, any two calls are disjoint or one lies inside the other."""
        for thread, cs in calls.items():
            ends = []
            for start, dur, name in sorted(cs, key=lambda c: (c[0], -c[1])):
                while ends and ends[-1] <= start:
                    ends.pop()
                if ends and start + dur > ends[-1]:
                    self.fail("thread %r: %s [%d, %d] overlaps a call ending at %d" %
                              (thread, name, start, start + dur, ends[-1]))
                ends.append(start + dur)

    def check_chrome(self, d, events, counts):
        """The calls are the trace's (as dump --json has them), nested, named."""
        calls, threads, processes = self.chrome(d)
        self.check_nested(calls)
        per_func = {}
        for cs in calls.values():
            for _, _, name in cs:
                per_func[name] = per_func.get(name, 0) + 1
        self.assertEqual(per_func, counts)
        got = sorted((pid, tid, name, start, dur)
                     for (pid, tid), cs in calls.items() for start, dur, name in cs)
        want = sorted((ev["pid"], ev["tid"], ev["func"], ev["ts"] - ev["dur_ns"], ev["dur_ns"])
                      for ev in events if ev["type"] == "exit")
        self.assertEqual(got, want, "the calls of dump --chrome and of dump --json")
        return calls, threads, processes

    def test_chrome_demo(self):
        d, res = h.record_prog(self, "s-demo", (DEMO_EXPR,))
        self.assertEqual(h.prog_counts(res.stdout), DEMO_COUNTS)
        _, threads, processes = self.check_chrome(d, self.clean_events(d), DEMO_COUNTS)
        self.assertEqual(list(threads.values()), ["s-demo"])
        self.assertEqual(list(processes.values()), [h.prog("s-demo") + " " + DEMO_EXPR])

    def test_chrome_threads(self):
        d, res = h.record_prog(self, "s-busy", (str(BUSY_THREADS), str(BUSY_CALLS)))
        self.assertEqual(res.status, BUSY_STATUS)
        calls, threads, _ = self.check_chrome(d, self.clean_events(d), h.prog_counts(res.stdout))
        printed = sorted(int(m.group(1)) for m in re.finditer(
            rb"^thread \d+ work_busy_outer (\d+)$", res.stdout, re.M))
        self.assertEqual(printed, [BUSY_CALLS + i for i in range(BUSY_THREADS)])
        outer = sorted(sum(1 for c in cs if c[2] == "work_busy_outer") for cs in calls.values())
        self.assertEqual(outer, printed, "work_busy_outer calls per thread")
        self.assertEqual(set(threads.values()), {"s-busy"})

    # ---- folded ------------------------------------------------------------------

    def folded(self, d, *opts):
        """{stack: weight} of dump --folded; every line `frames weight`, stacks sorted."""
        lines = self.dump(d, "--folded", *opts).decode("utf-8").splitlines()
        stacks = []
        weights = {}
        for line in lines:
            m = FOLDED_RE.match(line)
            self.assertIsNotNone(m, "not a folded line: %r" % line)
            stacks.append(m.group(1).encode())
            weights[m.group(1)] = int(m.group(2))
        self.assertEqual(stacks, sorted(set(stacks)), "stacks sorted, each once")
        self.assertTrue(all(weights.values()), "a line of weight 0: %r" % weights)
        return weights

    def check_folded(self, d, events):
        """Each thread's weights add up to its outermost calls' durations, exactly."""
        outermost = {}
        for ev in events:
            if ev["type"] == "exit" and ev["depth"] == 0:
                outermost[ev["tid"]] = outermost.get(ev["tid"], 0) + ev["dur_ns"]
        self.assertTrue(outermost)
        for tid, total in outermost.items():
            self.assertEqual(sum(self.folded(d, "--tid", str(tid)).values()), total,
                             "thread %d" % tid)
        weights = self.folded(d)
        self.assertEqual(sum(weights.values()), sum(outermost.values()))
        return weights

    def test_folded_demo(self):
        d, _ = h.record_prog(self, "s-demo", (DEMO_EXPR,))
        weights = self.check_folded(d, self.clean_events(d))
        self.assertEqual(set(weights), DEMO_STACKS)

    def test_folded_threads(self):
        d, res = h.record_prog(self, "s-busy", (str(BUSY_THREADS), str(BUSY_CALLS)))
        self.assertEqual(res.status, BUSY_STATUS)
        weights = self.check_folded(d, self.clean_events(d))
        self.assertEqual(set(weights), {"work_busy_outer", "work_busy_outer;work_busy_inner"})


if __name__ == "__main__":
    h.main()
