# SPDX-License-Identifier: GPL-2.0
"""Shared helpers of the bench/ scripts (Python 3 standard library only).

Finding utrace, building bench-calls, one class per way of running it
(untraced, the rdtsc floor, utrace with given options, ltrace, uftrace),
interleaved rounds of runs with per-round slopes, counting the events of a
JSON trace without parsing every line, the parsers of the lines utrace
prints with -v and of `utrace info`, checking uftrace's calls, and running
commands under rss-of for their peak memory.
"""

import contextlib
import glob
import json
import tempfile
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
CALLS_SOURCE = os.path.join(BENCH_DIR, "bench-calls.c")
RSS_SOURCE = os.path.join(BENCH_DIR, "rss-of.c")
TARGET = "bench_target"
NS_PER_S = 1e9
MS_PER_S = 1e3
READ_CHUNK = 64 << 20
KIB_PER_MIB = 1024
SUMMARY_TAIL = 1 << 20  # bytes read from a JSON trace's end for its summary

LOSS_KEYS = ("dropped", "torn", "invalid", "lost_return", "no_slot",
             "rstack_overflow", "no_tls")

warnings = []


def warn(msg):
    warnings.append(msg)
    print("WARNING: " + msg, flush=True)


def sanitized_build(binary):
    """Whether the meson build that made @binary uses a sanitizer: no figure of it counts."""
    info = os.path.join(os.path.dirname(binary), "meson-info", "intro-buildoptions.json")
    try:
        with open(info) as f:
            opts = json.load(f)
    except (OSError, ValueError):
        return False
    return any(o.get("name") == "b_sanitize" and o.get("value") not in ("none", "", None)
               for o in opts)


def find_utrace(explicit):
    """--utrace, else $UTRACE, else PATH, else the newest build*/utrace without sanitizers."""
    if explicit:
        return os.path.abspath(explicit)
    if os.environ.get("UTRACE"):
        return os.path.abspath(os.environ["UTRACE"])
    on_path = shutil.which("utrace")
    if on_path:
        return on_path
    built = glob.glob(os.path.join(REPO_DIR, "build*", "utrace"))
    built = [p for p in built if os.access(p, os.X_OK) and not sanitized_build(p)]
    if built:
        return max(built, key=os.path.getmtime)
    return None


def add_common_args(ap, rounds=5, interleaved=True, kept="traces, logs",
                    repeat=2):
    """--utrace, --rounds, --keep, and for interleaved rounds --repeat and --seed."""
    ap.add_argument("--utrace", help="utrace binary (default: $UTRACE, PATH, "
                    "or the newest build*/utrace of the repository that is not "
                    "built with a sanitizer)")
    ap.add_argument("--rounds", type=int, default=rounds,
                    help="%s (default %d)" % ("interleaved rounds" if interleaved else "rounds",
                                              rounds))
    if interleaved:
        ap.add_argument("--repeat", type=int, default=repeat,
                        help="runs of each (configuration, N) per round, the "
                        "fastest counts (default %d)" % repeat)
        ap.add_argument("--seed", type=int, default=1,
                        help="seed of the per-round shuffle (default 1)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (%s)" % kept)


def require_utrace(explicit, script):
    """find_utrace(), or exit saying so."""
    utrace = find_utrace(explicit)
    if not utrace or not os.access(utrace, os.X_OK):
        sys.exit("%s: utrace not found; pass --utrace PATH" % script)
    return utrace


