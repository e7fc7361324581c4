#!/usr/bin/env python3
"""compare_losses.py REF.jsonl RUN.jsonl TOL — a GPU run's training losses against the CPU's.

Reads the `loss` lines of two log.jsonl files (a trainer's), and prints one line
`ok|detail` or `FAIL|detail`: the mean loss of the last 20 common steps must agree within the
relative tolerance TOL. Used by scripts/gpu/gpu_check.sh and scripts/gpu/gpu_perf.sh.
"""
import json
import sys


def losses(path):
    d = {}
    for line in open(path):
        j = json.loads(line)
        if "loss" in j and "val_loss" not in j:
            d[j["step"]] = j["loss"]
    return d


ref, run, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
a, b = losses(ref), losses(run)
steps = sorted(set(a) & set(b))
if len(steps) < 20:
    print("FAIL|%d common steps" % len(steps))
    sys.exit()
last = steps[-20:]
ma, mb = sum(a[s] for s in last) / 20, sum(b[s] for s in last) / 20
rel = abs(mb - ma) / abs(ma)
worst = max(abs(a[s] - b[s]) for s in steps)
print("%s|%d steps; last-20 mean loss CPU %.4f, GPU %.4f (rel %.2e, tolerance %.0e); largest step difference %.3f" %
      ("ok" if rel <= tol else "FAIL", len(steps), ma, mb, rel, tol, worst))
