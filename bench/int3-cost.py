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
import glob
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
SOURCE = os.path.join(BENCH_DIR, "bench-calls.c")
TARGET = "bench_target"
NS_PER_S = 1e9

warnings = []


def warn(msg):
    warnings.append(msg)
    print("WARNING: " + msg, flush=True)


def find_utrace(explicit):
    """--utrace, else $UTRACE, else PATH, else the newest build*/utrace."""
    if explicit:
        return os.path.abspath(explicit)
    if os.environ.get("UTRACE"):
        return os.path.abspath(os.environ["UTRACE"])
    on_path = shutil.which("utrace")
    if on_path:
        return on_path
    built = glob.glob(os.path.join(REPO_DIR, "build*", "utrace"))
    built = [p for p in built if os.access(p, os.X_OK)]
    if built:
        return max(built, key=os.path.getmtime)
    return None


def build(tmp):
    cc = os.environ.get("CC", "cc")
    exe = os.path.join(tmp, "bench-calls")
    cmd = [cc, "-O2", "-g", "-o", exe, SOURCE]
    if subprocess.run(cmd).returncode != 0:
        sys.exit("int3-cost: cannot build bench-calls: " + shlex.join(cmd))
    return exe, cmd


def read_checksum(text):
    for line in text.splitlines():
        if line.startswith("checksum "):
            return line.split()[1]
    return None


class Config:
    """One way of running bench-calls; subclasses say how and what to check."""

    name = ""
    counts = (0, 0)

    def __init__(self, exe, tmp):
        self.exe = exe
        self.dir = os.path.join(tmp, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.note = ""

    def tool(self):
        """The tracer binary, None when none is needed, False when missing."""
        return None

    def argv(self, n):
        raise NotImplementedError

    def prepare(self, n):
        """Remove what an earlier run left behind, before the clock starts."""

    def check(self, n, out):
        """Return a list of problems with the run of @n calls (untimed)."""
        return []

    def ns_per_call(self, n1, t1, out1, n2, t2, out2):
        return (t2 - t1) / (n2 - n1) * NS_PER_S


class Untraced(Config):
    name = "untraced"
    counts = (10_000_000, 20_000_000)

    def argv(self, n):
        return [self.exe, str(n)]


class RdtscFloor(Config):
    """rdtsc; call; rdtsc: the cycles inside the pairs, converted to ns with
    the loop's own TSC/CLOCK_MONOTONIC ratio, slope over N like the rest."""

    name = "rdtsc floor"
    counts = (2_000_000, 4_000_000)

    def argv(self, n):
        return [self.exe, "--rdtsc", str(n)]

    def inside_ns(self, out):
        for line in out.splitlines():
            f = line.split()
            if f and f[0] == "inside_cycles":
                inside, cycles, ns = int(f[1]), int(f[3]), int(f[5])
                return inside * ns / cycles
        raise ValueError("bench-calls --rdtsc printed no inside_cycles line")

    def ns_per_call(self, n1, t1, out1, n2, t2, out2):
        return (self.inside_ns(out2) - self.inside_ns(out1)) / (n2 - n1)


class Utrace(Config):
    name = "utrace"
    counts = (20_000, 40_000)

    def __init__(self, exe, tmp, utrace):
        self.utrace = utrace
        super().__init__(exe, tmp)
        self.trace = os.path.join(self.dir, "trace.json")

    def tool(self):
        if os.access(self.utrace, os.X_OK):
            return self.utrace
        return False

    def argv(self, n):
        return [self.utrace, "run", "-f", TARGET, "-o", self.trace, "--json",
                self.exe, str(n)]

    def prepare(self, n):
        if os.path.exists(self.trace):
            os.unlink(self.trace)

    def check(self, n, out):
        entries = exits = 0
        with open(self.trace) as f:
            for line in f:
                ev = json.loads(line)
                if ev.get("func") != TARGET:
                    continue
                if ev.get("type") == "entry":
                    entries += 1
                elif ev.get("type") == "exit":
                    exits += 1
        if entries == n and exits == n:
            return []
        return ["utrace trace of N=%d has %d entry and %d exit events of %s"
                % (n, entries, exits, TARGET)]


class Ltrace(Config):
    name = "ltrace"
    counts = (2_000, 4_000)

    def __init__(self, exe, tmp):
        super().__init__(exe, tmp)
        self.log = os.path.join(self.dir, "ltrace.log")

    def tool(self):
        return shutil.which("ltrace") or False

    def argv(self, n):
        return ["ltrace", "-x", TARGET, "-o", self.log, self.exe, str(n)]

    def check(self, n, out):
        with open(self.log) as f:
            calls = sum(1 for line in f if line.startswith(TARGET + "("))
        if calls == n:
            return []
        return ["ltrace log of N=%d has %d calls of %s" % (n, calls, TARGET)]


class Uftrace(Config):
    name = "uftrace"
    # Larger than the brief's 200k/400k: at ~0.3 us a call, 200k calls
    # (60 ms) were within uftrace's own start-up jitter.
    counts = (500_000, 1_000_000)

    def __init__(self, exe, tmp):
        super().__init__(exe, tmp)
        self.data = os.path.join(self.dir, "uftrace.data")

    def tool(self):
        return shutil.which("uftrace") or False

    def argv(self, n):
        return ["uftrace", "record", "-d", self.data, "-P", TARGET,
                self.exe, str(n)]

    def prepare(self, n):
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.data + ".old", ignore_errors=True)


