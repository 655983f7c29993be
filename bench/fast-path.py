#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The fast path: what one traced call costs with 5-byte patches, against the
rdtsc floor, int3 probes, uftrace and ltrace, side by side on one binary.

usage: bench/fast-path.py [--utrace PATH] [--rounds 5] [--repeat 2]
                          [--seed 1] [--run-seconds 0.5] [--keep]

Builds bench/bench-calls.c with `cc -O2 -g` (bench_target called from 4 call
sites) and runs, interleaved over --rounds rounds in a shuffled order:

  rdtsc floor      bench-calls --rdtsc N             rdtsc; call; rdtsc
  untraced         bench-calls N
  utrace default   utrace run -v -f bench_target -o T --json bench-calls N
  utrace record    utrace record -v -d D -f bench_target -- bench-calls N
                                                    every event to disk, no
                                                    formatting while it runs
  utrace args      utrace record with --args --retval  64-byte entries, 32-byte exits
  utrace call      the same with --patch=call        call stub_F, not jmp
  utrace int3      the same with --probe=int3        int3 probes
  uftrace          uftrace record -P bench_target bench-calls N
  ltrace           ltrace -x bench_target bench-calls N

The cost of one call is the slope between two call counts N1 < N2 = 2 N1 of
the loop's own CLOCK_MONOTONIC time, which bench-calls prints (loop_ns): it
leaves out start-up, probe insertion and the tracer draining its rings after
the program ends (the wall-clock slope is shown too).  The floor is the time
inside the rdtsc pairs.  N1 is calibrated per configuration so that a run
lasts about --run-seconds (0.2 to 2 s a run).  -v only makes utrace say
which probes it installed; the tracing options are the defaults.

Then it evaluates the targets of the "Fast path" issue on the medians, and
prints PASS or MISS with the numbers:
  default  (traced - untraced) <= floor + 45 ns, the floor from the same round
  default  traced / uftrace <= 1/2.4
  record   the same two for utrace record
  int3     <= 20 us per traced call
  int3     traced / ltrace <= 1/4

Correctness, outside the timed region: every utrace trace holds exactly N
entry and N exit events of bench_target (nothing dropped), and every traced
run prints the untraced checksum; a mismatch prints a WARNING line and makes
the exit status 1.  A configuration whose option this utrace does not know
is reported as n/a with utrace's message.
"""

import argparse
import shlex
import statistics
import sys
import time

from benchlib import (add_common_args, scratch_dir, Ltrace, RdtscFloor,
                      Uftrace, Untraced, Utrace, UtraceRecord, baseline_checksums, build,
                      find_line, find_utrace, finish, fmt_ns, load_line,
                      machine_line, measure, parse_install, run_once,
                      stderr_text, utrace_version, warm_up, warn)

# Targets of the issue; never loosen them here.
EXCESS_OVER_FLOOR_NS = 45
UFTRACE_RATIO = 1 / 2.4
INT3_MAX_NS = 20_000
LTRACE_RATIO = 1 / 4

MAX_CALLS = 1 << 30  # bench-calls takes N <= INT_MAX; N2 = 2 N1
CALIBRATE_MIN_S = 0.05

DEFAULT = "utrace default"
RECORD = "utrace record"
ARGS = "utrace args"
CALL = "utrace call"
INT3 = "utrace int3"


def loop_timed(cfg, first_n):
    """Mark @cfg as timed by its loop, with the N to start calibrating at."""
    cfg.loop_timed = True
    cfg.first_n = first_n
    return cfg


def make_configs(exe, tmp, utrace):
    u = utrace or "utrace"
    return [
        loop_timed(RdtscFloor(exe, tmp), 100_000),
        loop_timed(Untraced(exe, tmp), 1_000_000),
        loop_timed(Utrace(exe, tmp, u, ["-v"], DEFAULT), 2_000),
        loop_timed(UtraceRecord(exe, tmp, u, ["-v"], RECORD), 2_000),
        loop_timed(UtraceRecord(exe, tmp, u, ["-v", "--args", "--retval"], ARGS), 2_000),
        loop_timed(Utrace(exe, tmp, u, ["-v", "--patch=call"], CALL), 2_000),
        loop_timed(Utrace(exe, tmp, u, ["-v", "--probe=int3"], INT3), 2_000),
        loop_timed(Uftrace(exe, tmp), 20_000),
        loop_timed(Ltrace(exe, tmp), 500),
    ]


def round_down_125(x):
    """The largest 1, 2 or 5 times a power of ten not above @x (>= 1)."""
    p = 1
    while p * 10 <= x:
        p *= 10
    for m in (5, 2, 1):
        if m * p <= x:
            return m * p
    return 1


def calibrate(cfg, run_seconds):
    """Set cfg.counts so that the N1 run lasts about @run_seconds.

    Wall-clock slope between n and 2n, n grown tenfold until the difference
    is measurable.  A failing run leaves the counts alone: the warm-up then
    reports why the configuration is skipped."""
    if cfg.tool() is False:
        return
    n = cfg.first_n
    while True:
        t1, _, rc1 = run_once(cfg, n)
        t2, _, rc2 = run_once(cfg, 2 * n)
        if rc1 or rc2:
            cfg.counts = (n, 2 * n)
            return
        if t2 - t1 >= CALIBRATE_MIN_S or 20 * n > MAX_CALLS:
            break
        n *= 10
    per_call = max(t2 - t1, 1e-6) / n
    n1 = round_down_125(min(run_seconds / per_call, MAX_CALLS / 2))
    cfg.counts = (n1, 2 * n1)


class ProbeKinds:
    """What utrace's -v install line said, per configuration, last run."""

    def __init__(self):
        self.seen = {}

    def on_run(self, cfg, n, secs, text):
        if isinstance(cfg, Utrace):
            self.seen[cfg.name] = find_line(stderr_text(cfg), parse_install)

    def describe(self, name):
        got = self.seen.get(name)
        if got is None:
            return "n/a: no 'install:' line"
        return "%d jmp, %d call, %d int3" % (got["jmp"], got["call"],
                                             got["int3"])