@contextlib.contextmanager
def scratch_dir(prefix, keep):
    """A temporary directory, removed at the end unless `keep`."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        yield tmp
    finally:
        if keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def build(tmp, source=CALLS_SOURCE, flags=("-O2", "-g")):
    """Compile @source with $CC (default cc); return (executable, command)."""
    cc = os.environ.get("CC", "cc")
    exe = os.path.join(tmp, os.path.splitext(os.path.basename(source))[0])
    cmd = [cc] + list(flags) + ["-o", exe, source]
    if subprocess.run(cmd).returncode != 0:
        sys.exit("%s: cannot build: %s" % (os.path.basename(sys.argv[0]),
                                            shlex.join(cmd)))
    return exe, cmd


def read_checksum(text):
    for line in text.splitlines():
        if line.startswith("checksum "):
            return line.split()[1]
    return None


def loop_ns(out):
    """The loop's own CLOCK_MONOTONIC ns, from bench-calls' output."""
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == "loop_ns":
            return int(f[1])
    raise ValueError("bench-calls printed no loop_ns line")


# ---- what utrace -v prints -------------------------------------------------

FLOAT = r"([0-9]+(?:\.[0-9]+)?)"
INSTALL_RE = re.compile(
    r"^utrace: install: ([0-9]+) functions \(([0-9]+) jmp, ([0-9]+) call, "
    r"([0-9]+) int3\); world stopped " + FLOAT + r" ms; " + FLOAT +
    r" ms since start$")
DETACH_RE = re.compile(r"^utrace: detach: " + FLOAT + r" ms; world stopped " +
                       FLOAT + r" ms$")
OUTPUT_RE = re.compile(r"^utrace: output: ([0-9]+) events in " + FLOAT +
                       r" ms of draining \(" + FLOAT + r" M events/s\)$")


def parse_install(line):
    """{functions, jmp, call, int3, stopped_ms, since_start_ms} or None."""
    m = INSTALL_RE.match(line.rstrip("\n"))
    if not m:
        return None
    g = m.groups()
    return {"functions": int(g[0]), "jmp": int(g[1]), "call": int(g[2]),
            "int3": int(g[3]), "stopped_ms": float(g[4]),
            "since_start_ms": float(g[5])}


def parse_detach(line):
    """{detach_ms, stopped_ms} or None."""
    m = DETACH_RE.match(line.rstrip("\n"))
    if not m:
        return None
    return {"detach_ms": float(m.group(1)), "stopped_ms": float(m.group(2))}


def parse_output(line):
    """{events, drain_ms, mevents_per_s} or None."""
    m = OUTPUT_RE.match(line.rstrip("\n"))
    if not m:
        return None
    return {"events": int(m.group(1)), "drain_ms": float(m.group(2)),
            "mevents_per_s": float(m.group(3))}


def find_line(text, parse):
    """The first line of @text that @parse accepts, parsed, else None."""
    for line in text.splitlines():
        got = parse(line)
        if got is not None:
            return got
    return None


def unknown_option(stderr_text):
    """The 'unknown option' line utrace printed, else None."""
    for line in stderr_text.splitlines():
        if "unknown option" in line or "unrecognized option" in line:
            return line.strip()
    return None


# ---- JSON traces -----------------------------------------------------------

def count_events(path, funcs):
    """{(func, "entry"|"exit"): n, "other": n, "summary": dict or None} of a
    utrace JSON Lines trace.

    Traces of the fast path hold tens of millions of lines: json.loads() on
    each would take minutes, so the events are counted as byte patterns of
    the writer's fixed key order ("type" then "func"), and only the summary
    (the last line) is parsed.  "other" counts event lines of any other kind
    or function, so a change of key order shows up as a mismatch, never as
    a silent pass.
    """
    pats = {(f, t): ('"type":"%s","func":"%s"' % (t, f)).encode()
            for f in funcs for t in ("entry", "exit")}
    counts = dict.fromkeys(pats, 0)
    other = 0
    carry = last = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(READ_CHUNK)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
            if not data:
                continue
            lines = data.count(b"\n")
            for key, pat in pats.items():
                k = data.count(pat)
                counts[key] += k
                lines -= k
            other += lines
            last = data[data.rfind(b"\n", 0, len(data) - 1) + 1:]
    if carry:
        other += 1
        last = carry
    counts["summary"] = None
    try:
        summary = json.loads(last)
        if isinstance(summary, dict) and summary.get("type") == "summary":
            counts["summary"] = summary
            other -= 1
    except ValueError:
        pass
    counts["other"] = other
    return counts


def count_trace(path, func):
    """{entry, exit, other, summary} of a trace, for one function (count_events)."""
    c = count_events(path, (func,))
    return {"entry": c[(func, "entry")], "exit": c[(func, "exit")],
            "other": c["other"], "summary": c["summary"]}


def trace_problems(path, func, n):
    """[] when the trace at @path holds exactly @n entries and @n exits of
    @func and nothing else; otherwise what is wrong, with the summary's
    loss counters."""
    if not os.path.exists(path):
        return ["no trace file %s" % path]
    c = count_trace(path, func)
    if c["entry"] == n and c["exit"] == n and c["other"] == 0:
        return []
    s = c["summary"] or {}
    losses = ", ".join("%s %s" % (k, s[k]) for k in
                       ("dropped", "torn", "invalid", "lost_return") if s.get(k))
    return ["trace of N=%d has %d entry and %d exit events of %s, %d other "
            "lines%s" % (n, c["entry"], c["exit"], func, c["other"],
                         "; summary: " + losses if losses else "")]


def parse_summary(line):
    try:
        s = json.loads(line)
    except ValueError:
        return None
    if isinstance(s, dict) and s.get("type") == "summary":
        return s
    return None


def tail_summary(path):
    """The summary line at the end of a JSON trace too big to read whole."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - SUMMARY_TAIL))
        data = f.read()
    lines = data.rstrip(b"\n").rsplit(b"\n", 1)
    return parse_summary(lines[-1]) if lines else None


