"""The Python side of `helix bench sdk`: the same calls the Rust baseline makes, timed
here; prints one JSON object. Usage: bench.py URL KEY MODEL CALLS STREAMS FFI_CALLS"""

import json
import sys
import time

from helix import Helix, Scheduler


def main() -> None:
    url, key, model = sys.argv[1:4]
    calls, streams, ffi = (int(a) for a in sys.argv[4:7])
    client = Helix(url, key)
    out: dict = {}

    # An in-process call with no I/O: what crossing into Rust and back costs.
    s = Scheduler()
    for _ in range(1000):
        s.now()
    t = time.perf_counter_ns()
    for _ in range(ffi):
        s.now()
    out["ffi_ns"] = (time.perf_counter_ns() - t) / ffi

    for _ in range(50):
        client.list_models()
    lat = []
    for _ in range(calls):
        t = time.perf_counter_ns()
        client.list_models()
        lat.append((time.perf_counter_ns() - t) / 1000)
    out["call_us"] = lat

    lat, pieces = [], 0
    for i in range(streams + 5):
        session = client.create_session(model=model)
        t = time.perf_counter_ns()
        n = sum(1 for _ in client.chat(session["id"], "hi"))
        if i >= 5:  # warm-up
            lat.append((time.perf_counter_ns() - t) / 1000)
            pieces = n
    out["stream_us"] = lat
    out["pieces"] = pieces
    print(json.dumps(out))


main()
