#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace report on traces that `utrace record` wrote: the Calls column is
each program's own count, exactly; the sort keys; one table per thread;
recursion counted whole in Total but once in Self; a bad key is refused."""

import re
import unittest

import harness as h

DUR = r"(\d+)\.(\d{3}) +(ns|us|ms|s)"
ROW_RE = re.compile(r"^\s*" + r"\s+".join([DUR, DUR, r"(\d+)"] + [DUR] * 5) + r"  (\S.*)$")
HEADER_RE = re.compile(r"^#\s+Total\s+Self\s+Calls\s+Min\s+Avg\s+Max\s+P50\s+P99  Function$")
THREAD_RE = re.compile(r"^# thread (\d+) \((.*)\)$")
UNIT_NS = {"ns": 1, "us": 1000, "ms": 1000 ** 2, "s": 1000 ** 3}
COLUMNS = ("total", "self", "calls", "min", "avg", "max", "p50", "p99")
# s-demo's expression: 6 numbers in 3 terms in 1 expression
DEMO_EXPR = "1*2*3+4*5+6"
DEMO_COUNTS = {"work_number": 6, "work_term": 3, "work_expr": 1}
BUSY_THREADS, BUSY_CALLS = 4, 3000
BUSY_STATUS = 23
REPORT_TIMEOUT = 60


def to_ns(whole, frac, unit):
    return int(whole) * UNIT_NS[unit] + int(frac) * UNIT_NS[unit] // 1000


def parse_row(line):
    """{column: value} of a table row, times in ns (as printed: truncated)."""
    m = ROW_RE.match(line)
    if not m:
        return None
    g = m.groups()
    times = [to_ns(*g[i:i + 3]) for i in range(0, 6, 3)] + [int(g[6])]
    times += [to_ns(*g[i:i + 3]) for i in range(7, 22, 3)]
    row = dict(zip(COLUMNS, times))
    row["name"] = g[22]
    return row


class ReportTest(unittest.TestCase):
    def report(self, d, *opts):
        res = h.run([h.utrace_path(), "report", "-d", d] + list(opts), timeout=REPORT_TIMEOUT)
        self.assertEqual(res.status, 0, "report failed: %r" % res.stderr)
        self.assertEqual(res.stderr, b"")
        return res.stdout.decode().splitlines()

    def tables(self, lines):
        """[(thread heading or None, [rows])]: every line a heading, a header,
        a row, a blank line between tables or the waits line (no loss)."""
        tables, heading = [], None
        for line in lines:
            if THREAD_RE.match(line):
                heading = THREAD_RE.match(line).groups()
            elif HEADER_RE.match(line):
                tables.append((heading, []))
            elif line == "" or h.WAITS_LINE_RE.match(line):
                continue
            else:
                row = parse_row(line)
                self.assertIsNotNone(row, "not a table row: %r in %r" % (line, lines))
                self.assertTrue(tables, "a row before the header: %r" % lines)
                tables[-1][1].append(row)
        return tables

    def one_table(self, lines):
        tables = self.tables(lines)
        self.assertEqual(len(tables), 1, lines)
        self.assertIsNone(tables[0][0], lines)
        return tables[0][1]

    def check_row_times(self, row):
        self.assertLessEqual(row["self"], row["total"], row)
        self.assertTrue(row["min"] <= row["p50"] <= row["p99"] <= row["max"], row)
        self.assertTrue(row["min"] <= row["avg"] <= row["max"], row)
        self.assertLessEqual(row["max"], row["total"], row)

    def test_demo_counts_by_total(self):
        d, res = h.record_prog(self, "s-demo", (DEMO_EXPR,))
        self.assertEqual(h.prog_counts(res.stdout), DEMO_COUNTS)
        rows = self.one_table(self.report(d))
        self.assertEqual({r["name"]: r["calls"] for r in rows}, DEMO_COUNTS)
        for r in rows:
            self.check_row_times(r)
        totals = [r["total"] for r in rows]
        self.assertEqual(totals, sorted(totals, reverse=True), "not by total: %r" % rows)
        # work_expr holds every other call
        self.assertEqual(rows[0]["name"], "work_expr")

    def test_sort_keys(self):
        d, _ = h.record_prog(self, "s-demo", (DEMO_EXPR,))
        rows = self.one_table(self.report(d, "-s", "calls"))
        self.assertEqual([r["name"] for r in rows], ["work_number", "work_term", "work_expr"])
        rows = self.one_table(self.report(d, "--sort", "name"))
        self.assertEqual([r["name"] for r in rows], ["work_expr", "work_number", "work_term"])
        for key in ("self", "avg", "max"):
            rows = self.one_table(self.report(d, "-s", key))
            values = [r[key] for r in rows]
            self.assertEqual(values, sorted(values, reverse=True), "-s %s: %r" % (key, rows))
            self.assertEqual({r["name"] for r in rows}, set(DEMO_COUNTS))

    def test_threads(self):
        d, res = h.record_prog(self, "s-busy", (str(BUSY_THREADS), str(BUSY_CALLS)))
        self.assertEqual(res.status, BUSY_STATUS)
        printed = sorted(int(m.group(1)) for m in re.finditer(
            rb"^thread \d+ work_busy_outer (\d+)$", res.stdout, re.M))
        self.assertEqual(printed, [BUSY_CALLS + i for i in range(BUSY_THREADS)])

        rows = self.one_table(self.report(d))
        self.assertEqual({r["name"]: r["calls"] for r in rows}, h.prog_counts(res.stdout))

        tables = self.tables(self.report(d, "--threads"))
        tids = [int(heading[0]) for heading, _ in tables]
        self.assertEqual(tids, sorted(set(tids)), "one table per thread, by tid")
        per_thread = []
        for heading, rows in tables:
            self.assertEqual(heading[1], "s-busy")
            calls = {r["name"]: r["calls"] for r in rows}
            self.assertEqual(set(calls), {"work_busy_outer", "work_busy_inner"}, tables)
            self.assertEqual(calls["work_busy_outer"], calls["work_busy_inner"])
            per_thread.append(calls["work_busy_outer"])
            for r in rows:
                self.check_row_times(r)
        self.assertEqual(sorted(per_thread), printed)

    def test_recursion_total_and_self(self):
        """work_recurse's calls nest 10000 deep: Total counts each nested call
        whole, so it far exceeds work_root's; Self counts the time once."""
        d, res = h.record_prog(self, "s-recursion")
        rows = {r["name"]: r for r in self.one_table(self.report(d))}
        self.assertEqual({f: r["calls"] for f, r in rows.items()}, h.prog_counts(res.stdout))
        recurse, root = rows["work_recurse"], rows["work_root"]
        self.assertGreater(recurse["total"], 10 * root["total"], rows)
        # printed times are truncated to 3 digits: a thousandth of slack
        self.assertLessEqual(recurse["self"], root["total"] * 1.001 + 1000, rows)

    def test_bad_sort_key(self):
        d, _ = h.record_prog(self, "s-demo")
        res = h.run([h.utrace_path(), "report", "-d", d, "-s", "bogus"], timeout=REPORT_TIMEOUT)
        self.assertNotEqual(res.status, 0)
        self.assertEqual(res.stdout, b"")
        lines = res.stderr_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("utrace: ") and "bogus" in lines[0], lines)


if __name__ == "__main__":
    h.main()
