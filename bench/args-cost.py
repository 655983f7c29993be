#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What arguments and stack traces cost per traced call, beside the plain
figure in the same run, against uftrace's -A on the same binaries.

usage: bench/args-cost.py [--utrace PATH] [--rounds 5] [--repeat 2]
                          [--seed 1] [--run-seconds 0.3] [--keep]

Builds bench/bench-args.c three times with `cc -O2 -g` and runs, interleaved
over --rounds rounds in a shuffled order, each with its own calibrated N:

  ints  bench_target(int, int, int)
    untraced, utrace record, utrace record --args, uftrace -P,
    uftrace -P -A bench_target@arg1,arg2,arg3
  str   bench_target(const char *), strings of 16 to 40 bytes
    untraced, utrace record, utrace record --args (the string copied by the
    recorder, in the program, as the call happens),
    uftrace -P, uftrace -P -A bench_target@arg1/s
  deep  bench_target(int, int, int) 16 frames down
    untraced, utrace record, utrace record --stack bench_target (registers
    and 4 KiB of stack copied per entry, unwound by utrace as it drains)

The cost of one call is the slope of the loop's own CLOCK_MONOTONIC time
between N and 2N (bench-args prints loop_ns).  Every utrace run must hold
exactly 2N events, none dropped (utrace info), every uftrace run N calls;
a run that lost events is not timed and prints a WARNING.

Then `bench-args --readv` measures one 64-byte process_vm_readv() of the
process's own memory (what the recorder does per string) and of a child's
(what a tracer reading the string later would pay per string, besides
reading what the string holds then, not at the call).
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

from benchlib import (BENCH_DIR, TARGET, Uftrace, Untraced, UtraceRecord,
                      add_common_args, baseline_checksums, build, find_utrace,
                      finish, fmt_ns, load_line, machine_line, measure,
                      run_once, scratch_dir, utrace_version, warm_up)

SOURCE = os.path.join(BENCH_DIR, "bench-args.c")
KINDS = {
    "ints": "-DKIND_INTS",
    "str": "-DKIND_STR",
    "deep": "-DKIND_DEEP",
}
UFTRACE_ARGS = {"ints": "%s@arg1,arg2,arg3" % TARGET, "str": "%s@arg1/s" % TARGET}
MAX_CALLS = 1 << 30
READV_N = 200_000


class UftraceArgs(Uftrace):
    """uftrace record -P bench_target -A SPEC."""

    def __init__(self, exe, tmp, spec, name):
        self.spec = spec
        super().__init__(exe, tmp, name)

    def argv(self, n):
        argv = super().argv(n)
        return argv[:-2] + ["-A", self.spec] + argv[-2:]


def make_configs(kind, exe, tmp, utrace):
    d = os.path.join(tmp, kind)
    cfgs = [Untraced(exe, d, "%s untraced" % kind),
            UtraceRecord(exe, d, utrace, [], "%s record" % kind)]
    if kind == "deep":
        cfgs.append(UtraceRecord(exe, d, utrace, ["--stack", TARGET], "%s --stack" % kind))
    else:
        cfgs.append(UtraceRecord(exe, d, utrace, ["--args"], "%s --args" % kind))
        cfgs.append(Uftrace(exe, d, "%s uftrace" % kind))
        cfgs.append(UftraceArgs(exe, d, UFTRACE_ARGS[kind], "%s uftrace -A" % kind))
    for cfg in cfgs:
        cfg.loop_timed = True
    return cfgs


def calibrate(cfg, run_seconds):
    """N so that a run's loop lasts about run_seconds (N2 = 2 N)."""
    if cfg.tool() is False:
        return
    n = 1000
    while n < MAX_CALLS // 20:
        _, out, rc = run_once(cfg, n)
        if rc:
            break
        ns = int(next(l.split()[1] for l in out.splitlines() if l.startswith("loop_ns")))
        if ns >= 20_000_000:
            n = max(1000, int(n * run_seconds * 1e9 / ns))
            break
        n *= 10
    cfg.counts = (n, 2 * n)


