#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Measure what one traced call costs under utrace, ltrace and uftrace.

usage: bench/int3-cost.py [--utrace PATH] [--rounds 5] [--repeat 2]
                          [--seed 1] [--keep]

Builds bench/bench-calls.c with `cc -O2 -g` into a temporary directory, then
runs every configuration at two call counts N1 < N2, interleaved over several
rounds (each round runs every (configuration, N) pair --repeat times, in a
shuffled order, and keeps the fastest run of each pair).  The cost of one call is the slope of the wall-clock times

    ns per call = (t(N2) - t(N1)) / (N2 - N1)

which cancels process start-up, symbol loading and probe insertion.  The table
gives the median over the rounds; the traced configurations cost one entry
and one exit event per call.

Configurations:
  untraced   bench-calls N                       the call itself
  rdtsc      bench-calls --rdtsc N               rdtsc; call; rdtsc, timed inside
  utrace     utrace run -f bench_target ...      int3 probe at the entry
  ltrace     ltrace -x bench_target ...          int3 at entry and return
  uftrace    uftrace record -P bench_target ...  5-byte jump patched in process

On the side it checks correctness: every utrace JSON trace must hold exactly N
entry and N exit events of bench_target, every ltrace log N calls, and every
traced run must print the checksum of the untraced run.  A mismatch prints a
WARNING line and makes the exit status 1.
"""

import argparse
import shlex
import statistics
import sys
import time

from benchlib import (add_common_args, scratch_dir, Ltrace, RdtscFloor,
                      Uftrace, Untraced, Utrace, baseline_checksums, build,
                      find_utrace, finish, fmt_ns, load_line, machine_line,
                      measure, warm_up)


def print_table(configs, slopes, checked, fastest, untraced_ns):
    row = "%-12s %9s %9s %10s %10s %10s %10s %8s"
    print()
    print(row % ("config", "N1", "N2", "median", "min", "max", "fastest",
                 "runs"))
    print(row % ("", "", "", "ns/call", "ns/call", "ns/call", "runs ns",
                 "correct"))
    for cfg in configs:
        if cfg.name not in slopes:
            print("%-12s %9d %9d   %s" % (cfg.name, cfg.counts[0],
                                          cfg.counts[1], cfg.note))
            continue
        s = slopes[cfg.name]
        total, ok = checked[cfg.name]
        print(row % (cfg.name, cfg.counts[0], cfg.counts[1],
                     fmt_ns(statistics.median(s)), fmt_ns(min(s)),
                     fmt_ns(max(s)), fmt_ns(fastest[cfg.name]),
                     "%d/%d" % (ok, total)))
    print("median/min/max: over the rounds' slopes; fastest runs: slope "
          "between the fastest run at N1 and at N2 over all rounds.")
    print("Traced rows cost one entry + one exit event per call and include "
          "the untraced call (median %s ns)." % (
              fmt_ns(untraced_ns) if untraced_ns is not None else "n/a"))


def print_ratios(slopes, fastest):
    print()
    if "utrace" not in slopes:
        print("no utrace figure, no ratios")
        return
    u = statistics.median(slopes["utrace"])
    print("%-8s median %s ns per traced call (%.2f us), fastest runs %s ns" % (
        "utrace", fmt_ns(u), u / 1000, fmt_ns(fastest["utrace"])))
    for peer in ("ltrace", "uftrace"):
        if peer not in slopes:
            print("utrace/%s: n/a (%s not measured)" % (peer, peer))
            continue
        p = statistics.median(slopes[peer])
        print("%-8s median %s ns per traced call (%.2f us), fastest runs %s "
              "ns" % (peer, fmt_ns(p), p / 1000, fmt_ns(fastest[peer])))
    for peer in ("ltrace", "uftrace"):
        if peer not in slopes:
            continue
        p = statistics.median(slopes[peer])
        print("utrace/%-8s %.3g on medians, %.3g on fastest runs" % (
            peer + ":", u / p, fastest["utrace"] / fastest[peer]))


def print_setup(utrace, cc_cmd, configs, args):
    print(machine_line())
    print(load_line("start"))
    print("utrace:  %s" % utrace)
    print("build:   %s" % shlex.join(cc_cmd))
    print("rounds:  %d, interleaved, each run %d times per round (fastest "
          "counts), shuffle seed %d" % (args.rounds, args.repeat, args.seed))
    print("commands (N = N1 and N2 of the table):")
    for cfg in configs:
        print("  %-12s %s" % (cfg.name, shlex.join(cfg.argv("N"))))
    print(flush=True)


def main():
    ap = argparse.ArgumentParser(
        description="ns per traced call: utrace vs ltrace vs uftrace")
    add_common_args(ap)
    args = ap.parse_args()
    if args.rounds < 1 or args.repeat < 1:
        ap.error("--rounds and --repeat must be at least 1")

    utrace = find_utrace(args.utrace)
    start = time.perf_counter()
    with scratch_dir("utrace-bench-", args.keep) as tmp:
        exe, cc_cmd = build(tmp)
        configs = [Untraced(exe, tmp), RdtscFloor(exe, tmp),
                   Utrace(exe, tmp, utrace or "utrace"), Ltrace(exe, tmp),
                   Uftrace(exe, tmp)]
        print_setup(utrace, cc_cmd, configs, args)
        checksums = baseline_checksums(
            exe, [n for cfg in configs for n in cfg.counts])
        usable = warm_up(configs, checksums)
        slopes, checked, fastest, _ = measure(usable, args.rounds, args.repeat,
                                              args.seed, checksums)
        untraced_ns = (statistics.median(slopes["untraced"])
                       if "untraced" in slopes else None)
        print_table(configs, slopes, checked, fastest, untraced_ns)
        print_ratios(slopes, fastest)
    return finish(start)


if __name__ == "__main__":
    sys.exit(main())