def print_setup(utrace, cc_cmd, configs, args):
    print(machine_line())
    print(load_line("start"))
    print("utrace:  %s" % utrace_version(utrace))
    print("build:   %s" % shlex.join(cc_cmd))
    print("rounds:  %d, interleaved, each run %d times per round (fastest "
          "counts), shuffle seed %d" % (args.rounds, args.repeat, args.seed))
    print("timing:  slope of the loop's own time (bench-calls loop_ns) "
          "between N1 and N2; the floor: time inside the rdtsc pairs")
    print("commands (N = N1 and N2 of the table, calibrated to ~%.2g s a "
          "run):" % args.run_seconds)
    for cfg in configs:
        print("  %-15s %s" % (cfg.name, shlex.join(cfg.argv("N"))))
    print(flush=True)


def print_table(configs, slopes, checked, walls, kinds):
    row = "%-15s %10s %10s %9s %9s %9s %10s %8s  %s"
    print()
    print(row % ("config", "N1", "N2", "median", "min", "max", "wall",
                 "runs", "probes (utrace -v)"))
    print(row % ("", "", "", "ns/call", "ns/call", "ns/call", "ns/call",
                 "correct", ""))
    for cfg in configs:
        if cfg.name not in slopes:
            print("%-15s %10d %10d   %s" % (cfg.name, cfg.counts[0],
                                           cfg.counts[1], cfg.note))
            continue
        s = slopes[cfg.name]
        total, ok = checked[cfg.name]
        print(row % (cfg.name, cfg.counts[0], cfg.counts[1],
                     fmt_ns(statistics.median(s)), fmt_ns(min(s)),
                     fmt_ns(max(s)), fmt_ns(statistics.median(walls[cfg.name])),
                     "%d/%d" % (ok, total),
                     kinds.describe(cfg.name) if isinstance(cfg, Utrace)
                     else ""))
    print("median/min/max: over the rounds' slopes of the loop time; wall: "
          "median slope of the whole command's wall-clock time (start-up "
          "cancels, draining after the loop does not).")
    print("Traced rows cost one entry + one exit event per call and include "
          "the untraced call.")


def verdict(ok):
    return "PASS" if ok else "MISS"


def na(slopes, notes, *names):
    """None when every named configuration was measured, else 'n/a (why)'."""
    for n in names:
        if n not in slopes:
            why = notes.get(n) or "not measured"
            if why.startswith("n/a: "):
                why = why[len("n/a: "):]
            return "n/a (%s: %s)" % (n, why)
        if n != "untraced" and statistics.median(slopes[n]) <= 0:
            warn("%s: median slope %s ns is not positive: noise larger than "
                 "the runs; raise --run-seconds or --rounds" % (
                     n, fmt_ns(statistics.median(slopes[n]))))
            return "n/a (%s: median slope not positive)" % n
    return None


