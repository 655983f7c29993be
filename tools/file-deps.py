#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The file-level dependency graph of utrace's library, and its cycles.

usage: tools/file-deps.py [BUILD_DIR] [--edges] [--dot] [--order]

Reads every object of BUILD_DIR/libutrace.a.p (default: build) with
`nm --defined-only` and `nm --undefined-only`: there is an edge A -> B when
A's object uses a symbol that B's object defines.  Prints each cycle's files
(a strongly connected component of more than one file) and exits 1 when
there is one, 0 when the graph has none.  --edges prints every edge,
--dot the graph in Graphviz's language, --order the files bottom up: each
uses only files above it in the list (when there is no cycle).
"""

import os
import subprocess
import sys


def source_name(obj):
    """lib_record_trace-write.c.o -> lib/record/trace-write.c (as meson names objects)."""
    base = obj[:-2] if obj.endswith(".o") else obj
    if base.startswith("meson-generated_"):
        return "(generated) " + base.split("_")[-1]
    for top in ("lib", "arch", "cmd"):
        if base.startswith(top + "_"):
            rest = base[len(top) + 1:]
            return resolve(top, rest)
    return base


def resolve(top, rest):
    """Underscores in the object name stand for slashes: find the real path."""
    parts = rest.split("_")
    path = top
    while parts:
        for k in range(len(parts), 0, -1):
            cand = os.path.join(path, "_".join(parts[:k]))
            if os.path.exists(cand):
                path = cand
                parts = parts[k:]
                break
        else:
            return os.path.join(path, "_".join(parts))
    return path


def symbols(obj, flag):
    out = subprocess.run(["nm", flag, "--format=posix", obj], capture_output=True,
                         text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and (flag == "--undefined-only" or fields[1] in "TDBRVWGS"):
            syms.add(fields[0])
    return syms


def tarjan(nodes, edges):
    index, low, on, stack, comps = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    build = args[0] if args else "build"
    objdir = os.path.join(build, "libutrace.a.p")
    if not os.path.isdir(objdir):
        sys.exit(f"file-deps: no {objdir}: build first (meson setup {build} && ninja -C {build})")
    objs = sorted(o for o in os.listdir(objdir) if o.endswith(".o"))
    defined, used = {}, {}
    for o in objs:
        name = source_name(o)
        path = os.path.join(objdir, o)
        for s in symbols(path, "--defined-only"):
            defined.setdefault(s, name)
        used[name] = symbols(path, "--undefined-only")
    edges = {}
    for a, syms in used.items():
        for s in syms:
            b = defined.get(s)
            if b and b != a:
                edges.setdefault(a, set()).add(b)
    if "--edges" in sys.argv:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{a} -> {b}")
    if "--dot" in sys.argv:
        print("digraph utrace {")
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f'  "{a}" -> "{b}";')
        print("}")
    comps = tarjan(used.keys(), edges)
    cycles = [c for c in comps if len(c) > 1]
    if "--order" in sys.argv and not cycles:
        # Tarjan's algorithm closes a component after all it reaches: bottom up already
        for c in comps:
            print(c[0])
    for c in cycles:
        print(f"cycle of {len(c)} files: {' '.join(c)}")
    if not cycles:
        print(f"no cycle among the {len(used)} files of {objdir}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
