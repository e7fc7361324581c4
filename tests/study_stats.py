#!/usr/bin/env python3
"""The depth study's verdicts (scripts/study/study.py), on numbers worked out by hand: the paired
Student-t interval, the three verdicts and "not judged", collapse counts, and the one-sample use
for gradient-norm ratios. Standard library only; prints a closing line."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "study"))
sys.argv = sys.argv[:1]
import study  # noqa: E402

failures = []


def check(what, ok):
    if not ok:
        failures.append(what)


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(b))


# mean -0.15, sample sd 0.05, t(0.975, 2) = 4.303: half-width 4.303 · 0.05 / √3 = 0.124217
d, diffs, ci, v = study.judge({0: 0.9, 1: 0.8, 2: 0.85}, {0: 1.0, 1: 1.0, 2: 1.0})
check("mean difference", close(d, -0.15))
check("paired differences", [round(x, 12) for x in diffs] == [-0.1, -0.2, -0.15])
hw = 4.303 * 0.05 / math.sqrt(3)
check("interval", ci is not None and close(ci[0], -0.15 - hw) and close(ci[1], -0.15 + hw))
check("held below zero", v == "**held**")
check("the opposite above zero", study.judge({0: 1.1, 1: 1.2, 2: 1.15}, {0: 1, 1: 1, 2: 1})[3].startswith("did not hold (the opposite"))
check("not resolved across zero", study.judge({0: 0.9, 1: 1.1}, {0: 1, 1: 1})[3].startswith("not resolved"))
check("one paired seed: not judged", study.judge({0: 0.5, 1: 0.6}, {0: 1.0, 3: 1.0})[3] == "not judged (1 paired seed)")
check("a claim 'a > b' flips the side", study.judge({0: 1.1, 1: 1.2, 2: 1.15}, {0: 1, 1: 1, 2: 1}, lower_is_claim=False)[3] == "**held**")
check("t beyond 30 degrees of freedom is 1.96", close(study.t_interval([0.0, 2.0] * 20)[1][1], 1.0 + 1.96 * math.sqrt(40 / 39) / math.sqrt(40)))

# perplexity claims: log-perplexity differences, collapses counted and left out of the interval
plateau = 500.0  # collapsed at >= 0.8 · 500 = 400, or not finite
mix = {0: 100.0, 1: 110.0, 2: 105.0}
post = {0: 120.0, 1: 450.0, 2: float("inf")}
claim, where, measured, verdict = study.ppl_claim("c", mix, post, "here", "Mix", "Post", plateau)
check("collapse counts", "collapsed: Mix 0 of 3, Post 2 of 3" in measured)
check("one seed left: not judged, fewer collapses said", verdict == "not judged (1 paired seed); fewer collapses (0 vs 2 of 3)")
check("the change in perplexity of the one seed left", measured.startswith("Mix − Post: %+.1f%%" % (100 * (100 / 120 - 1))))
# the claimed-lower side collapsing more often is no support, whatever its surviving seeds say
v = study.ppl_claim("c", {0: 100.0, 1: 450.0, 2: 460.0, 3: 101.0}, {0: 120.0, 1: 130.0, 2: 125.0, 3: 121.0},
                    "here", "Mix", "Post", plateau)[3]
check("more collapses on the claimed-lower side", v == "not resolved (more collapses: 2 vs 0 of 4)")
# a diverged run (inf) never reaches the interval
check("inf left out of a paired interval", study.judge({0: 1.0, 1: 2.0, 2: float("inf")}, {0: 1.5, 1: 2.5, 2: 1.0})[1] == [-0.5, -0.5])
check("pm of finite values only", study.pm([1.0, float("inf"), 3.0]) == "2.00 ± 1.41 (2)")
check("a collapsed run is one at 80% of the plateau", study.collapsed(400.0, plateau) and not study.collapsed(399.0, plateau))
check("with no plateau known only divergence collapses", not study.collapsed(1e9, None) and study.collapsed(float("nan"), None))

if failures:
    print("study_stats: FAILED: " + "; ".join(failures))
    sys.exit(1)
print("study_stats: all checks passed")
