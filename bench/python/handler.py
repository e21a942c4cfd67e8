"""The bench's Python rows: logging.handlers.WatchedFileHandler and
logging.FileHandler, driven the way the Go strategies are.

Run by the Go bench as: python3 handler.py '<json arguments>'. It prints one
JSON object on stdout. Modes:

  throughput  write records from G threads for a duration; report records,
              elapsed and CPU time, write calls, and the p50 and p99 of the
              time one handle() takes (every 16th timed).
  count       write N records from G threads (one by default) and exit (run
              under strace).
  rotation    write sequence-numbered records, paced, from G threads until
              stdin is closed; report which records failed.

Each record goes through handler.handle() with a prebuilt LogRecord whose
message is the payload and a '%(message)s' formatter: the handler's own cost
(lock, stat for WatchedFileHandler, format, write, flush), not the Logger's.
"""

import json
import logging
import logging.handlers
import math
import os
import signal
import sys
import threading
import time


def make_handler(kind, path):
    if kind == "watched":
        h = logging.handlers.WatchedFileHandler(path)
    elif kind == "file":
        h = logging.FileHandler(path)
    else:
        raise SystemExit("unknown handler kind: %r" % kind)
    h.setFormatter(logging.Formatter("%(message)s"))
    return h


def make_record(msg):
    return logging.LogRecord("bench", logging.INFO, __file__, 0, msg, None, None)


def syscw():
    """The kernel's count of write calls by this process (/proc/self/io)."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("syscw:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def quantile(xs, q):
    """The q-quantile of sorted xs: the smallest value with q of xs at or below it."""
    if not xs:
        return -1
    return xs[min(len(xs), max(1, math.ceil(q * len(xs)))) - 1]


def throughput(args):
    h = make_handler(args["kind"], args["path"])
    rec = make_record("x" * (args["size"] - 1))  # the terminator adds "\n"
    every = args.get("latency_every", 16)
    stop = [False]
    counts = [0] * args["goroutines"]
    lat = [[] for _ in range(args["goroutines"])]

    def worker(i):
        n = 0
        handle = h.handle
        clock = time.perf_counter_ns
        mine = lat[i]
        while not stop[0]:
            if n % every == 0:  # every 16th record is timed, as in Go
                t0 = clock()
                handle(rec)
                mine.append(clock() - t0)
            else:
                handle(rec)
            n += 1
        counts[i] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args["goroutines"])]
    w0 = syscw()
    cpu0 = time.process_time_ns()
    t0 = time.monotonic_ns()
    for t in threads:
        t.start()
    time.sleep(args["duration_ns"] / 1e9)
    stop[0] = True
    for t in threads:
        t.join()
    elapsed = time.monotonic_ns() - t0
    cpu = time.process_time_ns() - cpu0
    h.close()
    w1 = syscw()
    samples = sorted(x for xs in lat for x in xs)
    return {
        "records": sum(counts),
        "elapsed_ns": elapsed,
        "cpu_ns": cpu,
        "write_calls": w1 - w0 if w0 >= 0 and w1 >= 0 else -1,
        "latency_p50_ns": quantile(samples, 0.50),
        "latency_p99_ns": quantile(samples, 0.99),
    }


def count(args):
    h = make_handler(args["kind"], args["path"])
    rec = make_record("x" * (args["size"] - 1))
    g = max(args.get("goroutines", 1), 1)
    n = args["records"]

    def worker(i):
        for _ in range(n // g + (1 if i < n % g else 0)):
            h.handle(rec)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(g)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.close()
    return {"records": n}


def rotation(args):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the rotator's postrotate signal
    h = make_handler(args["kind"], args["path"])
    size = args["size"]
    pace = args["pace_ns"] / 1e9
    lock = threading.Lock()
    state = {"next": 0, "failed": [], "tail": 0, "errors": {}}
    stop = [False]
    local = threading.local()

    def handle_error(record):
        local.failed = sys.exc_info()[1]

    h.handleError = handle_error

    def worker():
        while not stop[0]:
            with lock:
                seq = state["next"]
                state["next"] += 1
            head = "seq=%09d t=%d " % (seq, time.monotonic_ns())
            rec = make_record(head + "x" * max(0, size - 1 - len(head)))
            local.failed = None
            try:
                h.handle(rec)
            except Exception as e:  # WatchedFileHandler's reopen raises through handle
                local.failed = e
            with lock:
                if local.failed is not None:
                    state["failed"].append(seq)
                    state["tail"] += 1
                    msg = "%s: %s" % (type(local.failed).__name__, local.failed)
                    state["errors"][msg] = state["errors"].get(msg, 0) + 1
                else:
                    state["tail"] = 0
            time.sleep(pace)

    threads = [threading.Thread(target=worker) for _ in range(args["goroutines"])]
    for t in threads:
        t.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()  # the parent closes stdin to stop us
    stop[0] = True
    for t in threads:
        t.join()
    try:
        h.close()
    except Exception:
        pass
    return {
        "attempted": state["next"],
        "failed": state["failed"],
        "tail_failed": state["tail"],
        "errors": state["errors"],
    }


def main():
    args = json.loads(sys.argv[1])
    mode = args["mode"]
    if mode == "throughput":
        out = throughput(args)
    elif mode == "count":
        out = count(args)
    elif mode == "rotation":
        out = rotation(args)
    else:
        raise SystemExit("unknown mode: %r" % mode)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