def summary_problems(summary, events):
    """[] when the JSON summary says @events events and no loss."""
    if summary is None:
        return ["no summary line"]
    problems = []
    if summary.get("events") != events:
        problems.append("summary events %s, the program made %d" % (
            summary.get("events"), events))
    losses = ["%s %s" % (k, summary[k]) for k in LOSS_KEYS if summary.get(k)]
    if losses:
        problems.append("summary: " + ", ".join(losses))
    return problems


# ---- uftrace ---------------------------------------------------------------

def uftrace_calls(data, funcs):
    """{func: calls} from `uftrace report -d DATA`, or a string saying why not."""
    res = subprocess.run(["uftrace", "report", "-d", data], capture_output=True,
                         text=True)
    if res.returncode != 0:
        return "uftrace report exited with status %d: %s" % (
            res.returncode, " | ".join(res.stderr.splitlines()[-2:]))
    calls = {}
    for line in res.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[-1] in funcs and f[-2].isdigit():
            calls[f[-1]] = int(f[-2])
    return calls


def uftrace_problems(name, data, want):
    got = uftrace_calls(data, set(want))
    if isinstance(got, str):
        return ["%s: %s" % (name, got)]
    return ["%s: uftrace report counts %s calls of %s, the program made %d"
            % (name, got.get(f, "no"), f, n)
            for f, n in want.items() if got.get(f) != n]


# ---- rss-of and /proc ------------------------------------------------------

def run_waited(rss_of, cfg, n, keep_stdout=True):
    """Run @cfg with @n; return (seconds, stdout text, returncode, maxrss
    KiB): the wall clock around the whole command, its ru_maxrss through
    rss-of (not from Python's wait4: see bench/rss-of.c).  Without
    @keep_stdout the output goes to /dev/null and the text is empty."""
    cfg.prepare(n)
    out_path = os.path.join(cfg.dir, "stdout") if keep_stdout else os.devnull
    err_path = os.path.join(cfg.dir, "stderr")
    rss_path = os.path.join(cfg.dir, "maxrss")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        rc = subprocess.run([rss_of, rss_path] + cfg.argv(n),
                            stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                            cwd=cfg.dir).returncode
        t1 = time.perf_counter()
    text = ""
    if keep_stdout:
        with open(out_path) as f:
            text = f.read()
    return t1 - t0, text, rc, read_maxrss(rss_path)


def read_maxrss(path):
    """KiB from rss-of's file, None when it wrote none."""
    try:
        with open(path) as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None


