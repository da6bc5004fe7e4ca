#!/usr/bin/env python3
"""Fails when the Python or Node SDK lacks a public operation of the Rust client.

Reads every `pub fn` / `pub async fn` of `impl Client`, `impl Sandbox`, `impl ChatStream`,
`impl ExecStream`, `impl LogStream` and `impl LocalSandboxes` in helix-client/src and of
`impl EmbeddedScheduler` in helix-sched, then looks for each on the installed SDKs'
classes (Python: snake_case on helix.Helix / helix.AsyncHelix / helix.Sandbox /
helix.AsyncSandbox / helix.LocalSandboxes / helix.AsyncLocalSandboxes / helix.Scheduler /
the native streams; Node: camelCase on the classes of the same names), through ALIASES
where the SDKs name an operation the E2B way. Prints the table; exits 1 listing what is
missing.

Usage: parity.py --node-dir DIR [--uniffi-dir DIR]   (run with the Python that has `helix`
installed). With --uniffi-dir (bindings/uniffi/build.sh's output) it also checks that the
uniffi bindings export every operation, under the Rust names (UNIFFI_NOT_EXPORTED: the
embedded mode).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Source files and the classes in them whose public methods are SDK operations.
SOURCES = [
    (ROOT / "helix-client" / "src", ["Client", "Sandbox", "ChatStream", "ExecStream", "LogStream", "LocalSandboxes"]),
    (ROOT / "helix-sched" / "src" / "scheduler", ["EmbeddedScheduler"]),
]
# Constructors and the like, with the reason they are not an SDK method.
NOT_OPERATIONS = {
    ("Client", "new"): "the SDK client's constructor",
    ("Client", "builder"): "the SDK client's constructor takes the options",
    ("LocalSandboxes", "start"): "Python: the LocalSandboxes constructor / AsyncLocalSandboxes.start; Node: LocalSandboxes.start",
    ("LocalSandboxes", "from_runtime"): "takes a Rust SandboxRuntime: for Rust hosts only",
    ("EmbeddedScheduler", "new"): "the Scheduler constructor",
}
# Rust name -> (Python attribute path, Node attribute path) where they differ from the
# plain snake_case / camelCase of the Rust name.
ALIASES = {
    ("Sandbox", "run"): ("commands.stream", "commands.stream"),
    ("Sandbox", "read_file"): ("files.read", "files.read"),
    ("Sandbox", "write_file"): ("files.write", "files.write"),
    ("Sandbox", "list_dir"): ("files.list", "files.list"),
    ("Sandbox", "host"): ("get_host", "getHost"),
    ("ChatStream", "next_chunk"): ("__next__", "nextText"),
}


def rust_operations() -> list[tuple[str, str]]:
    ops = []
    files = [(path, classes) for folder, classes in SOURCES for path in sorted(folder.glob("*.rs"))]
    for path, classes in files:
        text = path.read_text()
        for m in re.finditer(r"^impl (\w+) \{\n(.*?)^\}", text, re.S | re.M):
            cls, body = m.group(1), m.group(2)
            if cls not in classes:
                continue
            for f in re.finditer(r"^    pub (?:async )?fn (\w+)", body, re.M):
                if (cls, f.group(1)) in NOT_OPERATIONS:
                    print(f"not an SDK method: {cls}::{f.group(1)}: {NOT_OPERATIONS[(cls, f.group(1))]}")
                else:
                    ops.append((cls, f.group(1)))
    return ops


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def python_has(cls: str, path: str) -> list[str]:
    """The Python classes of `cls` that lack `path`."""
    import helix
    from helix import _native

    targets = {
        "Client": [helix.Helix, helix.AsyncHelix],
        "Sandbox": [helix.Sandbox, helix.AsyncSandbox],
        "ChatStream": [_native.ChatStream],
        "ExecStream": [_native.ExecStream],
        "LogStream": [_native.LogStream],
        "LocalSandboxes": [helix.LocalSandboxes, helix.AsyncLocalSandboxes],
        "EmbeddedScheduler": [helix.Scheduler],
    }[cls]
    missing = []
    for t in targets:
        head, _, tail = path.partition(".")
        if tail:
            # `commands.stream`: the namespace class is set in __init__; check its type.
            ns = {"commands": helix.Commands, "files": helix.Files}
            if t is helix.AsyncSandbox:
                ns = {"commands": helix.AsyncCommands, "files": helix.AsyncFiles}
            if not hasattr(ns[head], tail):
                missing.append(f"{t.__name__}.{path}")
        elif not hasattr(t, head):
            missing.append(f"{t.__name__}.{path}")
    return missing


NODE_PROBE = r"""
const sdk = require('@helix/sdk')
const paths = JSON.parse(process.argv.at(-1))
const fake = new Proxy({}, { get: () => () => {} })
const objects = {
  Client: new sdk.Helix('http://127.0.0.1:9', 'hx-probe'),
  Sandbox: new sdk.Sandbox(fake),
  ChatStream: new sdk.ChatStream(fake),
  ExecStream: new sdk.ExecStream(fake),
  LogStream: new sdk.LogStream(fake),
  LocalSandboxes: new sdk.LocalSandboxes(fake),
  EmbeddedScheduler: Object.create(sdk.Scheduler.prototype),
}
const missing = []
for (const [cls, path] of paths) {
  const parts = path.split('.')
  let o = objects[cls]
  for (const part of parts.slice(0, -1)) o = o?.[part]
  if (o == null || !(parts.at(-1) in o)) missing.push(`${cls}.${path}`)
}
console.log(JSON.stringify(missing))
"""


def node_missing(node_dir: Path, paths: list[tuple[str, str]]) -> list[str]:
    out = subprocess.run(
        ["node", "-e", NODE_PROBE, json.dumps(paths)],
        cwd=node_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


# The uniffi bindings (bindings/uniffi) export the client surface, not the embedded mode.
UNIFFI_NOT_EXPORTED = {
    "LocalSandboxes": "the embedded mode is not exported with uniffi",
    "EmbeddedScheduler": "the embedded mode is not exported with uniffi",
}


def uniffi_missing(uniffi_dir: Path, ops: list[tuple[str, str]]) -> list[str]:
    """The operations that the Python module generated by uniffi-bindgen (and so the
    library it was generated from) lacks: same class and snake_case names as Rust."""
    import importlib

    sys.path.insert(0, str(uniffi_dir / "python"))
    hx = importlib.import_module("helix_uniffi")
    missing, checked = [], 0
    for cls, name in ops:
        if cls in UNIFFI_NOT_EXPORTED:
            continue
        checked += 1
        if not hasattr(getattr(hx, cls, None), name):
            missing.append(f"uniffi {cls}.{name}")
    skipped = sorted({f"{c} ({r})" for c, r in UNIFFI_NOT_EXPORTED.items() if any(o[0] == c for o in ops)})
    print(f"uniffi: {checked} operations checked by name" + (f"; not exported: {', '.join(skipped)}" if skipped else ""))
    return missing


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--node-dir", type=Path, required=True)
    ap.add_argument("--uniffi-dir", type=Path, help="bindings/uniffi/build.sh's output: also check the uniffi bindings")
    args = ap.parse_args()
    ops = rust_operations()
    if len(ops) < 20:
        print(f"parity: only {len(ops)} operations found; the parser is out of date", file=sys.stderr)
        return 1
    node_paths = []
    missing = []
    print(f"{'rust':34} {'python':24} node")
    for cls, name in ops:
        py, node = ALIASES.get((cls, name), (name, camel(name)))
        missing += python_has(cls, py)
        node_paths.append((cls, node))
        print(f"{cls + '::' + name:34} {py:24} {node}")
    missing += [f"node {m}" for m in node_missing(args.node_dir, node_paths)]
    if args.uniffi_dir:
        missing += uniffi_missing(args.uniffi_dir, ops)
    if missing:
        print("missing:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    print(f"parity: {len(ops)} operations, all in Python and Node" + (" (and uniffi)" if args.uniffi_dir else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