def run_once(cfg, n):
    """Run @cfg with @n calls; return (seconds, stdout text, returncode)."""
    cfg.prepare(n)
    out_path = os.path.join(cfg.dir, "stdout")
    err_path = os.path.join(cfg.dir, "stderr")
    argv = cfg.argv(n)
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=err, cwd=cfg.dir).returncode
        t1 = time.perf_counter()
    with open(out_path) as f:
        text = f.read()
    return t1 - t0, text, rc


def stderr_tail(cfg):
    with open(os.path.join(cfg.dir, "stderr")) as f:
        lines = f.read().strip().splitlines()
    return " | ".join(lines[-3:])


def problems_of(cfg, n, text, rc, checksums):
    """What is wrong with one run, [] when nothing (checks are untimed)."""
    if rc != 0:
        return ["%s N=%d exited with status %d: %s"
                % (cfg.name, n, rc, stderr_tail(cfg))]
    found = read_checksum(text)
    problems = []
    if n in checksums and found != checksums[n]:
        problems.append("%s N=%d printed checksum %s, untraced run printed %s"
                        % (cfg.name, n, found, checksums[n]))
    return problems + cfg.check(n, text)


def warm_up(configs, checksums):
    """Run each configuration once per N, untimed; drop those that fail.

    This also pages in the tracers.  A tracer that is missing or cannot run
    the program is skipped with a note instead of failing the benchmark; a
    utrace that cannot is also a warning.
    """
    usable = []
    for cfg in configs:
        if cfg.tool() is False:
            cfg.note = "skipped: not installed / not found"
            if isinstance(cfg, Utrace):
                warn("utrace not found; pass --utrace PATH")
            continue
        failed = []
        for n in cfg.counts:
            _, text, rc = run_once(cfg, n)
            failed += problems_of(cfg, n, text, rc, checksums)
            if rc != 0:
                break
        if rc != 0:
            cfg.note = "skipped: " + failed[0]
            if isinstance(cfg, Utrace):
                warn(failed[0])
            continue
        for p in failed:
            warn("warm-up: " + p)
        usable.append(cfg)
    return usable


def baseline_checksums(exe, configs):
    """The checksum of every N any configuration uses, from untraced runs."""
    checksums = {}
    for n in sorted({n for cfg in configs for n in cfg.counts}):
        res = subprocess.run([exe, str(n)], check=True, capture_output=True,
                             text=True)
        checksums[n] = read_checksum(res.stdout)
    return checksums


