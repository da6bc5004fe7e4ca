"""A CI job that tests a project in a throwaway sandbox: upload the project, run its test
command with the output streamed to the job log, fetch the result file, tear the
sandbox down (even when the job fails), exit with the tests' status.

On a Helix server:

    HELIX_URL=http://localhost:8080 HELIX_API_KEY=hx-... python ci_job.py --image python:3.12

Without one, sandboxes run by this process (root and Docker needed):

    sudo python ci_job.py --local busybox-rootfs.tar --image busybox:1
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Iterator

from helix import Helix, HelixError, LocalSandboxes, Sandbox

# The "project" under test: a shell test suite that writes a JUnit-style report.
PROJECT = {
    "/work/project/test.sh": """#!/bin/sh
set -u
passed=0; failed=0; cases=""
check() {  # name, command
  if sh -c "$2" >/dev/null 2>&1; then passed=$((passed+1)); echo "ok   $1"
  else failed=$((failed+1)); echo "FAIL $1"; cases="$cases<testcase name=\\"$1\\"><failure/></testcase>"; fi
}
check arithmetic '[ $((6*7)) -eq 42 ]'
check files 'echo hi > /tmp/x && [ "$(cat /tmp/x)" = hi ]'
check env '[ "$CI" = true ]'
[ -n "${BREAK_ONE:-}" ] && check broken 'false'
mkdir -p /work/project/out
echo "<testsuite tests=\\"$((passed+failed))\\" failures=\\"$failed\\">$cases</testsuite>" > /work/project/out/junit.xml
[ "$failed" -eq 0 ]
""",
}


@contextlib.contextmanager
def sandbox(args: argparse.Namespace) -> Iterator[Sandbox]:
    """A sandbox that is gone when the block ends, however it ends."""
    if args.local:
        with LocalSandboxes(images={args.image: args.local}) as host:
            with host.create_sandbox(args.image, timeout=args.timeout) as sbx:
                yield sbx
    else:
        with Helix().create_sandbox(args.image, timeout=args.timeout, labels={"job": "ci"}) as sbx:
            yield sbx


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default="busybox:1")
    ap.add_argument("--local", metavar="ROOTFS_TAR", help="run the sandbox in this process")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--break-one", action="store_true", help="add a failing test")
    args = ap.parse_args()
    try:
        with sandbox(args) as sbx:
            print(f"sandbox {sbx.id} ({args.image})", flush=True)
            for path, text in PROJECT.items():
                sbx.files.write(path, text)
            env = {"CI": "true"}
            if args.break_one:
                env["BREAK_ONE"] = "1"
            result = sbx.commands.run(
                "sh test.sh",
                cwd="/work/project",
                env=env,
                on_stdout=lambda s: print(s, end="", flush=True),
                on_stderr=lambda s: print(s, end="", file=sys.stderr, flush=True),
            )
            report = sbx.files.read("/work/project/out/junit.xml").decode()
            print(f"junit.xml: {report.strip()}")
            with open("junit.xml", "w") as f:
                f.write(report)
            sandbox_id, code = sbx.id, int(result["exit_code"])
        # Leaving the block killed the sandbox (and stopped a local host).
        print(f"tests exited {code}; sandbox {sandbox_id} torn down")
        return code
    except HelixError as e:
        print(f"error: {e.code} ({e.status}): {e.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