def child_pid(pid):
    """The pid of @pid's first child (utrace under rss-of), None when none."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def open_child_dir(pid):
    """A descriptor of /proc/CHILD of @pid's only child (utrace under rss-of),
    None until it exists.  Read through it, a child that ended (and a
    process that reuses its pid) gives nothing."""
    kid = child_pid(pid)
    if kid is None:
        return None
    try:
        return os.open("/proc/%d" % kid, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def vm_hwm_kib(proc_dir):
    """VmHWM (the process's own peak RSS) in KiB, None when gone."""
    try:
        fd = os.open("status", os.O_RDONLY, dir_fd=proc_dir)
        with open(fd) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# ---- utrace info -----------------------------------------------------------

def utrace_info(utrace, trace_dir):
    """The top-level `key: value` lines of `utrace info -d DIR` as a dict
    (`events`, `dropped`, `complete`, ...), or a string saying why not."""
    res = subprocess.run([utrace, "info", "-d", trace_dir],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return "utrace info exited with status %d: %s" % (
            res.returncode, " | ".join(res.stderr.splitlines()[-2:]))
    info = {}
    for line in res.stdout.splitlines():
        if line[:1].isspace() or ":" not in line:
            continue
        key, value = line.split(":", 1)
        info[key.strip()] = value.strip()
    return info


def info_problems(info, events=None, lossy=False):
    """[] when `utrace info` (parsed: benchlib.utrace_info) says @events
    events (any count when None), none dropped (unless @lossy: a --lossy
    recording drops by design), torn or invalid, and a complete trace."""
    if isinstance(info, str):
        return [info]
    problems = []
    if events is not None and info_count(info, "events") != events:
        problems.append("utrace info says events: %s, the program made %d" % (
            info.get("events"), events))
    if not lossy and info_count(info, "dropped") != 0:
        problems.append("utrace info says dropped: %s" % info.get("dropped"))
    if info.get("torn, invalid") != "0, 0":
        problems.append("utrace info says torn, invalid: %s" %
                        info.get("torn, invalid"))
    if not info.get("complete", "").startswith("yes"):
        problems.append("utrace info says complete: %s" % info.get("complete"))
    return problems


def dir_bytes(path):
    """The bytes of the files under @path: a trace directory's size on disk."""
    return sum(os.path.getsize(os.path.join(d, f))
               for d, _, files in os.walk(path) for f in files)


def info_count(info, key):
    """The leading integer of an info line ('28 (329.070 ms)' gives 28),
    None when the line is missing or not a number."""
    words = info.get(key, "").split()
    return int(words[0]) if words and words[0].isdigit() else None


# ---- configurations of bench-calls -----------------------------------------

class Config:
    """One way of running bench-calls; subclasses say how and what to check.

    With @loop_timed the cost per call is the slope of the loop's own time
    (bench-calls' loop_ns line); otherwise of the wall-clock time of the
    whole command.
    """

    name = ""
    counts = (0, 0)
    loop_timed = False

    def __init__(self, exe, tmp, name=None):
        if name:
            self.name = name
        self.exe = exe
        self.dir = os.path.join(tmp, re.sub(r"[^A-Za-z0-9_.-]+", "_",
                                            self.name))
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

    def wall_ns_per_call(self, n1, t1, n2, t2):
        return (t2 - t1) / (n2 - n1) * NS_PER_S

    def ns_per_call(self, n1, t1, out1, n2, t2, out2):
        if self.loop_timed:
            return (loop_ns(out2) - loop_ns(out1)) / (n2 - n1)
        return self.wall_ns_per_call(n1, t1, n2, t2)


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
    """utrace run [options] -f bench_target -o T --json bench-calls N."""

    name = "utrace"
    counts = (20_000, 40_000)

    def __init__(self, exe, tmp, utrace, options=(), name=None):
        self.utrace = utrace
        self.options = list(options)
        super().__init__(exe, tmp, name)
        self.trace = os.path.join(self.dir, "trace.json")

    def tool(self):
        if os.access(self.utrace, os.X_OK):
            return self.utrace
        return False

    def argv(self, n):
        return ([self.utrace, "run"] + self.options +
                ["-f", TARGET, "-o", self.trace, "--json", self.exe, str(n)])

    def prepare(self, n):
        if os.path.exists(self.trace):
            os.unlink(self.trace)

    def check(self, n, out):
        return ["utrace " + p for p in trace_problems(self.trace, TARGET, n)]


class UtraceRecord(Utrace):
    """utrace record [options] -d D -f bench_target -- bench-calls N,
    checked with utrace info: 2 N events, none dropped, complete."""

    def __init__(self, exe, tmp, utrace, options=(), name=None):
        super().__init__(exe, tmp, utrace, options, name)
        self.trace = os.path.join(self.dir, "utrace.data")

    def argv(self, n):
        return ([self.utrace, "record"] + self.options +
                ["-d", self.trace, "-f", TARGET, "--", self.exe, str(n)])

    def prepare(self, n):
        shutil.rmtree(self.trace, ignore_errors=True)

    def check(self, n, out):
        return ["%s: %s" % (self.name, p) for p in
                info_problems(utrace_info(self.utrace, self.trace), 2 * n)]


class Ltrace(Config):
    name = "ltrace"
    counts = (2_000, 4_000)

    def __init__(self, exe, tmp, name=None):
        super().__init__(exe, tmp, name)
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
    # At ~0.3 us a call, 200k calls (60 ms) were within uftrace's own
    # start-up jitter.
    counts = (500_000, 1_000_000)

    def __init__(self, exe, tmp, name=None):
        super().__init__(exe, tmp, name)
        self.data = os.path.join(self.dir, "uftrace.data")

    def tool(self):
        return shutil.which("uftrace") or False

    def argv(self, n):
        return ["uftrace", "record", "-d", self.data, "-P", TARGET,
                self.exe, str(n)]

    def prepare(self, n):
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.data + ".old", ignore_errors=True)

    def check(self, n, out):
        return uftrace_problems(self.name, self.data, {TARGET: n})


# ---- running ---------------------------------------------------------------

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


def stderr_text(cfg):
    with open(os.path.join(cfg.dir, "stderr")) as f:
        return f.read()


def stderr_tail(cfg):
    lines = stderr_text(cfg).strip().splitlines()
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


def skip_reason(cfg, rc):
    """Why a configuration that failed its warm-up is not measured, and
    whether that is only a missing option (no warning) or a failure."""
    if isinstance(cfg, Utrace) and rc != 0:
        bad = unknown_option(stderr_text(cfg))
        if bad:
            wanted = [o for o in cfg.options if o != "-v"]
            return "n/a: this utrace lacks %s (%s)" % (
                " ".join(wanted) or "an option", bad), False
    return None, True


def warm_up(configs, checksums):
    """Run each configuration once per N, untimed; drop those that fail.

    This also pages in the tracers.  A tracer that is missing or cannot run
    the program is skipped with a note instead of failing the benchmark; a
    utrace that cannot is also a warning, unless it only lacks an option.
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
            reason, serious = skip_reason(cfg, rc)
            cfg.note = reason or "skipped: " + failed[0]
            if serious and isinstance(cfg, Utrace):
                warn(failed[0])
            continue
        for p in failed:
            warn("warm-up: " + p)
        usable.append(cfg)
    return usable


def baseline_checksums(exe, counts):
    """The checksum of every N in @counts, from untraced runs."""
    checksums = {}
    for n in sorted(set(counts)):
        res = subprocess.run([exe, str(n)], check=True, capture_output=True,
                             text=True)
        checksums[n] = read_checksum(res.stdout)
    return checksums


def measure(configs, rounds, repeat, seed, checksums, on_run=None):
    """Interleaved rounds.

    Returns ({config name: [ns per call per round]}, {name: [runs, correct]},
    {name: ns per call of the fastest runs}, {name: [wall ns per call per
    round]}).  Within a round every (configuration, N) pair runs @repeat
    times in a shuffled order and the fastest of them counts: on a shared
    machine the noise only ever adds time, so the minimum is the best
    estimate of a run.  Only correct runs are timed: a round without one at
    N1 or N2 gives the configuration no slope, and a configuration with no
    slope at all is left out of the results, its note saying why.
    @on_run(cfg, n, secs, text) sees every run.
    """
    rng = random.Random(seed)
    overall = {}
    slopes = {cfg.name: [] for cfg in configs}
    walls = {cfg.name: [] for cfg in configs}
    checked = {cfg.name: [0, 0] for cfg in configs}
    for r in range(rounds):
        jobs = [(cfg, n) for cfg in configs for n in cfg.counts] * repeat
        rng.shuffle(jobs)
        best = {}
        for cfg, n in jobs:
            secs, text, rc = run_once(cfg, n)
            problems = problems_of(cfg, n, text, rc, checksums)
            checked[cfg.name][0] += 1
            for p in problems:
                warn("round %d: %s" % (r + 1, p))
            if on_run:
                on_run(cfg, n, secs, text)
            if problems:
                continue  # a run that lost or miscounted events is not timed
            checked[cfg.name][1] += 1
            key = (cfg.name, n)
            if key not in best or secs < best[key][0]:
                best[key] = (secs, text)
            if key not in overall or secs < overall[key][0]:
                overall[key] = (secs, text)
        done = []
        for cfg in configs:
            pair = pair_of(cfg, best)
            if pair is None:
                continue
            n1, t1, out1, n2, t2, out2 = pair
            slopes[cfg.name].append(cfg.ns_per_call(n1, t1, out1, n2, t2, out2))
            walls[cfg.name].append(cfg.wall_ns_per_call(n1, t1, n2, t2))
            done.append(cfg.name)
        print("round %d/%d: %s" % (r + 1, rounds, ", ".join(
            "%s %s" % (c.name, fmt_ns(slopes[c.name][-1]) if c.name in done
                       else "no correct run at both N") for c in configs)),
            flush=True)
    for cfg in configs:
        if not slopes[cfg.name]:
            cfg.note = cfg.note or "no correct run at both N in any round"
            del slopes[cfg.name], walls[cfg.name]
    return slopes, checked, slopes_of_fastest(configs, overall), walls


def pair_of(cfg, runs):
    """(n1, t1, out1, n2, t2, out2) of @cfg's runs {(name, n): (secs,
    text)}, None when it has no run at N1 or at N2."""
    n1, n2 = cfg.counts
    if (cfg.name, n1) not in runs or (cfg.name, n2) not in runs:
        return None
    t1, out1 = runs[(cfg.name, n1)]
    t2, out2 = runs[(cfg.name, n2)]
    return n1, t1, out1, n2, t2, out2


def slopes_of_fastest(configs, fastest):
    """ns per call from the fastest correct run at each N over all rounds: a
    second estimate, robust when other load on the machine made whole rounds
    slow.  A configuration without a correct run at N1 or N2 has none."""
    result = {}
    for cfg in configs:
        pair = pair_of(cfg, fastest)
        if pair is not None:
            result[cfg.name] = cfg.ns_per_call(*pair)
    return result


def fmt_ns(ns):
    if abs(ns) >= 100:
        return "%.0f" % ns
    if abs(ns) >= 10:
        return "%.1f" % ns
    return "%.2f" % ns


# ---- reporting -------------------------------------------------------------

def machine_line():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "machine: %s, %d CPUs, Linux %s" % (cpu, os.cpu_count() or 0,
                                               platform.release())


def load_line(when):
    return "load:    %.2f %.2f %.2f at %s (ptrace stops are very sensitive " \
        "to other load)" % (os.getloadavg() + (when,))


def utrace_version(utrace):
    """The git commit utrace was built from when it lies in a checkout."""
    if not utrace:
        return "not found"
    d = os.path.dirname(os.path.realpath(utrace))
    res = subprocess.run(["git", "-C", d, "log", "-1", "--format=%h %s"],
                         capture_output=True, text=True)
    if res.returncode == 0:
        return "%s (its checkout is at %s)" % (utrace, res.stdout.strip())
    return utrace


def finish(start):
    print("\nload %.2f %.2f %.2f at end; wall time %.1f s, %d warning(s)" % (
        os.getloadavg() + (time.perf_counter() - start, len(warnings))))
    return 1 if warnings else 0