def measure(configs, rounds, repeat, seed, checksums):
    """Interleaved rounds; returns {config name: [ns per call per round]}.

    Within a round every (configuration, N) pair runs @repeat times in a
    shuffled order and the fastest of them counts: on a shared machine the
    noise only ever adds time, so the minimum is the best estimate of a run.
    """
    rng = random.Random(seed)
    overall = {}
    slopes = {cfg.name: [] for cfg in configs}
    checked = {cfg.name: [0, 0] for cfg in configs}
    for r in range(rounds):
        jobs = [(cfg, n) for cfg in configs for n in cfg.counts] * repeat
        rng.shuffle(jobs)
        best = {}
        for cfg, n in jobs:
            secs, text, rc = run_once(cfg, n)
            problems = problems_of(cfg, n, text, rc, checksums)
            checked[cfg.name][0] += 1
            if problems:
                for p in problems:
                    warn("round %d: %s" % (r + 1, p))
            else:
                checked[cfg.name][1] += 1
            key = (cfg.name, n)
            if key not in best or secs < best[key][0]:
                best[key] = (secs, text)
            if key not in overall or secs < overall[key][0]:
                overall[key] = (secs, text)
        for cfg in configs:
            n1, n2 = cfg.counts
            t1, out1 = best[(cfg.name, n1)]
            t2, out2 = best[(cfg.name, n2)]
            slopes[cfg.name].append(cfg.ns_per_call(n1, t1, out1, n2, t2, out2))
        print("round %d/%d: %s" % (r + 1, rounds, ", ".join(
            "%s %s" % (c.name, fmt_ns(slopes[c.name][-1])) for c in configs)),
            flush=True)
    return slopes, checked, slopes_of_fastest(configs, overall)


def slopes_of_fastest(configs, fastest):
    """ns per call from the fastest run at each N over all rounds: a second
    estimate, robust when other load on the machine made whole rounds slow."""
    result = {}
    for cfg in configs:
        n1, n2 = cfg.counts
        t1, out1 = fastest[(cfg.name, n1)]
        t2, out2 = fastest[(cfg.name, n2)]
        result[cfg.name] = cfg.ns_per_call(n1, t1, out1, n2, t2, out2)
    return result


def fmt_ns(ns):
    if abs(ns) >= 100:
        return "%.0f" % ns
    if abs(ns) >= 10:
        return "%.1f" % ns
    return "%.2f" % ns


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
          "the untraced call (median %s ns)." % fmt_ns(untraced_ns))


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
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print("machine: %s, %d CPUs, Linux %s" % (cpu, os.cpu_count() or 0,
                                              platform.release()))
    print("load:    %.2f %.2f %.2f at start (ptrace stops are very "
          "sensitive to other load)" % os.getloadavg())
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
    ap.add_argument("--utrace", help="utrace binary (default: $UTRACE, PATH, "
                    "or the newest build*/utrace of the repository)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="interleaved rounds (default 5)")
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of each (configuration, N) per round, the "
                    "fastest counts (default 2)")
    ap.add_argument("--seed", type=int, default=1,
                    help="seed of the per-round shuffle (default 1)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (traces, logs)")
    args = ap.parse_args()
    if args.rounds < 1 or args.repeat < 1:
        ap.error("--rounds and --repeat must be at least 1")

    utrace = find_utrace(args.utrace)
    start = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="utrace-bench-")
    try:
        exe, cc_cmd = build(tmp)
        configs = [Untraced(exe, tmp), RdtscFloor(exe, tmp),
                   Utrace(exe, tmp, utrace or "utrace"), Ltrace(exe, tmp),
                   Uftrace(exe, tmp)]
        print_setup(utrace, cc_cmd, configs, args)
        checksums = baseline_checksums(exe, configs)
        usable = warm_up(configs, checksums)
        slopes, checked, fastest = measure(usable, args.rounds, args.repeat,
                                 args.seed, checksums)
        untraced_ns = statistics.median(slopes["untraced"])
        print_table(configs, slopes, checked, fastest, untraced_ns)
        print_ratios(slopes, fastest)
    finally:
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\nload %.2f %.2f %.2f at end; wall time %.1f s, %d warning(s)" % (
        os.getloadavg() + (time.perf_counter() - start, len(warnings))))
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main())