def print_default_targets(slopes, notes, med, row, label):
    """The two targets of a 5-byte-patch row: over the floor, against uftrace."""
    miss = na(slopes, notes, row, "untraced", "rdtsc floor")
    if miss:
        print("  %s traced - untraced <= floor + %d ns: %s" % (
            label, EXCESS_OVER_FLOOR_NS, miss))
    else:
        over = [d - u for d, u in zip(slopes[row], slopes["untraced"])]
        excess = [o - f for o, f in zip(over, slopes["rdtsc floor"])]
        e = statistics.median(excess)
        print("  %s traced - untraced = %s ns (floor %s ns), excess over "
              "the same round's floor %s ns <= %d ns: %s" % (
                  label, fmt_ns(statistics.median(over)),
                  fmt_ns(med["rdtsc floor"]), fmt_ns(e),
                  EXCESS_OVER_FLOOR_NS, verdict(e <= EXCESS_OVER_FLOOR_NS)))

    miss = na(slopes, notes, row, "uftrace")
    if miss:
        print("  %s utrace/uftrace <= 1/2.4: %s" % (label, miss))
    else:
        r = med[row] / med["uftrace"]
        u = med.get("untraced", 0)
        print("  %s utrace/uftrace = %s/%s ns = %.3f (1/%.3g) <= 1/2.4 = "
              "%.3f: %s  [overheads only: %.3f]" % (
                  label, fmt_ns(med[row]), fmt_ns(med["uftrace"]), r,
                  1 / r if r > 0 else float("inf"), UFTRACE_RATIO,
                  verdict(r <= UFTRACE_RATIO),
                  (med[row] - u) / (med["uftrace"] - u)))


def print_targets(slopes, notes):
    """The issue's targets, on medians; the floor comes from the same round."""
    med = {k: statistics.median(v) for k, v in slopes.items()}
    print("\ntargets (medians over the rounds):")

    print_default_targets(slopes, notes, med, DEFAULT, "default:")
    print_default_targets(slopes, notes, med, RECORD, "record: ")

    if ARGS in slopes and RECORD in slopes:
        print("  (info)   record --args --retval: %s ns per call, %s ns over record "
              "(six argument words and two return words; typed from DWARF only "
              "by the views)" % (fmt_ns(med[ARGS]), fmt_ns(med[ARGS] - med[RECORD])))

    if CALL in slopes and DEFAULT in slopes:
        print("  (info)   --patch=call - default = %s ns per call" %
              fmt_ns(med[CALL] - med[DEFAULT]))

    miss = na(slopes, notes, INT3)
    if miss:
        print("  int3:    <= 20 us per call: %s" % miss)
    else:
        print("  int3:    %s ns = %.2f us per call <= %d us: %s" % (
            fmt_ns(med[INT3]), med[INT3] / 1000, INT3_MAX_NS // 1000,
            verdict(med[INT3] <= INT3_MAX_NS)))

    miss = na(slopes, notes, INT3, "ltrace")
    if miss:
        print("  int3:    utrace/ltrace <= 1/4: %s" % miss)
    else:
        r = med[INT3] / med["ltrace"]
        print("  int3:    utrace/ltrace = %s/%s ns = %.3f (1/%.3g) <= 1/4: %s" % (
            fmt_ns(med[INT3]), fmt_ns(med["ltrace"]), r,
            1 / r if r > 0 else float("inf"), verdict(r <= LTRACE_RATIO)))


def main():
    ap = argparse.ArgumentParser(
        description="ns per traced call: utrace's fast path vs int3 vs peers")
    add_common_args(ap)
    ap.add_argument("--run-seconds", type=float, default=0.5,
                    help="calibrate N1 so a run takes about this long "
                    "(default 0.5; N2 = 2 N1)")
    args = ap.parse_args()
    if args.rounds < 1 or args.repeat < 1:
        ap.error("--rounds and --repeat must be at least 1")
    if not 0.1 <= args.run_seconds <= 1:
        ap.error("--run-seconds must lie within 0.1 and 1 (runs of 0.2-2 s)")

    utrace = find_utrace(args.utrace)
    start = time.perf_counter()
    with scratch_dir("utrace-fastpath-", args.keep) as tmp:
        exe, cc_cmd = build(tmp)
        configs = make_configs(exe, tmp, utrace)
        print_setup(utrace, cc_cmd, configs, args)
        for cfg in configs:
            calibrate(cfg, args.run_seconds)
        checksums = baseline_checksums(
            exe, [n for cfg in configs for n in cfg.counts])
        usable = warm_up(configs, checksums)
        kinds = ProbeKinds()
        slopes, checked, _, walls = measure(usable, args.rounds, args.repeat,
                                            args.seed, checksums, kinds.on_run)
        print_table(configs, slopes, checked, walls, kinds)
        print_targets(slopes, {c.name: c.note for c in configs})
    return finish(start)


if __name__ == "__main__":
    sys.exit(main())