def readv_figures(exe):
    res = subprocess.run([exe, "--readv", str(READV_N)], capture_output=True, text=True)
    got = dict(line.split() for line in res.stdout.splitlines())
    return float(got["self_ns"]), float(got["child_ns"])


def print_results(configs, slopes, checked):
    med = {k: statistics.median(v) for k, v in slopes.items()}
    row = "%-18s %10s %9s %9s %9s %8s %10s"
    print()
    print(row % ("config", "N", "median", "min", "max", "runs", "vs record"))
    print(row % ("", "", "ns/call", "ns/call", "ns/call", "correct", "ns/call"))
    for cfg in configs:
        if cfg.name not in slopes:
            print("%-18s %10d   %s" % (cfg.name, cfg.counts[0], cfg.note))
            continue
        s = slopes[cfg.name]
        kind = cfg.name.split()[0]
        base = med.get("%s record" % kind)
        extra = fmt_ns(med[cfg.name] - base) if base is not None else "-"
        total, ok = checked[cfg.name]
        print(row % (cfg.name, cfg.counts[0], fmt_ns(med[cfg.name]), fmt_ns(min(s)),
                     fmt_ns(max(s)), "%d/%d" % (ok, total), extra))
    print("median/min/max: the rounds' slopes of the loop time; every traced row is "
          "one entry and one exit event per call, the untraced call included.")
    for kind in ("ints", "str"):
        a, u = "%s --args" % kind, "%s uftrace -A" % kind
        if a in med and u in med and med[u] > 0:
            print("  %s: utrace --args / uftrace -A = %s / %s ns = %.3f" % (
                kind, fmt_ns(med[a]), fmt_ns(med[u]), med[a] / med[u]))


def main():
    ap = argparse.ArgumentParser(description="ns per traced call with --args and --stack")
    add_common_args(ap)
    ap.add_argument("--run-seconds", type=float, default=0.3,
                    help="calibrate N so that a run's loop takes about this long")
    args = ap.parse_args()
    utrace = find_utrace(args.utrace)
    start = time.perf_counter()
    with scratch_dir("utrace-argscost-", args.keep) as tmp:
        kinds, cmds = [], []
        for kind, flag in KINDS.items():
            d = os.path.join(tmp, kind)
            os.makedirs(d)
            exe, cmd = build(d, SOURCE, ("-O2", "-g", flag))
            cmds.append(cmd)
            cfgs = make_configs(kind, exe, tmp, utrace)
            for cfg in cfgs:
                calibrate(cfg, args.run_seconds)
            kinds.append((cfgs, baseline_checksums(exe, [n for c in cfgs for n in c.counts])))
        configs = [cfg for cfgs, _ in kinds for cfg in cfgs]
        print(machine_line())
        print(load_line("start"))
        print("utrace:  %s" % utrace_version(utrace))
        for cmd in cmds:
            print("build:   %s" % shlex.join(cmd))
        for cfg in configs:
            print("  %-18s %s" % (cfg.name, shlex.join(cfg.argv("N"))))
        print(flush=True)
        slopes, checked = {}, {}
        for cfgs, checksums in kinds:  # each binary's rows in rounds of their own
            usable = warm_up(cfgs, checksums)
            s, c, _, _ = measure(usable, args.rounds, args.repeat, args.seed, checksums)
            slopes.update(s)
            checked.update(c)
        print_results(configs, slopes, checked)
        self_ns, child_ns = readv_figures(os.path.join(tmp, "str", "bench-args"))
        print("  64-byte process_vm_readv: of the process itself %s ns (the recorder's "
              "read), of another process %s ns (a tracer's)" % (fmt_ns(self_ns),
                                                                 fmt_ns(child_ns)))
        print(load_line("end"))
    return finish(start)


if __name__ == "__main__":
    sys.exit(main())
