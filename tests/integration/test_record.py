#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace record and the views that read its trace directory: the same
events as run's live output, a trace left readable by a crash or a killed
utrace, and one error line for a damaged trace."""
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest

import harness as h

VIEWS = (("replay",), ("report",), ("dump", "--json"), ("dump", "--chrome"),
         ("dump", "--folded"), ("info",))
INT3 = os.environ.get("UTRACE_TEST_PROBE") == "int3"
TRACE_FILES = {"events", "info", "funcs", "tasks", "stats"}
CHUNK = struct.Struct("<IiiI")
FILE_HDR = 16
REC = struct.Struct("<QII")


def record(tc, name, args=(), funcs=("work_*",), extra=(), d=None):
    d = d or os.path.join(h.tmpdir(tc), "trace")
    argv = [h.utrace_path(), "record", "-d", d] + h.probe_argv()
    for f in funcs:
        argv += ["-f", f]
    res = h.run(argv + list(extra) + ["--", h.prog(name)] + list(args),
                timeout=h.TRACED_TIMEOUT)
    return d, res


def view(d, *argv):
    return h.run([h.utrace_path()] + list(argv) + ["-d", d])


def check_line(tc, text, line):
    """text has `line` as one whole line."""
    tc.assertRegex(text, "(?m)^%s$" % re.escape(line))


def timeless(ev):
    """An event without what differs from one run to the next."""
    return {k: v for k, v in ev.items() if k not in ("ts", "pid", "tid", "addr", "dur_ns")}


TEXT_TIME = re.compile(r"^ *[0-9.]+ [mun]?s ")
TEXT_TID = re.compile(r"\[ *\d+\]")


def timeless_text(text):
    """The call graph without durations and thread ids."""
    out = []
    for line in text.decode().splitlines():
        line = TEXT_TID.sub("[tid]", TEXT_TIME.sub("", line)).strip()
        out.append(line)
    return out


class RecordTest(unittest.TestCase):
    def test_record_writes_a_complete_trace(self):
        """The program runs as untraced; the directory holds the trace's
        files; info names the program, its pid and functions."""
        d, res = record(self, "s-demo")
        h.check_like_untraced(self, "s-demo", (), res)
        self.assertEqual(set(os.listdir(d)), TRACE_FILES)
        info = view(d, "info")
        self.assertEqual(info.status, 0, info.stderr)
        self.assertEqual(info.stderr, b"")
        text = info.stdout.decode()
        check_line(self, text, "command:        %s" % h.prog("s-demo"))
        check_line(self, text, "complete:       yes")
        calls = sum(h.prog_counts(res.stdout).values())
        check_line(self, text, "events:         %d" % (2 * calls))
        check_line(self, text, "dropped:        0")
        check_line(self, text, "torn, invalid:  0, 0")
        for func in ("work_expr", "work_term", "work_number"):
            self.assertRegex(text, r"func \d+ %s s-demo 0x[0-9a-f]+ " % func)

    def test_dump_json_is_what_run_writes(self):
        """record + dump --json: the events and summary of run --json, in
        the same order (timestamps, ids and durations aside)."""
        d, res = record(self, "s-recursion")
        self.assertEqual(res.status, h.run_untraced("s-recursion").status, res.stderr)
        events, summary = h.dump_json(self, d)
        live = h.run_traced(self, "s-recursion")
        self.assertEqual([timeless(e) for e in events], [timeless(e) for e in live.events])
        self.assertEqual(summary, live.summary)
        h.check_counts(self, events, h.prog_counts(res.stdout))
        h.check_nesting(self, events)

    def test_replay_is_what_run_prints(self):
        """record + replay: run's call graph (durations and thread ids aside)."""
        d, _ = record(self, "s-demo")
        replay = view(d, "replay")
        self.assertEqual(replay.status, 0, replay.stderr)
        live = h.run_traced(self, "s-demo", fmt="text")
        with open(live.path, "rb") as f:
            self.assertEqual(timeless_text(replay.stdout), timeless_text(f.read()))

    def test_threads_exact_and_named(self):
        """Every thread's calls, exactly as the program counts them, each
        thread named in tasks."""
        d, res = record(self, "s-threads")
        h.check_like_untraced(self, "s-threads", (), res)
        events, summary = h.dump_json(self, d)
        h.check_summary_clean(self, events, summary)
        h.check_counts(self, events, h.prog_counts(res.stdout))
        with open(os.path.join(d, "tasks")) as f:
            tasks = {tuple(int(x) for x in line.split("\t")[:2]) for line in f}
        pids = {pid for pid, _ in tasks}
        self.assertEqual(len(pids), 1, tasks)
        # main makes no traced call: its 4 threads do, each named in tasks
        workers = {tid for pid, tid in tasks if tid not in pids}
        self.assertEqual(len(workers), 4, tasks)
        self.assertEqual({e["tid"] for e in events}, workers)

    def test_crashing_program_leaves_its_trace(self):
        """abort() inside three traced frames: the trace is complete and
        holds every call before the crash, the three left open; nothing lost
        (the unwinds at the thread's death are events, not losses)."""
        d, res = record(self, "s-noreturn", ("abort",))
        self.assertEqual(res.status, h.run_untraced("s-noreturn", ("abort",)).status)
        events, summary = h.dump_json(self, d)
        h.check_summary_clean(self, events, summary)
        calls = h.prog_counts(res.stdout)
        entries = {}
        for e in events:
            if e["type"] == "entry":
                entries[e["func"]] = entries.get(e["func"], 0) + 1
        self.assertEqual(entries, {f: n for f, n in calls.items() if n})
        # the calls the crash left open, closed when the thread died
        self.assertEqual([(e["type"], e["func"]) for e in events[-4:]],
                         [("entry", "work_nr_end"), ("unwind", "work_nr_end"),
                          ("unwind", "work_nr_middle"), ("unwind", "work_nr_outer")])

    def test_killed_utrace_leaves_a_readable_trace(self):
        """utrace SIGKILLed while it records: the program goes on to its
        normal end; the trace reads up to where utrace stopped, each view
        warning once that it is incomplete."""
        d = os.path.join(h.tmpdir(self), "trace")
        argv = [h.utrace_path(), "record", "-d", d] + h.probe_argv()
        argv += ["-f", "work_*", "--", h.prog("s-busy"), "loop", "2"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        prog_pid = None
        try:
            line, _ = h.read_line(proc.stdout, b"", h.RUN_TIMEOUT)
            self.assertEqual(line, b"ready\n")
            prog_pid = h.child_pids(proc.pid)[0]
            events = os.path.join(d, "events")
            deadline = time.monotonic() + h.RUN_TIMEOUT
            while time.monotonic() < deadline and os.path.getsize(events) < 1 << 16:
                time.sleep(0.01)
            proc.kill()
            proc.wait(h.RUN_TIMEOUT)
            # the threads wait for a dead utrace no longer than --block-timeout
            os.kill(prog_pid, signal.SIGTERM)
            out, deadline = b"", time.monotonic() + h.RUN_TIMEOUT
            while time.monotonic() < deadline:
                chunk = h.read_chunk(proc.stdout, max(deadline - time.monotonic(), 0))
                if not chunk:
                    break
                out += chunk
            # an int3 probe hit once utrace is gone kills the program (SIGTRAP):
            # README, "If utrace is killed"
            if not INT3:
                self.assertIn(b"count work_busy_outer", out, "the program hangs")
        finally:
            if proc.poll() is None:
                proc.kill()
            if prog_pid and os.path.exists("/proc/%d" % prog_pid):
                os.kill(prog_pid, signal.SIGKILL)
            proc.communicate(timeout=h.RUN_TIMEOUT)
        self.assertNotIn("stats", os.listdir(d))
        for v in VIEWS:
            res = view(d, *v)
            self.assertEqual(res.status, 0, "%s: %r" % (v, res.stderr))
            lines = res.stderr_lines()
            self.assertEqual(len(lines), 1, lines)
            self.assertIn(h.INCOMPLETE_WARNING, lines[0])
        events, _ = h.dump_json(self, d, warn=True)
        self.assertGreater(len(events), 1000)

    def test_record_attached_process(self):
        """record -p: exactly the calls of the phases run while attached;
        the process goes on untouched after the detach."""
        t = h.start_target(self)
        d = os.path.join(h.tmpdir(self), "trace")
        argv = [h.utrace_path(), "record", "-d", d, "-p", str(t.pid), "-v", "-f", "work_*"]
        proc = subprocess.Popen(argv + h.probe_argv(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        att = h.Attached(proc, None)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        h.wait_attached(self, t, att)
        t.phase(1)
        t.phase(2)
        proc.send_signal(signal.SIGINT)
        err = att.communicate(60)
        self.assertEqual(proc.returncode, 0, err)
        per_phase = h.check_unharmed(self, t, 3)
        events, summary = h.dump_json(self, d)
        h.check_summary_clean(self, events, summary)
        h.check_nesting(self, events)
        h.check_counts(self, events, {f: 2 * n for f, n in per_phase.items()})
        self.assertEqual({e["pid"] for e in events}, {t.pid})


class DamagedTraceTest(unittest.TestCase):
    """A truncated or corrupted trace: one error line from every view, never a crash."""

    @classmethod
    def setUpClass(cls):
        cls.base = os.path.join(h.tmpdir(cls), "good")
        _, res = record(cls, "s-recursion", d=cls.base)
        if res.status != h.run_untraced("s-recursion").status:
            raise AssertionError(res.stderr)

    @classmethod
    def addCleanup(cls, fn, *args):
        cls.addClassCleanup(fn, *args)

    def damaged(self, fn):
        d = os.path.join(tempfile.mkdtemp(dir=h.tmpdir(self)), "damaged")
        shutil.copytree(self.base, d)
        fn(d)
        return d

    def check_views_refuse(self, d, *words, in_events=False):
        """Every view says one line naming words; info, which reads no
        events, shows a trace damaged only in them silently."""
        for v in VIEWS:
            res = view(d, *v)
            if v == ("info",) and in_events:
                self.assertEqual((res.status, res.stderr), (0, b""), "info of %s" % d)
                continue
            h.check_error(self, res, *words)
            self.assertEqual(res.status, 1, v)

    def edit(self, d, name, fn):
        path = os.path.join(d, name)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data = fn(data)
        with open(path, "wb") as f:
            f.write(data)

    def test_no_trace_here(self):
        self.check_views_refuse(os.path.join(h.tmpdir(self), "nothing"), "no trace")

    def test_missing_info(self):
        self.check_views_refuse(self.damaged(lambda d: os.unlink(os.path.join(d, "info"))),
                                "info")

    def test_not_an_events_file(self):
        d = self.damaged(lambda d: self.edit(d, "events", lambda b: b"garbage!" + b[8:]))
        self.check_views_refuse(d, "not a utrace trace")

    def test_truncated_events(self):
        """A complete trace cut inside a chunk."""
        d = self.damaged(lambda d: self.edit(d, "events", lambda b: b[:len(b) - 24]))
        self.check_views_refuse(d, "truncated", "events", in_events=True)

    def test_bad_chunk_header(self):
        def smash(b):
            b[FILE_HDR:FILE_HDR + 4] = b"\0\0\0\0"
            return b
        d = self.damaged(lambda d: self.edit(d, "events", smash))
        self.check_views_refuse(d, "corrupt trace", "events", in_events=True)

    def test_chunk_longer_than_allowed(self):
        def smash(b):
            magic, pid, tid, _ = CHUNK.unpack_from(b, FILE_HDR)
            CHUNK.pack_into(b, FILE_HDR, magic, pid, tid, 1 << 30)
            return b
        d = self.damaged(lambda d: self.edit(d, "events", smash))
        self.check_views_refuse(d, "corrupt trace", "events", in_events=True)

    def test_record_of_an_unknown_function(self):
        def smash(b):
            ts, _, bits = REC.unpack_from(b, FILE_HDR + CHUNK.size)
            REC.pack_into(b, FILE_HDR + CHUNK.size, ts, 0xfffffff0, bits)
            return b
        d = self.damaged(lambda d: self.edit(d, "events", smash))
        self.check_views_refuse(d, "corrupt trace", "events", in_events=True)

    def test_time_going_back(self):
        def smash(b):
            off = FILE_HDR
            while CHUNK.unpack_from(b, off)[3] < 2 * REC.size:
                off += CHUNK.size + CHUNK.unpack_from(b, off)[3]
            off += CHUNK.size + REC.size
            ts, func, bits = REC.unpack_from(b, off)
            REC.pack_into(b, off, 1, func, bits)
            return b
        d = self.damaged(lambda d: self.edit(d, "events", smash))
        self.check_views_refuse(d, "corrupt trace", "time going back", in_events=True)

    def test_bad_funcs_line(self):
        d = self.damaged(lambda d: self.edit(d, "funcs", lambda b: b + b"7\tzz\n"))
        self.check_views_refuse(d, "corrupt trace", "funcs")

    def test_bad_stats_line(self):
        d = self.damaged(lambda d: self.edit(d, "stats", lambda b: b + b"dropped\tlots\n"))
        self.check_views_refuse(d, "corrupt trace", "stats")

    def test_other_version(self):
        d = self.damaged(lambda d: self.edit(
            d, "info", lambda b: b.replace(b"trace_version\t3\n", b"trace_version\t9\n")))
        self.check_views_refuse(d, "version 9")


class RecordUsageTest(unittest.TestCase):
    def test_bad_usage_one_line(self):
        d = os.path.join(h.tmpdir(self), "t")
        cases = [
            (["record", "-d", d, "-p", "1", h.prog("s-demo")], "not both"),
            (["record", "-d", d, "-o", "x", h.prog("s-demo")], "-o"),
            (["record", "-d", d, "--json", h.prog("s-demo")], "--json"),
            (["run", "-d", d, h.prog("s-demo")], "record"),
            (["dump", "-d", d], "--json"),
            (["dump", "-d", d, "--json", "--chrome"], "one of"),
            (["report", "-d", d, "-s", "speed"], "sort key"),
            (["replay", "-d", d, "-t", "soon"], "-t"),
            (["replay", "-d", d, "-D", "0"], "-D"),
            (["replay", "-d", d, "--tid", "x"], "--tid"),
            (["replay", "-d", d, "--sort", "calls"], "unknown option"),
            (["info", "-d", d, "-F", "x"], "unknown option"),
            (["replay", "-d", d, "extra"], "unexpected argument"),
        ]
        for argv, word in cases:
            with self.subTest(argv=argv):
                h.check_error(self, h.run([h.utrace_path()] + argv), word)

    def test_directory_of_other_files_refused(self):
        d = os.path.join(h.tmpdir(self), "mine")
        os.mkdir(d)
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("keep me\n")
        _, res = record(self, "s-demo", d=d)
        h.check_error(self, res, "not a trace")
        self.assertEqual(os.listdir(d), ["notes.txt"])

    def test_views_help(self):
        for v in ("replay", "report", "dump", "info"):
            res = h.run([h.utrace_path(), v, "--help"])
            self.assertEqual(res.status, 0)
            self.assertIn(b"usage: utrace " + v.encode(), res.stdout)


if __name__ == "__main__":
    h.main()
