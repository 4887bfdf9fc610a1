#!/usr/bin/env python3
"""Checks that src/'s top-level modules import each other without cycles.

Reads every `crate::<module>` path in src/ (use lines and inline paths) and
builds the graph of top-level modules (a folder or a file directly under
src/). Prints the graph, and any cycle with the lines that make it, then
exits 1 if there is a cycle or if anything but main.rs imports `app`.
`--files` does the same for the files inside each folder (module cycles
inside a folder, e.g. billing/dunning.rs <-> billing/invoicing.rs)."""
import re
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\b(crate|super|self)((?:::[a-z_][a-z0-9_]*)+)")
# `use crate::{a, b::c}` groups.
GROUP = re.compile(r"\b(crate|super|self)((?:::[a-z_][a-z0-9_]*)*)::\{([^}]*)\}")


def top_level(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def module_of(path: Path) -> str:
    """billing/dunning.rs -> billing::dunning; billing/mod.rs -> billing."""
    rel = path.relative_to(SRC).with_suffix("")
    parts = [p for p in rel.parts if p != "mod"]
    return "::".join(parts)


def code(path: Path) -> list[tuple[int, str]]:
    """Lines outside `#[cfg(test)]` modules and comments."""
    lines, out, skip_depth, depth = path.read_text().splitlines(), [], None, 0
    pending_test = False
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        if stripped.startswith("#[cfg(test)]"):
            pending_test = True
            continue
        opens, closes = line.count("{"), line.count("}")
        if pending_test and skip_depth is None and opens:
            skip_depth = depth
        pending_test = pending_test and not opens
        depth += opens - closes
        if skip_depth is not None:
            if depth <= skip_depth:
                skip_depth = None
            continue
        out.append((n, line))
    return out


def absolute(path: Path, anchor: str, rest: str) -> list[str]:
    """The crate-relative path that `anchor::rest` names in `path`."""
    here = module_of(path).split("::")
    if anchor == "crate":
        base = []
    elif anchor == "self":
        base = here
    else:  # super
        base = here[:-1]
    return base + [p for p in rest.split("::") if p]


def references(path: Path):
    """(line, crate-relative path) for every path into this crate."""
    for n, line in code(path):
        for m in GROUP.finditer(line):
            for item in m.group(3).split(","):
                item = item.strip().split(" as ")[0]
                if item and item != "self":
                    yield n, absolute(path, m.group(1), m.group(2) + "::" + item)
        line = GROUP.sub("", line)
        for m in PATH.finditer(line):
            yield n, absolute(path, m.group(1), m.group(2))


def find_cycles(graph):
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


modules = {module_of(p) for p in SRC.rglob("*.rs")}


def main() -> int:
    by_file = "--files" in sys.argv
    graph, why = defaultdict(set), defaultdict(list)
    bad_app = []
    for path in sorted(SRC.rglob("*.rs")):
        here = top_level(path)
        me = module_of(path) if by_file else here
        graph[me]
        for n, parts in references(path):
            if not parts:
                continue
            target = parts[0]
            if target == "app" and path.name != "main.rs":
                bad_app.append(f"{path.relative_to(SRC)}:{n} imports app")
            if by_file:
                # Only edges between files of the same folder.
                if target != here:
                    continue
                dest = None
                for k in range(len(parts), 0, -1):
                    if "::".join(parts[:k]) in modules:
                        dest = "::".join(parts[:k])
                        break
                if dest is None or dest == me or me.startswith(dest + "::") or dest == here:
                    continue
            else:
                if target == here or not ((SRC / f"{target}.rs").exists() or (SRC / target).is_dir()):
                    continue
                dest = target
            graph[me].add(dest)
            why[(me, dest)].append(f"{path.relative_to(SRC)}:{n}")
    if not by_file:
        for node in sorted(graph):
            print(f"{node:10} -> {', '.join(sorted(graph[node])) or '-'}")
    cycles = find_cycles(graph)
    for cycle in cycles:
        print("cycle: " + " -> ".join(cycle))
        for a, b in zip(cycle, cycle[1:]):
            print(f"  {a} -> {b}: {', '.join(why[(a, b)][:3])}")
    for line in bad_app:
        print(line)
    if cycles or bad_app:
        return 1
    print(f"no cycles between {'files' if by_file else 'top-level modules'} of src/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
