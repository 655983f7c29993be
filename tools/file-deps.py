#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The file-level dependency graph of utrace's library: no cycle, no call up.

usage: tools/file-deps.py [BUILD_DIR] [--edges] [--dot] [--order]

Reads every object of the library's layers, BUILD_DIR/libutrace-LAYER.a.p
(default BUILD_DIR: build), with `nm --defined-only` and `nm
--undefined-only`: there is an edge A -> B when A's object uses a symbol
that B's object defines.  Fails (exit 1), saying why, when
  - the graph has a cycle (a strongly connected component of more than one
    file): each cycle's files are printed;
  - an edge goes up: from a file of one layer to a file of a layer above it
    (LAYERS, bottom up, the order of meson.build);
  - a file is built into a layer's library other than its folder's, or into
    none of LAYERS.
--edges prints every edge, --dot the graph in Graphviz's language, --order
the files bottom up: each uses only files above it in the list.
"""

import os
import subprocess
import sys

# The layers bottom up: (library name, the folders whose files it holds).
LAYERS = [
    ("arch", ("arch/", "(generated) blob.c")),
    ("base", ("lib/base/",)),
    ("elf", ("lib/elf/",)),
    ("control", ("lib/control/",)),
    ("probes", ("lib/probes/",)),
    ("inject", ("lib/inject/",)),
    ("record", ("lib/record/",)),
    ("output", ("lib/output/",)),
    ("session", ("lib/session/",)),
]


def layer_of(path):
    """The index in LAYERS of the layer whose folder holds path, or None."""
    for i, (_, folders) in enumerate(LAYERS):
        if path.startswith(folders):
            return i
    return None


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


def read_objects(build):
    """{source: (its library's layer name, defined symbols, used symbols)}."""
    objs = {}
    for name, _ in LAYERS:
        objdir = os.path.join(build, f"libutrace-{name}.a.p")
        if not os.path.isdir(objdir):
            sys.exit(f"file-deps: no {objdir}: build first (meson setup {build} && ninja -C {build})")
        for o in sorted(os.listdir(objdir)):
            if o.endswith(".o"):
                path = os.path.join(objdir, o)
                objs[source_name(o)] = (name, symbols(path, "--defined-only"),
                                        symbols(path, "--undefined-only"))
    return objs


def misplaced(objs):
    """Files built into the wrong layer's library, or into no layer's."""
    bad = []
    for src, (lib, _, _) in sorted(objs.items()):
        i = layer_of(src)
        if i is None or LAYERS[i][0] != lib:
            bad.append(f"{src} is built into the {lib} layer, its folder is "
                       f"{'in no layer' if i is None else 'the ' + LAYERS[i][0] + ' layer'}")
    return bad


def calls_up(edges):
    return [f"{a} ({LAYERS[layer_of(a)][0]}) uses {b} ({LAYERS[layer_of(b)][0]}), a layer above it"
            for a in sorted(edges) for b in sorted(edges[a])
            if layer_of(a) is not None and layer_of(b) is not None and layer_of(b) > layer_of(a)]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    build = os.path.abspath(args[0] if args else "build")
    # object names are resolved to sources against the tree: meson runs us from the build
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    objs = read_objects(build)
    defined, used = {}, {}
    for name, (_, defs, uses) in objs.items():
        for s in defs:
            defined.setdefault(s, name)
        used[name] = uses
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
    wrong = misplaced(objs) + calls_up(edges)
    for w in wrong:
        print(w)
    if not cycles and not wrong:
        print(f"no cycle and no call up among the {len(used)} files of the "
              f"{len(LAYERS)} layers ({', '.join(n for n, _ in LAYERS)})")
    return 1 if cycles or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
