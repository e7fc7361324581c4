#!/usr/bin/env python3
"""scripts/study/study.py — the bookkeeping and the report of the depth study (scripts/study/study.sh).

  study.py record --run RUN_DIR --key KEY ...   append one finished run to STUDY/results.csv and
                                                copy its curve, gradient norms and analyses
  study.py refill --run RUN_DIR --key KEY ...   a recorded run trained again: check that it reproduces
                                                its row, keep the measurements the row predates
  study.py record-vision --run RUN_DIR ...       append one finished run of the vision study
                                                (scripts/study/vision.sh) to STUDY/vision.csv
  study.py data-id DIR [--images]               the shards' identity, as results.csv (vision.csv) records it
  study.py merge --source DIR --study STUDY     the runs another machine recorded in DIR (results.csv,
                                                runs/) join STUDY (scripts/gpu/gpu_wide24.sh's, from a GPU)
  study.py report --study STUDY --plan PLAN --out docs/reproduction.md --img docs/img
                                                the report, every figure computed from the data
  study.py demo-table --study STUDY --plan PLAN --runs runs/demo --config C --tokens N --lr X [--data DIR]
                      --placements "preln postln mixln"
                                                the demo's table, against the study's seed spread

Standard library only; the plots are drawn by gnuplot where it is installed.
"""
import argparse
import collections
import csv
import datetime
import hashlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys

COLUMNS = ["run", "trainer", "config", "placement", "layers", "seed", "lr", "steps", "batch", "seq", "tokens",
           "status", "diverged_step", "eval_tokens", "val_loss", "val_ppl", "train_loss_end", "train_s", "tok_s", "machine",
           "commit", "date", "init", "data"]

# The example language-model trainers (examples/models.txt, less those tagged vision): a plan
# names only these; each placement's name in the report is its label there.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
import example_models  # noqa: E402
MODELS = [r for r in example_models.read() if "vision" not in r["tags"]]
TRAINERS = {r["trainer"] for r in MODELS}
LABELS = {r["placement"]: r["label"] for r in MODELS}
ALPHA = {"preln": 0.0, "mixln_a1_8": 0.125, "mixln": 0.25, "mixln_a3_8": 0.375, "mixln_a1_2": 0.5, "postln": 1.0}
ALPHA_TEXT = {0.0: "0 (Pre-LN)", 0.125: "1/8", 0.25: "1/4", 0.375: "3/8", 0.5: "1/2", 1.0: "1 (Post-LN)"}
COLORS = {"preln": "#1f77b4", "postln": "#d62728", "mixln": "#2ca02c"}
# Each recipe as its paper writes it and the variant of it this study ran first (docs/dsl.md);
# the placements the field compares since the paper, judged against Pre-LN.
RECIPES = [("dyt_llama", "dyt"), ("hybridnorm_head", "hybridnorm"), ("hybridnorm_star", "hybridnorm_head"),
           ("periln_embnorm", "periln")]
FIELD = ["periln", "periln_embnorm", "olmo2", "hybridnorm", "hybridnorm_head", "hybridnorm_star", "dyt", "dyt_llama"]


def fail(msg):
    sys.stderr.write("study.py: %s\n" % msg)
    sys.exit(1)


def model_trainer(trainer):
    """the row of examples/models.txt a plan's trainer is: a `_cuda` twin (the same model type on the
    CUDA backend, e.g. wide24's runs on a GPU) is its trainer's"""
    return trainer[:-len("_cuda")] if trainer.endswith("_cuda") else trainer


def split_trainer(trainer):
    trainer = model_trainer(trainer)
    for r in example_models.read():
        if r["trainer"] == trainer:
            return r["config"], r["placement"]
    config, _, placement = trainer.partition("_")
    if not placement:
        fail("trainer '%s' is not <config>_<placement>" % trainer)
    return config, placement


# ---------------------------------------------------------------- record

def vision_run_key(fields):
    """a vision plan line's run name, as scripts/study/vision.sh gives it (None for a blank line):
    fields are trainer seed lr steps batch crop-pad flip"""
    if not fields:
        return None
    trainer, seed, lr, steps, batch, pad, flip = fields[:7]
    return "%s_s%s_lr%s_%sx%s_pad%s%s" % (trainer, seed, lr, steps, batch, pad, "_flip" if flip == "yes" else "")


def data_id(data_dir, images=False):
    """the shards' identity: the first 12 hex digits of sha256(train.bin, then val.bin), or of the
    image splits' four files (train images, train labels, val images, val labels)"""
    h = hashlib.sha256()
    names = (["%s.%s.bin" % (s, k) for s in ("train", "val") for k in ("images", "labels")] if images
             else ["train.bin", "val.bin"])
    for name in names:
        path = os.path.join(data_dir, name)
        if not os.path.exists(path):
            fail("no %s in %s (%s makes it)" % (name, data_dir, "mixln-prepare-images" if images else "mixln-prepare"))
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def data_id_cmd(a):
    """prints DIR's data id; with --study, fails unless every recorded run of the study used it"""
    mine = data_id(a.dir, a.images)
    if a.study:
        results = os.path.join(a.study, "vision.csv" if a.images else "results.csv")
        recorded = sorted({r["data"] or "unrecorded" for r in read_results(results)})
        if recorded and recorded != [mine]:
            fail("%s (data %s) is not the shards of the runs in %s (data %s); remake them with "
                 "the same %s flags, or start another study folder" %
                 (a.dir, mine, results, ", ".join(recorded), "mixln-prepare-images" if a.images else "mixln-prepare"))
    print(mine)


def read_results(path):
    """the rows of results.csv with every column of COLUMNS (a column added since a row was written
    holds what the runs of that time did: init "default")"""
    if not os.path.exists(path):
        return []
    rows = list(csv.DictReader(open(path)))
    for r in rows:
        if not r.get("init"):
            r["init"] = "default"
        r["data"] = r.get("data") or ""
    return rows


def read_log(path):
    steps, evals = {}, []
    if not os.path.isfile(path):
        fail("no training log %s" % path)
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                j = json.loads(line)
            except ValueError:
                fail("%s:%d is not a JSON line" % (path, n))
            if "val_ppl" in j or "val_acc" in j:
                evals.append(j)
            elif "loss" in j:
                steps[j["step"]] = j  # a resumed run repeats steps after its checkpoint: keep the last
    return [steps[k] for k in sorted(steps)], evals


def record(a):
    run = a.run
    log = os.path.join(run, "log.jsonl")
    if not os.path.exists(log):
        fail("%s has no log.jsonl" % run)
    steps, evals = read_log(log)
    config, placement = split_trainer(a.trainer)
    tokens_per_step = a.batch * a.seq
    gn = os.path.join(run, "grad_norms.csv")
    layers = ""
    if os.path.exists(gn):
        with open(gn) as f:
            layers = 1 + max(int(r["layer"]) for r in csv.DictReader(f))
    diverged_step = ""
    if a.status == "diverged":
        m = re.search(r"(at|after) step (\d+)", open(a.err).read())
        diverged_step = m.group(2) if m else ""
        val_loss = val_ppl = ""
    else:
        if not evals:
            fail("%s: the run finished without a validation evaluation" % run)
        val_loss, val_ppl = "%.5f" % evals[-1]["val_loss"], "%.4f" % evals[-1]["val_ppl"]
    tail = [s["loss"] for s in steps[-10:]]
    row = {
        "run": a.key, "trainer": a.trainer, "config": config, "placement": placement, "layers": layers,
        "seed": a.seed, "lr": a.lr, "steps": a.steps, "batch": a.batch, "seq": a.seq,
        "tokens": a.steps * tokens_per_step, "status": a.status, "diverged_step": diverged_step,
        "eval_tokens": a.eval_tokens,
        "val_loss": val_loss, "val_ppl": val_ppl,
        "train_loss_end": "%.5f" % statistics.fmean(tail) if tail else "",
        # the training time as steps × the median step time: robust to a pause or a resume
        "train_s": "%.1f" % (len(steps) * tokens_per_step / statistics.median(s["tok_s"] for s in steps)) if steps else "",
        "tok_s": "%.0f" % statistics.median(s["tok_s"] for s in steps) if steps else "",
        "machine": a.machine, "commit": a.commit,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "init": a.init, "data": a.data_id,
    }
    dest = os.path.join(a.study, "runs", a.key)
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "curve.csv"), "w") as f:
        f.write("step,loss,grad_norm\n")
        for s in steps:
            f.write("%d,%.5f,%.5g\n" % (s["step"], s["loss"], s.get("grad_norm", float("nan"))))
    for name in ("grad_norms.csv", "analyses/angular.csv", "analyses/layer_drop.csv", "analyses/residual_rms.csv",
                 "analyses/residual_rms_init.csv"):
        src = run + "." + name if name.startswith("analyses/") else os.path.join(run, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(dest, os.path.basename(name)))
    if a.status == "diverged":
        shutil.copy(a.err, os.path.join(dest, "error.txt"))
    results = os.path.join(a.study, "results.csv")
    rows = read_results(results)
    tmp = results + ".tmp-%d" % os.getpid()  # the data file is replaced whole, never half-written
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows + [row])
    os.replace(tmp, results)
    print("%s: %s, val ppl %s, %s s" % (a.key, a.status, val_ppl or "-", row["train_s"]))


VISION_COLUMNS = ["run", "trainer", "config", "placement", "layers", "seed", "lr", "steps", "batch", "images",
                  "crop_pad", "flip", "status", "diverged_step", "eval_images", "val_loss", "val_acc",
                  "train_loss_end", "train_s", "img_s", "machine", "commit", "date", "data"]


def record_vision(a):
    """one finished run of the vision study (scripts/study/vision.sh): its row in STUDY/vision.csv,
    its loss curve and gradient norms in STUDY/vision/<run>/"""
    steps, evals = read_log(os.path.join(a.run, "log.jsonl"))
    config, placement = split_trainer(a.trainer)
    diverged_step, val_loss, val_acc, eval_images = "", "", "", ""
    if a.status == "diverged":
        m = re.search(r"(at|after) step (\d+)", open(a.err).read())
        diverged_step = m.group(2) if m else ""
    else:
        if not evals:
            fail("%s: the run finished without a validation evaluation" % a.run)
        e = evals[-1]
        val_loss, val_acc, eval_images = "%.5f" % e["val_loss"], "%.5f" % e["val_acc"], e["images"]
    layers = ""
    gn = os.path.join(a.run, "grad_norms.csv")
    if os.path.exists(gn):
        with open(gn) as f:
            layers = 1 + max(int(r["layer"]) for r in csv.DictReader(f))
    img_s = statistics.median(s["img_s"] for s in steps) if steps else None
    tail = [s["loss"] for s in steps[-10:]]
    row = {
        "run": a.key, "trainer": a.trainer, "config": config, "placement": placement, "layers": layers,
        "seed": a.seed, "lr": a.lr, "steps": a.steps, "batch": a.batch, "images": a.steps * a.batch,
        "crop_pad": a.crop_pad, "flip": a.flip, "status": a.status, "diverged_step": diverged_step,
        "eval_images": eval_images, "val_loss": val_loss, "val_acc": val_acc,
        "train_loss_end": "%.5f" % statistics.fmean(tail) if tail else "",
        "train_s": "%.1f" % (len(steps) * a.batch / img_s) if img_s else "",
        "img_s": "%.0f" % img_s if img_s else "",
        "machine": a.machine, "commit": a.commit,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), "data": a.data_id,
    }
    dest = os.path.join(a.study, "vision", a.key)
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "curve.csv"), "w") as f:
        f.write("step,loss,grad_norm\n")
        for s in steps:
            f.write("%d,%.5f,%.5g\n" % (s["step"], s["loss"], s.get("grad_norm", float("nan"))))
    if os.path.exists(gn):
        shutil.copy(gn, os.path.join(dest, "grad_norms.csv"))
    if a.status == "diverged":
        shutil.copy(a.err, os.path.join(dest, "error.txt"))
    results = os.path.join(a.study, "vision.csv")
    rows = list(csv.DictReader(open(results))) if os.path.exists(results) else []
    tmp = results + ".tmp-%d" % os.getpid()  # replaced whole, never half-written
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, VISION_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows + [row])
    os.replace(tmp, results)
    print("   %s: %s, val acc %s, %s s" % (a.key, a.status, val_acc or "-", row["train_s"]))


def refill(a):
    """A recorded run trained again (a.run) to recover measurements its row predates: the new run
    must reproduce the row's validation loss and the gradient norms kept from it, to every printed
    digit; then its gradient norms (a superset of the steps) and residual-RMS files join the kept
    ones, and refill.txt says where they come from. Anything else fails and changes nothing."""
    rows = {r["run"]: r for r in read_results(os.path.join(a.study, "results.csv"))}
    if a.key not in rows:
        fail("%s is not in %s/results.csv" % (a.key, a.study))
    row, kept = rows[a.key], os.path.join(a.study, "runs", a.key)
    _, evals = read_log(os.path.join(a.run, "log.jsonl"))
    if not evals:
        fail("%s: the run finished without a validation evaluation" % a.run)
    if str(evals[-1].get("tokens")) != row["eval_tokens"]:
        fail("%s: the run trained again was scored on %s validation tokens, its row on %s; run the refill "
             "with EVAL_TOKENS=%s" % (a.key, evals[-1].get("tokens"), row["eval_tokens"], row["eval_tokens"]))
    now = "%.5f" % evals[-1]["val_loss"]
    if now != row["val_loss"]:
        fail("%s is not reproduced: its row's validation loss is %s, the run trained again (commit %s) "
             "ends at %s; nothing refilled" % (a.key, row["val_loss"], a.commit, now))
    new_gn = os.path.join(a.run, "grad_norms.csv")
    old_gn = os.path.join(kept, "grad_norms.csv")
    if not os.path.exists(new_gn):
        fail("%s has no grad_norms.csv" % a.run)
    new_rows = list(csv.DictReader(open(new_gn)))
    if os.path.exists(old_gn):
        old_rows = list(csv.DictReader(open(old_gn)))
        steps = {r["step"] for r in old_rows}
        if [r for r in new_rows if r["step"] in steps] != old_rows:
            fail("%s is not reproduced: the gradient norms at steps %s differ from the kept ones; nothing refilled" %
                 (a.key, ", ".join(sorted(steps, key=int))))
    copies = [(new_gn, "grad_norms.csv")]
    for name in ("residual_rms.csv", "residual_rms_init.csv"):
        src = os.path.join(a.run + ".analyses", name)
        if os.path.exists(src):
            copies.append((src, name))
    for src, name in copies:  # each file replaced whole
        tmp = os.path.join(kept, name + ".tmp-%d" % os.getpid())
        shutil.copy(src, tmp)
        os.replace(tmp, os.path.join(kept, name))
    with open(os.path.join(kept, "refill.txt"), "w") as f:
        f.write("%s was trained again on %s (%s, commit %s): validation loss %s and the kept gradient norms "
                "reproduced exactly; %s come from that run.\n" % (
                    a.key, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), a.machine,
                    a.commit, now, ", ".join(name for _, name in copies)))
    print("%s: reproduced (val loss %s); refilled %s" % (a.key, now, ", ".join(name for _, name in copies)))


def merge(a):
    """The runs another machine recorded (a.source: a study folder with results.csv and runs/<run>/,
    e.g. what scripts/gpu/gpu_wide24.sh brings back) join this study: only on the same token shards,
    a run already recorded here is left as it is, and results.csv is replaced whole."""
    src_rows = read_results(os.path.join(a.source, "results.csv"))
    if not src_rows:
        fail("%s/results.csv holds no run" % a.source)
    results = os.path.join(a.study, "results.csv")
    rows = read_results(results)
    mine = {r["data"] for r in rows} | {r["data"] for r in src_rows}
    if len(mine) > 1:
        fail("%s's runs and %s's were trained on different token shards (data %s); a study compares runs "
             "on one dataset" % (a.source, a.study, ", ".join(sorted(i or "not recorded" for i in mine))))
    have = {r["run"] for r in rows}
    new = [r for r in src_rows if r["run"] not in have]
    for r in new:
        src = os.path.join(a.source, "runs", r["run"])
        if not os.path.isdir(src):
            fail("%s has no runs/%s/ for its row %s" % (a.source, r["run"], r["run"]))
    for r in new:
        dest = os.path.join(a.study, "runs", r["run"])
        if os.path.exists(dest):
            shutil.rmtree(dest)  # the files of a run whose row was never written here
        shutil.copytree(os.path.join(a.source, "runs", r["run"]), dest)
    tmp = results + ".tmp-%d" % os.getpid()
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows + new)
    os.replace(tmp, results)
    print("merged %d run%s of %s into %s (%d already there)" % (len(new), "" if len(new) == 1 else "s", a.source,
                                                                 results, len(src_rows) - len(new)))


# ---------------------------------------------------------------- statistics

def mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def std(xs):
    return statistics.stdev(xs) if len(xs) > 1 else None


def fmt(x, d=2):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.*f" % (d, x)


def pm(xs, d=2):
    """mean ± std (n) of the finite values"""
    xs = [x for x in xs if math.isfinite(x)]
    if not xs:
        return "–"
    s = std(xs)
    return "%.*f ± %.*f (%d)" % (d, mean(xs), d, s, len(xs)) if s is not None else "%.*f (1)" % (d, xs[0])


# Student's t, the 0.975 quantile by degrees of freedom (a two-sided 95% interval); 1.96 beyond 30.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042}


def t_interval(diffs):
    """the mean of paired differences and its two-sided 95% Student-t interval (None below 2)"""
    n = len(diffs)
    d = mean(diffs)
    if n < 2:
        return d, None
    hw = T975.get(n - 1, 1.96) * statistics.stdev(diffs) / math.sqrt(n)
    return d, (d - hw, d + hw)


def judge(a, b, lower_is_claim=True):
    """The claim 'a < b' (or 'a > b') on per-seed dicts {seed: value}, paired by seed: the mean of
    the differences a − b over the seeds both ran, with its 95% Student-t interval. The claim
    *held* when the interval lies wholly on its side of 0, *the opposite* when it lies wholly on
    the other, else *not resolved*; fewer than two paired seeds: *not judged*.
    Returns (mean difference, the differences, the interval or None, verdict)."""
    seeds = [s for s in sorted(set(a) & set(b)) if math.isfinite(a[s]) and math.isfinite(b[s])]
    diffs = [a[s] - b[s] for s in seeds]
    d, ci = t_interval(diffs)
    if ci is None:
        return d, diffs, None, "not judged (%d paired seed%s)" % (len(diffs), "" if len(diffs) == 1 else "s")
    lo, hi = ci if lower_is_claim else (-ci[1], -ci[0])
    if hi < 0:
        return d, diffs, ci, "**held**"
    if lo > 0:
        return d, diffs, ci, "did not hold (the opposite: the interval excludes 0)"
    return d, diffs, ci, "not resolved (the interval includes 0)"


def pct(d):
    """a difference of log-perplexities as the perplexity ratio's change, in percent"""
    return 100.0 * (math.exp(d) - 1.0)


def interval_text(d, ci, n, log=True, digits=2):
    """'−3.1% [−4.0, −2.2] (n = 3)' (log: differences of log-perplexity, shown as % of perplexity)"""
    f = (lambda x: "%+.1f" % pct(x)) if log else (lambda x: "%+.*f" % (digits, x))
    unit = "%" if log else ""
    if ci is None:
        return "%s%s (n = %d, no interval)" % (f(d), unit, n) if n else "–"
    return "%s%s [%s, %s] (n = %d)" % (f(d), unit, f(ci[0]), f(ci[1]), n)


# A run has *collapsed* when it diverged or ended on the unigram plateau: a validation perplexity
# at least this fraction of the unigram model's (the training tokens' frequencies, scored on the
# validation tokens). Such outcomes are bimodal; they are counted, and the paired interval is taken
# over the seeds where neither side collapsed.
PLATEAU_FRACTION = 0.8


def unigram_ppl(data_dir, cache, want):
    """the unigram model's validation perplexity on the shards whose data id is `want` (add-one
    smoothed), computed from data_dir when it holds them and cached in `cache`, so that a report can
    be written where the data is not; None when neither has them"""
    import array
    known = json.load(open(cache)) if os.path.exists(cache) else {}
    if want and known.get("data_id") == want:
        return known["unigram_val_ppl"]
    if not os.path.exists(os.path.join(data_dir, "val.bin")) or data_id(data_dir) != want:
        return None
    shards = {}
    for split in ("train", "val"):
        path = os.path.join(data_dir, split + ".bin")
        if not os.path.exists(path):
            return None
        meta = json.load(open(path + ".json"))
        shards[split] = array.array({"uint16": "H", "uint32": "I"}[meta["dtype"]])
        shards[split].frombytes(open(path, "rb").read())
    counts = collections.Counter(shards["train"])
    vocab = max(max(shards["train"]), max(shards["val"])) + 1
    total = len(shards["train"]) + vocab
    nll = -sum(math.log((counts.get(t, 0) + 1) / total) for t in shards["val"]) / len(shards["val"])
    value = math.exp(nll)
    tmp = cache + ".tmp-%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump({"unigram_val_ppl": round(value, 3), "data": data_dir, "data_id": want,
                   "how": "add-one smoothed train.bin token frequencies scored on val.bin"}, f)
        f.write("\n")
    os.replace(tmp, cache)
    return value


def collapsed(ppl, plateau):
    return not math.isfinite(ppl) or (plateau is not None and ppl >= PLATEAU_FRACTION * plateau)


def ppl_claim(claim, lower, higher, where, lo_label, hi_label, plateau):
    """the claim "<lower> reaches a lower perplexity than <higher>" on {seed: ppl} of both, as a
    claims row: paired log-perplexity differences over the seeds neither collapsed, and the
    collapse counts when there are any"""
    seeds = sorted(set(lower) & set(higher))
    bad = {name: [s for s in seeds if collapsed(side[s], plateau)] for name, side in
           ((lo_label, lower), (hi_label, higher))}
    keep = [s for s in seeds if s not in bad[lo_label] and s not in bad[hi_label]]
    d, diffs, ci, v = judge({s: math.log(lower[s]) for s in keep}, {s: math.log(higher[s]) for s in keep})
    measured = "%s − %s: %s" % (lo_label, hi_label, interval_text(d, ci, len(keep)))
    if len(seeds) < 2:  # one run a side: nothing to count, nothing to judge
        if bad[lo_label] or bad[hi_label]:
            measured += "; collapsed: %s %d of %d, %s %d of %d" % (lo_label, len(bad[lo_label]), len(seeds),
                                                                 hi_label, len(bad[hi_label]), len(seeds))
        return (claim, where, measured, "not judged (%d paired seed%s)" % (len(seeds), "" if len(seeds) == 1 else "s"))
    if bad[lo_label] or bad[hi_label]:
        measured += "; collapsed: %s %d of %d, %s %d of %d" % (lo_label, len(bad[lo_label]), len(seeds),
                                                             hi_label, len(bad[hi_label]), len(seeds))
        if len(bad[lo_label]) > len(bad[hi_label]):  # the claimed-lower side fails more often
            v = "not resolved (more collapses: %d vs %d of %d)" % (len(bad[lo_label]), len(bad[hi_label]), len(seeds))
        elif len(bad[hi_label]) > len(bad[lo_label]) and not v.startswith("did not"):
            v = "%s; fewer collapses (%d vs %d of %d)" % (v, len(bad[lo_label]), len(bad[hi_label]), len(seeds))
    return (claim, where, measured, v)


def mix_lower_claim(mix, other_ppl, other, where, plateau=None):
    """the claim "Mix-LN is lower than <other>" judged on {seed: ppl} of both, as a claims row"""
    return ppl_claim("Mix-LN reaches a lower perplexity than %s" % LABELS[other], mix, other_ppl, where,
                     "Mix", LABELS[other], plateau)


class Study:
    def __init__(self, study_dir, plan):
        self.dir = study_dir
        path = os.path.join(study_dir, "results.csv")
        self.rows = read_results(path)
        ids = sorted({r["data"] for r in self.rows})
        if len(ids) > 1:  # perplexities on two tokenizations are not one comparison
            fail("%s mixes runs on different token shards (data %s); a study compares runs on one dataset" %
                 (path, ", ".join(i or "not recorded" for i in ids)))
        self.data = ids[0] if ids else None
        self.plan = []     # the run keys, in the plan's order
        self.planned = []  # (trainer, seed, lr, tokens, init) of each plan line
        self.lr_text = {}  # a learning rate as the plan writes it ("3e-3")
        for line in open(plan):
            line = line.split("#")[0].split()
            if line:
                trainer, seed, lr, steps, batch, seq, _ = line[:7]
                init = line[7] if len(line) > 7 else "default"
                if model_trainer(trainer) not in TRAINERS:
                    fail("%s: %s is not a trainer of examples/models.txt" % (plan, trainer))
                self.plan.append("%s_s%s_lr%s_%sx%sx%s%s" % (trainer, seed, lr, steps, batch, seq,
                                                             "" if init == "default" else "_init-" + init))
                self.planned.append((trainer, int(seed), float(lr), str(int(steps) * int(batch) * int(seq)), init))
                self.lr_text[float(lr)] = lr
        # A configuration's base learning rate is the one most of its runs (at mixln's default
        # init) used, the others are the learning-rate sweep; its runs are compared at the number
        # of tokens most of its runs used.
        self.base_lr, self.tokens = {}, {}
        for c in {r["config"] for r in self.rows}:
            mine = [r for r in self.rows if r["config"] == c]
            lrs = collections.Counter(float(r["lr"]) for r in mine if r["init"] == "default")
            self.base_lr[c] = min(lrs, key=lambda x: (-lrs[x], x)) if lrs else float(mine[0]["lr"])
            self.tokens[c] = collections.Counter(r["tokens"] for r in mine).most_common(1)[0][0]

    def runs(self, config, placement, lr=None, tokens=None, init="default"):
        """the runs of one placement at one learning rate (the base one unless given), length and init"""
        tokens = self.tokens[config] if tokens is None else tokens
        lr = self.base_lr[config] if lr is None else lr
        return [r for r in self.rows if r["config"] == config and r["placement"] == placement and
                r["tokens"] == tokens and float(r["lr"]) == lr and r["init"] == init]

    def ppl(self, config, placement, lr=None, tokens=None, init="default"):
        """{seed: val ppl} of the finished runs (diverged runs: infinity)"""
        return {int(r["seed"]): float(r["val_ppl"]) if r["status"] == "ok" else float("inf")
                for r in self.runs(config, placement, lr, tokens, init)}

    def lrs(self, config, init="default"):
        """the learning rates a configuration's runs used at its common length"""
        return sorted({float(r["lr"]) for r in self.rows if r["config"] == config and r["init"] == init
                       and r["tokens"] == self.tokens[config]})

    def inits(self, config):
        return sorted({r["init"] for r in self.rows if r["config"] == config}, key=lambda i: (i != "default", i))

    def lengths(self, config):
        """the token counts of a configuration's runs at its base lr, the common one first"""
        counts = collections.Counter(r["tokens"] for r in self.rows if r["config"] == config and
                                     float(r["lr"]) == self.base_lr[config] and r["init"] == "default")
        return sorted(counts, key=lambda t: (t != self.tokens[config], -int(t)))

    def configs(self):
        order = {"tiny": 0, "small": 1, "deep24": 2, "deep48": 3, "wide24": 4}
        return sorted({r["config"] for r in self.rows}, key=lambda c: (order.get(c, 9), c))

    def layers(self, config):
        for r in self.rows:
            if r["config"] == config and r["layers"]:
                return int(r["layers"])
        return 0

    def csv_of(self, r, name):
        path = os.path.join(self.dir, "runs", r["run"], name)
        return list(csv.DictReader(open(path))) if os.path.exists(path) else None


def ppl_cell(d, plateau=None):
    """mean ± std (n) of the runs that did not diverge, and how many diverged or reached the plateau"""
    xs = [v for v in d.values() if math.isfinite(v)]
    bad = len(d) - len(xs)
    flat = sum(1 for v in xs if collapsed(v, plateau))
    cell = pm(xs)
    cell += " — %d of %d diverged" % (bad, len(d)) if bad else ""
    return cell + (" — %d of %d on the plateau" % (flat, len(d)) if flat else "")


def quarter_ratio(rows, layers):
    """mean gradient norm of the last quarter of the layers / that of the first quarter"""
    q = max(1, layers // 4)
    first = [float(r["grad_norm"]) for r in rows if int(r["layer"]) < q]
    last = [float(r["grad_norm"]) for r in rows if int(r["layer"]) >= layers - q]
    return mean(last) / mean(first)


def cv(xs):
    m = mean(xs)
    return statistics.pstdev(xs) / m if m else float("nan")


def tag(where):
    """a file-name part for a place in the study: "deep24, init mixln-authors" → deep24-init-mixln-authors"""
    return re.sub(r"[^A-Za-z0-9]+", "-", where).strip("-")


# ---------------------------------------------------------------- plots

def gnuplot(script):
    if shutil.which("gnuplot") is None:
        return False
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    return True


def write_dat(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- report

PAIR = ("preln", "postln", "mixln")


class Report:
    """The report of the depth study (`study.py report`): one method per section, in the order
    they appear; `claims` collects the judged claims the sections find, in that order too."""

    def __init__(self, a):
        self.a = a
        self.st = Study(a.study, a.plan)
        os.makedirs(a.img, exist_ok=True)
        self.work = os.path.join(a.study, "plotdata")
        os.makedirs(self.work, exist_ok=True)
        self.out = []
        self.w = self.out.append
        self.imgrel = os.path.relpath(a.img, os.path.dirname(os.path.abspath(a.out)) or ".")
        self.plots = []
        self.claims = []
        self.best_lr = {}  # {placement: its best learning rate at the deep configuration}
        self.plateau = unigram_ppl(a.data, os.path.join(a.study, "unigram.json"), self.st.data)

    def plot(self, name, size, body):
        """draws img/<name> (a PNG of `size`, "W,H") with the gnuplot commands `body`; True when drawn"""
        if gnuplot("set terminal pngcairo size %s\nset output '%s/%s'\n" % (size, self.a.img, name) + body):
            self.plots.append(name)
            return True
        return False

    def dat(self, name, lines):
        """plotdata/<name>, one line a point; returns its path"""
        path = os.path.join(self.work, name)
        write_dat(path, lines)
        return path

    def header(self, pending):
        st, a, w = self.st, self.a, self.w
        machines = sorted({r["machine"] for r in st.rows})
        commits = sorted({r["commit"] for r in st.rows})
        w("# Reproducing the Mix-LN paper where its effects live: depth and seeds\n")
        w("Generated by `scripts/study/study.sh` (`scripts/study/study.py report`) from `%s/results.csv`: every "
          "number below is computed from that file and the per-run files beside it, nothing is copied "
          "by hand. %d of the plan's %d runs are finished%s." %
          (a.study, len(st.plan) - len(pending), len(st.plan),
           "" if not pending else "; the others are listed at the end and `scripts/study/study.sh` continues them"))
        w("")
        w("Machines: %s. Trainers built from commit%s %s. Token shards: data id %s (`study.py data-id DIR`: "
          "sha256 of train.bin and val.bin), the same for every run." %
          ("; ".join(machines) or "–", "s" if len(commits) > 1 else "", ", ".join(commits) or "–", st.data or "–"))
        w("")
        evals = sorted({int(r["eval_tokens"]) for r in st.rows if r.get("eval_tokens")})
        w("**Setup.** LLaMA blocks (RMSNorm, SwiGLU, RoPE) trained on the Brown corpus (tokenized by "
          "`mixln-prepare`: vocabulary 4096 for small, deep24 and deep48) with AdamW, warm-up 10%%, cosine to "
          "10%%, no clipping, the same number of tokens for every run of a configuration; the seed changes "
          "the initialisation and the data order. The validation perplexity is measured at the end on %s "
          "held-out tokens. `small`: hidden 256, 8 layers; `deep24` and `deep48`: hidden 128, head dim 64, "
          "24 and 48 layers (examples/configs.hpp)." % ("/".join("{:,}".format(e) for e in evals) or "–"))
        w("")
        w("**How a claim is judged.** Runs of two placements with the same seed share their data order, "
          "so a claim \"A is lower than B\" is judged on the paired differences A − B over the seeds "
          "both ran: of log-perplexity for perplexities (shown as the change in perplexity, %%), of the "
          "quantity itself otherwise. The claim *held* when the two-sided 95%% Student-t interval of the "
          "mean difference lies wholly below 0, *did not hold (the opposite)* when it lies wholly above, "
          "and is *not resolved* when it includes 0. With fewer than two paired seeds a claim is *not "
          "judged*, whatever the numbers. A run that diverged or ended on the unigram plateau (a "
          "validation perplexity of at least %d%% of the unigram model's, %s here) has *collapsed*: "
          "collapses are counted (k of n), and the interval is taken over the seeds where neither side "
          "collapsed." % (int(100 * PLATEAU_FRACTION), fmt(self.plateau, 1) if self.plateau else "unknown"))
        w("")

    # -- the headline: Pre / Post / Mix per configuration

    def headline(self):
        st, w = self.st, self.w
        w("## Perplexity: Pre-LN, Post-LN and Mix-LN (α = 1/4) by depth\n")
        w("| configuration | layers | tokens per run | lr | Pre-LN | Post-LN | Mix-LN |")
        w("|---|---|---|---|---|---|---|")
        bars = []
        for c, tok in [(c, t) for c in st.configs() for t in st.lengths(c)]:
            p = {m: st.ppl(c, m, tokens=tok) for m in PAIR}
            if not any(p.values()):
                continue
            w("| %s | %d | %s | %g | %s | %s | %s |" % (c, st.layers(c), "{:,}".format(int(tok)),
                                                       st.base_lr[c], ppl_cell(p["preln"]), ppl_cell(p["postln"]),
                                                       ppl_cell(p["mixln"])))
            for other in ("preln", "postln"):
                if p["mixln"] and p[other]:
                    self.claims.append(mix_lower_claim(p["mixln"], p[other], other,
                                                       c if tok == st.tokens[c] else "%s, %s tokens" % (c, "{:,}".format(int(tok))),
                                                       self.plateau))
            finite = {m: [v for v in p[m].values() if math.isfinite(v)] for m in p}
            bars.append("%s %s" % (c if tok == st.tokens[c] else "%s/%dk" % (c, int(tok) // 1000), " ".join("%g %g" % (mean(finite[m]) if finite[m] else 0, std(finite[m]) or 0)
                                               for m in PAIR)))
        w("")
        w("Each cell: mean ± standard deviation of the validation perplexity over seeds (number of seeds). "
          "A configuration's shorter runs (the demo's length) have their own row; the sections below use "
          "the common length.")
        w("")
        if bars:
            self.ppl_plot(bars)

    def ppl_plot(self, bars):
        dat = self.dat("ppl.dat", bars)
        if self.plot("study_ppl.png", "720,420", """set title 'validation perplexity, mean ± std over seeds'
set ylabel 'perplexity'
set style data histograms
set style histogram errorbars gap 1 lw 1.2
set style fill solid 0.85 border -1
set grid ytics
set yrange [0:*]
plot '%s' using 2:3:xtic(1) lc rgb '#1f77b4' title 'Pre-LN', '' using 4:5 lc rgb '#d62728' title 'Post-LN', \\
     '' using 6:7 lc rgb '#2ca02c' title 'Mix-LN'
""" % dat):
            self.w("![perplexity by depth](%s/study_ppl.png)\n" % self.imgrel)

    # -- the deep configuration: every placement, the α sweep, the learning-rate stress

    def deep_config(self):
        """the one with most runs beyond Pre/Post/Mix (deep24 in the plan), else the deepest"""
        st = self.st
        cand = [c for c in st.configs() if any(st.runs(c, m) for m in PAIR)]
        extra = lambda c: len({r["placement"] for r in st.rows if r["config"] == c})
        return max(cand, key=lambda c: (extra(c), st.layers(c))) if cand else None

    def recipe_inits(self, dc):
        """{placement: init} of the placements that ran only in their own paper's init recipe (the
        plan's init column), not in mixln's default"""
        st, recipe = self.st, {}
        for r in MODELS:
            if r["config"] != dc:
                continue
            m = r["placement"]
            mine = [i for i in st.inits(dc) if st.runs(dc, m, init=i)]
            if mine and "default" not in mine:
                recipe[m] = mine[0]
        return recipe

    def every_placement(self, dc):
        st, w = self.st, self.w
        mix = st.ppl(dc, "mixln")
        # the configuration's other placements (examples/models.txt), the α sweep apart; one run
        # only in its own paper's init recipe is shown in that init
        recipe = self.recipe_inits(dc)
        others = [r["placement"] for r in MODELS if r["config"] == dc and r["placement"] not in PAIR
                  and r["placement"] not in ALPHA and (st.runs(dc, r["placement"]) or r["placement"] in recipe)]
        if not others:
            return
        w("## Every placement at %s\n" % dc)
        w("| placement | perplexity | Mix − it (95% interval) | verdict on \"Mix-LN is lower\" |")
        w("|---|---|---|---|")
        seen = {}
        for m in ["preln", "postln", "mixln"] + others:
            pm_ = st.ppl(dc, m, init=recipe.get(m, "default"))
            if not pm_:
                continue
            if m == "mixln":
                w("| %s | %s | | |" % (LABELS[m], ppl_cell(pm_)))
                continue
            # the same perplexity to the last digit on every seed both ran: the same network under
            # two names (Sandwich-LN and Peri-LN without its embedding norm), one result
            twin = next((x for x, p_ in seen.items() if set(p_) & set(pm_) and
                         all(p_[k] == pm_[k] for k in set(p_) & set(pm_))), None)
            seen[m] = pm_
            if twin:
                w("| %s | %s | the same runs as %s's on the seeds both ran (the same network): not a second "
                  "result | |" % (LABELS[m], ppl_cell(pm_), LABELS[twin]))
                continue
            where = dc if m not in recipe else "%s (%s in `--init %s`)" % (dc, LABELS[m], recipe[m])
            claim = mix_lower_claim(mix, pm_, m, where, self.plateau) if mix else ("", "", "–", "–")
            label = LABELS[m] + (" (`--init %s`)" % recipe[m] if m in recipe else "")
            w("| %s | %s | %s | %s |" % (label, ppl_cell(pm_, self.plateau), claim[2], claim[3]))
            if m in others and mix:
                self.claims.append(claim)
        w("")

    def alpha_sweep(self, dc):
        st, w = self.st, self.w
        sweep = [(ALPHA[m], m) for m in ALPHA if st.runs(dc, m)]
        if len(sweep) <= 2:
            return
        w("## The α sweep at %s (⌊%dα⌋ Post-LN layers first)\n" % (dc, st.layers(dc)))
        w("| α | Post-LN layers | perplexity |")
        w("|---|---|---|")
        lines = []
        for al, m in sorted(sweep):
            p = st.ppl(dc, m)
            w("| %s | %d | %s |" % (ALPHA_TEXT[al], int(st.layers(dc) * al), ppl_cell(p)))
            xs = [v for v in p.values() if math.isfinite(v)]
            if xs:
                lines.append("%g %g %g" % (al, mean(xs), std(xs) or 0))
        w("")
        self.alpha_claim(dc, sweep)
        dat = self.dat("alpha.dat", lines)
        if self.plot("study_alpha.png", "560,380", """set title 'validation perplexity against α (%s)'
set xlabel 'α (fraction of Post-LN layers)'
set ylabel 'perplexity'
set grid
plot '%s' using 1:2:3 with yerrorlines lw 1.5 pt 7 lc rgb '#2ca02c' notitle
""" % (dc, dat)):
            w("![alpha sweep](%s/study_alpha.png)\n" % self.imgrel)

    def alpha_claim(self, dc, sweep):
        st = self.st
        means = {m: mean([v for v in st.ppl(dc, m).values() if math.isfinite(v)]) for _, m in sweep}
        means = {m: x for m, x in means.items() if math.isfinite(x)}
        if "mixln" not in means or len(means) < 2:
            return
        best = min(means, key=lambda m: means[m])
        if best == "mixln":  # judged against the runner-up
            second = min((m for m in means if m != "mixln"), key=lambda m: means[m])
            claim = ppl_claim("", st.ppl(dc, "mixln"), st.ppl(dc, second), dc, "α 1/4", "α " + ALPHA_TEXT[ALPHA[second]],
                              self.plateau)
            self.claims.append(("α = 1/4 gives the lowest perplexity of the sweep", dc,
                                "best α = 1/4 (%.2f), next α = %s (%.2f); %s" % (means[best], ALPHA_TEXT[ALPHA[second]],
                                                                                means[second], claim[2]), claim[3]))
            return
        claim = ppl_claim("", st.ppl(dc, "mixln"), st.ppl(dc, best), dc, "α 1/4", "α " + ALPHA_TEXT[ALPHA[best]],
                          self.plateau)
        v = claim[3]
        verdict = ("did not hold (α = %s is lower: the interval excludes 0)" % ALPHA_TEXT[ALPHA[best]]
                   if "opposite" in v else v)
        self.claims.append(("α = 1/4 gives the lowest perplexity of the sweep", dc,
                            "best α = %s (%.2f), α = 1/4: %.2f; %s" % (ALPHA_TEXT[ALPHA[best]], means[best],
                                                                      means.get("mixln", float("nan")), claim[2]),
                            verdict))

    def learning_rates(self, dc):
        """Pre/Post/Mix at every learning rate of the plan (default init, the common length); each
        placement's best rate; the claims at each placement's own best rate"""
        st, w = self.st, self.w
        lrs = st.lrs(dc)
        if len(lrs) <= 1:
            return
        w("## Learning rates at %s\n" % dc)
        w("Validation perplexity, mean ± std over seeds (seeds), at each peak learning rate. *best* is "
          "the rate with the lowest median perplexity (a collapsed run counts as worse than any other) "
          "over the *choosing seeds*: those the placement ran at every rate with two seeds or more. A "
          "seed that ran only at some rates (the plan's third seed at each best rate) did not choose, "
          "so it checks the choice: its perplexity at the best rate is listed beside the choosing "
          "seeds'. The claims at each placement's best rate take every seed there; as the choosing "
          "seeds are among them, those intervals are somewhat optimistic.\n")
        w("| placement | %s | best | choosing seeds | held-out seeds at the best rate |" % " | ".join("lr %g" % x for x in lrs))
        w("|---|%s---|---|---|" % ("---|" * len(lrs)))
        best = self.best_lr = {}
        for m in PAIR:
            cells, by_lr = [], {}
            for lr in lrs:
                p = st.ppl(dc, m, lr=lr)
                cells.append(ppl_cell(p, self.plateau) if p else "–")
                if len(p) >= 2:
                    by_lr[lr] = p
            choosing = sorted(set.intersection(*[set(p) for p in by_lr.values()])) if by_lr else []
            cand = []
            if len(choosing) >= 2:
                for lr, p in by_lr.items():
                    vals = sorted(float("inf") if collapsed(p[s_], self.plateau) else p[s_] for s_ in choosing)
                    cand.append((statistics.median(vals), lr))
            held_out = "–"
            if cand:
                best[m] = min(cand)[1]
                p = by_lr[best[m]]
                extra = [s_ for s_ in sorted(p) if s_ not in choosing]
                if extra:
                    held_out = "; ".join("seed %d: %s" % (s_, fmt(p[s_]) if not collapsed(p[s_], self.plateau)
                                                          else "collapsed (%s)" % fmt(p[s_])) for s_ in extra)
                    held_out += " (choosing seeds there: %s–%s)" % (fmt(min(p[s_] for s_ in choosing)),
                                                                    fmt(max(p[s_] for s_ in choosing)))
                else:  # the plan's further seed there, or the line that would add one
                    later = sorted(x[1] for x in st.planned if x[0] == "%s_%s" % (dc, m) and x[2] == best[m]
                                   and x[3] == st.tokens[dc] and x[4] == "default" and x[1] not in choosing)
                    held_out = ("none yet (seed %d is in the plan)" % later[0] if later else
                                "none yet; not in the plan: `%s_%s %d %s ...`" % (dc, m, max(choosing) + 1,
                                                                                  st.lr_text.get(best[m], "%g" % best[m])))
            w("| %s | %s | %s | %s | %s |" % (LABELS[m], " | ".join(cells), "%g" % best[m] if m in best else "–",
                                             ", ".join(map(str, choosing)) or "–", held_out))
        w("")
        if "mixln" in best:
            mix = st.ppl(dc, "mixln", lr=best["mixln"])
            for other in ("preln", "postln"):
                if other in best:
                    self.claims.append(mix_lower_claim(mix, st.ppl(dc, other, lr=best[other]), other,
                                                       "%s, each at its best lr (Mix %g, %s %g)" %
                                                       (dc, best["mixln"], LABELS[other], best[other]), self.plateau))
        # the paper's instability claim: from the base rate to three times it, Post-LN's perplexity
        # rises more than Mix-LN's (paired by seed: the rise of log-perplexity)
        base, hi = st.base_lr[dc], [x for x in lrs if abs(x - 3 * st.base_lr[dc]) < 1e-12]
        if hi:
            rise, paired = {}, {}  # the log-ppl rise of the seeds neither rate collapsed; all paired seeds
            for m in ("postln", "mixln"):
                lo_p, hi_p = st.ppl(dc, m), st.ppl(dc, m, lr=hi[0])
                rise[m] = {s_: math.log(hi_p[s_]) - math.log(lo_p[s_]) for s_ in hi_p if s_ in lo_p
                           and not collapsed(hi_p[s_], self.plateau) and not collapsed(lo_p[s_], self.plateau)}
                paired[m] = len([s_ for s_ in hi_p if s_ in lo_p])
            post_bad = [s_ for s_, v in st.ppl(dc, "postln", lr=hi[0]).items() if collapsed(v, self.plateau)]
            mix_bad = [s_ for s_, v in st.ppl(dc, "mixln", lr=hi[0]).items() if collapsed(v, self.plateau)]
            keep = {s_: v for s_, v in rise["mixln"].items() if s_ not in post_bad and s_ not in mix_bad}
            d, diffs, ci, v = judge(keep, {s_: rise["postln"][s_] for s_ in keep if s_ in rise["postln"]})
            measured = "rise of log-ppl, Mix − Post: %s" % interval_text(d, ci, len(diffs))
            if post_bad or mix_bad:
                measured += "; collapsed at lr %g: Post %d of %d, Mix %d of %d" % (
                    hi[0], len(post_bad), paired["postln"], len(mix_bad), paired["mixln"])
                if len(post_bad) > len(mix_bad) and not v.startswith("did not"):
                    v = "%s; fewer collapses (%d vs %d)" % (v, len(mix_bad), len(post_bad))
            self.claims.append(("Post-LN suffers more than Mix-LN from a 3× learning rate", "%s, lr %g → %g" % (dc, base, hi[0]),
                                measured, v))

    def init_regimes(self, dc):
        """every init recipe of the plan beside mixln's default, at the base rate"""
        st, w = self.st, self.w
        for init in [i for i in st.inits(dc) if i != "default"]:
            where = "%s, init %s" % (dc, init)
            ms = [r["placement"] for r in MODELS if r["config"] == dc and st.runs(dc, r["placement"], init=init)
                  and st.runs(dc, r["placement"])]
            if not ms:
                continue
            w("## The initialisation regime at %s: `--init %s` against the default\n" % (dc, init))
            w("| placement | default init | `%s` | change (95%% interval) |" % init)
            w("|---|---|---|---|")
            for m in ms:
                base, other = st.ppl(dc, m), st.ppl(dc, m, init=init)
                change = ppl_claim("", other, base, where, init, "default", self.plateau)
                w("| %s | %s | %s | %s |" % (LABELS[m], ppl_cell(base, self.plateau), ppl_cell(other, self.plateau),
                                             change[2].split(": ", 1)[1]))
            w("")
            mix = st.ppl(dc, "mixln", init=init)
            for other in [m for m in ms if m != "mixln"]:
                if mix:
                    self.claims.append(mix_lower_claim(mix, st.ppl(dc, other, init=init), other, where, self.plateau))
            self.analyses(dc, init)

    # -- the analyses of a configuration's Pre/Post/Mix runs: gradient norms, angular distance,
    # layer drop

    def analyses(self, c, init="default"):
        """`dc` below is where the runs are, "deep24" or "deep24, init mixln-authors" (tag() makes
        its file names)"""
        L = self.st.layers(c)
        an = {m: self.st.runs(c, m, init=init) for m in PAIR}
        dc = c if init == "default" else "%s, init %s" % (c, init)
        if L and any(an.values()):
            self.grad_norms(dc, L, an)
            self.grad_norms_through(dc, L, an)
            self.residual_rms(dc, L, an)
            self.angular(dc, L, an)
            self.layer_drop(dc, L, an)

    def grad_norms(self, dc, L, an):
        w = self.w
        w("## Per-layer gradient norms at %s (Fig. 1 and 6a)\n" % dc)
        w("The L2 norm of each layer's gradient on the first batch (step 1) and the last; mean over "
          "seeds. *last/first* is the mean norm of the last quarter of the layers over that of the "
          "first quarter; *CV* the coefficient of variation across layers (lower: more uniform).\n")
        w("| placement | step | last/first quarter | CV across layers |")
        w("|---|---|---|---|")
        ratio, cvs = {}, {}
        for which in ("init", "final"):
            lines = {}
            for m, runs in an.items():
                per_seed_ratio, per_seed_cv, by_layer = self.grad_norms_of(runs, which, L)
                if not per_seed_ratio:
                    continue
                ratio[(m, which)], cvs[(m, which)] = per_seed_ratio, per_seed_cv
                w("| %s | %s | %s | %s |" % (LABELS[m], "1" if which == "init" else "last",
                                             pm(list(per_seed_ratio.values()), 3), pm(list(per_seed_cv.values()), 3)))
                lines[m] = ["%d %g %g" % (l, mean(v), std(v) or 0) for l, v in sorted(by_layer.items())]
            if lines:
                self.grad_norms_plot(dc, which, lines)
        w("")
        for which in ("init", "final"):
            if "study_%s_grad_norms_%s.png" % (tag(dc), which) in self.plots:
                w("![gradient norms %s, %s](%s/study_%s_grad_norms_%s.png)" % (dc, which, self.imgrel, tag(dc), which))
        w("")
        self.grad_norms_claims(dc, ratio, cvs)

    def grad_norms_of(self, runs, which, L):
        """per seed: last/first quarter ratio and CV at step 1 (init) or the last (final); per layer: the norms"""
        per_seed_ratio, per_seed_cv, by_layer = {}, {}, {}
        for r in runs:
            if r["status"] != "ok":
                continue
            g = self.st.csv_of(r, "grad_norms.csv")
            if not g:
                continue
            step = "1" if which == "init" else r["steps"]
            rows = [x for x in g if x["step"] == step]
            if len(rows) != L:
                continue
            per_seed_ratio[int(r["seed"])] = quarter_ratio(rows, L)
            per_seed_cv[int(r["seed"])] = cv([float(x["grad_norm"]) for x in rows])
            for x in rows:
                by_layer.setdefault(int(x["layer"]), []).append(float(x["grad_norm"]))
        return per_seed_ratio, per_seed_cv, by_layer

    def grad_norms_plot(self, dc, which, lines):
        pl = []
        for m, ls in lines.items():
            dat = self.dat("grad_%s_%s_%s.dat" % (tag(dc), which, m), ls)
            pl.append("'%s' using 1:2:3 with yerrorlines lw 1.5 pt 7 ps 0.5 lc rgb '%s' title '%s'" %
                      (dat, COLORS[m], LABELS[m]))
        self.plot("study_%s_grad_norms_%s.png" % (tag(dc), which), "720,420", """set title 'per-layer gradient norm at %s (%s), mean ± std over seeds'
set xlabel 'layer'
set ylabel 'L2 norm of the layer''s gradient'
set logscale y
set grid
plot %s
""" % ("step 1" if which == "init" else "the last step", dc, ", ".join(pl)))

    def grad_norms_claims(self, dc, ratio, cvs):
        claims = self.claims
        # one-sample: the log of the last/first-quarter ratio against 0, over seeds
        for m, lower, claim in (("preln", True, "Pre-LN's deep layers get smaller gradients than its early layers"),
                                ("postln", False, "Post-LN's early layers get smaller gradients than its deep layers")):
            if (m, "final") in ratio:
                per_seed = ratio[(m, "final")]
                d, diffs, ci, v = judge({s_: math.log(x) for s_, x in per_seed.items()}, {s_: 0.0 for s_ in per_seed},
                                        lower_is_claim=lower)
                ratio_ci = "" if ci is None else " [%.3f, %.3f]" % (math.exp(ci[0]), math.exp(ci[1]))
                claims.append((claim, dc, "last/first quarter at the last step: %.3f%s (geometric mean, n = %d)" %
                               (math.exp(d), ratio_ci, len(diffs)), v))
        if ("mixln", "final") in cvs:
            for other in ("preln", "postln"):
                if (other, "final") in cvs:
                    d, diffs, ci, v = judge(cvs[("mixln", "final")], cvs[(other, "final")])
                    claims.append(("Mix-LN's gradient norms are more uniform across layers than %s's" % LABELS[other],
                                   dc, "CV Mix − %s: %s" % (LABELS[other], interval_text(d, ci, len(diffs), False, 3)), v))

    def grad_norms_through(self, dc, L, an):
        """the last/first-quarter ratio at every step the runs logged (steps 1, 10, 50, 100 and the
        last where the plan asked for them), beside the residual stream's growth"""
        w = self.w
        per = {}  # (placement, step) -> {seed: ratio}
        for m, runs in an.items():
            for r in runs:
                g = self.st.csv_of(r, "grad_norms.csv") if r["status"] == "ok" else None
                for step in sorted({int(x["step"]) for x in g or []}):
                    rows = [x for x in g if int(x["step"]) == step]
                    if len(rows) == L:
                        per.setdefault((m, step), {})[int(r["seed"])] = quarter_ratio(rows, L)
        steps = sorted({st_ for (_, st_) in per})
        if len(steps) <= 2:
            return
        w("### Through training: last/first-quarter gradient-norm ratio by step (%s)\n" % dc)
        w("| placement | %s |" % " | ".join("step %d" % x for x in steps))
        w("|---|%s" % ("---|" * len(steps)))
        for m in PAIR:
            if any((m, x) in per for x in steps):
                w("| %s | %s |" % (LABELS[m], " | ".join(pm(list(per[(m, x)].values()), 3) if (m, x) in per else "–"
                                                      for x in steps)))
        w("")

    def residual_rms(self, dc, L, an):
        """the residual stream's RMS entering layers 0, L/4, L/2, 3L/4 and after the last, at init
        and trained; its growth (after the last / entering layer 0) per seed"""
        w = self.w
        marks = sorted({0, L // 4, L // 2, 3 * L // 4, L})
        q = L // 4  # Mix-LN's (α = 1/4) first Pre-LN layer: growth is measured from there for all
        table, growth = [], {}
        for m, runs in an.items():
            for which, name in (("init", "residual_rms_init.csv"), ("trained", "residual_rms.csv")):
                per_seed = {}
                for r in runs:
                    x = self.st.csv_of(r, name) if r["status"] == "ok" else None
                    if x and len(x) == L + 1:
                        per_seed[int(r["seed"])] = [float(v["rms"]) for v in x]
                if per_seed:
                    table.append("| %s | %s | %s | %s |" % (
                        LABELS[m], which, " | ".join(pm([v[k] for v in per_seed.values()], 3) for k in marks),
                        pm([v[L] / v[q] for v in per_seed.values()], 2)))
                    growth[(m, which)] = {s_: math.log(v[L] / v[q]) for s_, v in per_seed.items()}
        if not table:
            return
        w("### The residual stream's RMS through the stack (%s)\n" % dc)
        w("√(mean x²) of the stream entering each layer (and after the last, before the final norm), on "
          "the validation tokens of the analyses; *growth* is the output's over the input of layer %d, "
          "Mix-LN's first Pre-LN layer, for every placement alike (before it, Post-LN layers reset the "
          "stream to unit RMS whatever the embedding's scale). The paper's Eq. 7: a stream that grows "
          "with depth shrinks what each deep Pre-LN layer adds, and its gradient.\n" % q)
        w("| placement | model | %s | growth |" % " | ".join("layer %d" % k if k < L else "output" for k in marks))
        w("|---|---|%s---|" % ("---|" * len(marks)))
        for row in table:
            w(row)
        w("")
        for which in ("init", "trained"):
            if ("preln", which) in growth and ("mixln", which) in growth:
                d, diffs, ci, v = judge(growth[("mixln", which)], growth[("preln", which)])
                self.claims.append(("Pre-LN's residual stream grows more through the stack than Mix-LN's (%s)" % which, dc,
                                    "log growth, Mix − Pre: %s" % interval_text(d, ci, len(diffs), False, 3), v))

    def angular(self, dc, L, an):
        st, w = self.st, self.w
        ang = {}
        for m, runs in an.items():
            mats = [st.csv_of(r, "angular.csv") for r in runs if r["status"] == "ok"]
            mats = [(int(r["seed"]), x) for r, x in zip([r for r in runs if r["status"] == "ok"], mats) if x]
            if mats:
                ang[m] = mats
        if not ang:
            return
        w("## Angular distance between layers at %s (Fig. 3 and 5)\n" % dc)
        w("The mean over tokens of arccos(cos(x_ℓ, x_ℓ+1))/π between the inputs of consecutive "
          "layers, averaged over the first and the last half of the layers (low: the layer "
          "changes its input little, as in Pre-LN's deep layers in the paper).\n")
        w("| placement | first half | last half |")
        w("|---|---|---|")
        late = {}
        for m, mats in ang.items():
            late[m] = self.angular_of(dc, L, m, mats)
        w("")
        imgs = [m for m in PAIR if "study_%s_angular_%s.png" % (tag(dc), m) in self.plots]
        if imgs:
            w("| %s |" % " | ".join(LABELS[m] for m in imgs))
            w("|" + "---|" * len(imgs))
            w("| %s |" % " | ".join("![](%s/study_%s_angular_%s.png)" % (self.imgrel, tag(dc), m) for m in imgs))
            w("")
        if "preln" in late and "mixln" in late:
            d, diffs, ci, v = judge(late["preln"], late["mixln"])
            self.claims.append(("Pre-LN's deep layers change their input less than Mix-LN's (angular distance)", dc,
                                "last half, Pre − Mix: %s" % interval_text(d, ci, len(diffs), False, 4), v))

    def angular_of(self, dc, L, m, mats):
        """one placement's row and heat map; returns its last-half distance per seed"""
        early_s, late_s = {}, {}
        cells = {}
        for seed, x in mats:
            n1 = [r for r in x if r["n"] == "1"]
            early_s[seed] = mean([float(r["distance"]) for r in n1 if int(r["layer"]) < L // 2])
            late_s[seed] = mean([float(r["distance"]) for r in n1 if int(r["layer"]) >= L // 2])
            for r in x:
                cells.setdefault((int(r["layer"]), int(r["n"])), []).append(float(r["distance"]))
        self.w("| %s | %s | %s |" % (LABELS[m], pm(list(early_s.values()), 4), pm(list(late_s.values()), 4)))
        dat = self.dat("angular_%s_%s.dat" % (tag(dc), m), ["%d %d %g" % (l, n, mean(v)) for (l, n), v in sorted(cells.items())])
        self.plot("study_%s_angular_%s.png" % (tag(dc), m), "460,400", """set title 'angular distance, %s (%s, mean over seeds)'
set xlabel 'initial layer l'
set ylabel 'block size n'
set xrange [-0.5:%g]
set yrange [0.5:%g]
set cbrange [0:0.6]
set palette defined (0 '#fde725', 0.5 '#21918c', 1 '#440154')
plot '%s' using 1:2:3 with image notitle
""" % (LABELS[m], dc, L - 0.5, L + 0.5, dat))
        return late_s

    def layer_drop(self, dc, L, an):
        st, w = self.st, self.w
        drop = {}
        for m, runs in an.items():
            ok = [r for r in runs if r["status"] == "ok"]
            xs = [(int(r["seed"]), st.csv_of(r, "layer_drop.csv")) for r in ok]
            xs = [(s, x) for s, x in xs if x]
            if xs:
                drop[m] = xs
        if not drop:
            return
        w("## The cost of removing one layer at %s (Fig. 3d/e and 6b)\n" % dc)
        w("Validation perplexity with one layer replaced by the identity, minus the full model's; "
          "mean over the first and the last half of the layers.\n")
        w("| placement | first half | last half |")
        w("|---|---|---|")
        late, pl = {}, []
        for m, xs in drop.items():
            early_s, late_s, by_layer = {}, {}, {}
            for seed, x in xs:
                early_s[seed] = mean([float(r["delta"]) for r in x if int(r["layer"]) < L // 2])
                late_s[seed] = mean([float(r["delta"]) for r in x if int(r["layer"]) >= L // 2])
                for r in x:
                    by_layer.setdefault(int(r["layer"]), []).append(float(r["delta"]))
            late[m] = late_s
            w("| %s | %s | %s |" % (LABELS[m], pm(list(early_s.values())), pm(list(late_s.values()))))
            dat = self.dat("drop_%s_%s.dat" % (tag(dc), m), ["%d %g %g" % (l, max(mean(v), 1e-3), std(v) or 0) for l, v in sorted(by_layer.items())])
            pl.append("'%s' using 1:2:3 with yerrorlines lw 1.5 pt 7 ps 0.5 lc rgb '%s' title '%s'" %
                      (dat, COLORS[m], LABELS[m]))
        w("")
        self.layer_drop_plot(dc, pl)
        if "preln" in late and "mixln" in late:
            d, diffs, ci, v = judge(late["preln"], late["mixln"])
            self.claims.append(("Removing one of Pre-LN's deep layers costs less than one of Mix-LN's", dc,
                                "last half, Pre − Mix: %s" % interval_text(d, ci, len(diffs), False, 2), v))

    def layer_drop_plot(self, dc, pl):
        if self.plot("study_%s_layer_drop.png" % tag(dc), "720,420", """set title 'perplexity increase when one layer is removed (%s), mean ± std over seeds'
set xlabel 'removed layer'
set ylabel 'perplexity increase'
set logscale y
set grid
plot %s
""" % (dc, ", ".join(pl))):
            self.w("![layer drop, %s](%s/study_%s_layer_drop.png)\n" % (dc, self.imgrel, tag(dc)))

    # -- what the study finds beyond the paper

    def findings(self, dc):
        """Comparisons the paper does not make, each judged like a claim: the init regime (per
        placement, and how it moves Mix-LN's gaps), each placement's best learning rate against the
        base one, each recipe against the variant it corrects, and the field's placements against
        Pre-LN. Only those whose interval excludes 0 become sentences; the rest are listed."""
        st, w = self.st, self.w
        recipe = self.recipe_inits(dc)
        found, unresolved, counts = [], [], []

        def compare(a_label, a, b_label, b, where, caveat=""):
            # judged both ways, so that collapses count against whichever side the interval favours
            _, _, measured, v = ppl_claim("", a, b, where, "A", "B", self.plateau)
            v_higher = ppl_claim("", b, a, where, "B", "A", self.plateau)[3]
            measured = measured.split(": ", 1)[1].replace("collapsed: A", "collapsed: the first").replace(", B", ", the second")
            if v.startswith("**held**") or v_higher.startswith("**held**"):
                found.append("%s reaches a %s perplexity than %s (%s): %s%s." % (
                    a_label, "lower" if v.startswith("**held**") else "higher", b_label, where, measured, caveat))
            elif v.startswith("not judged") and "collapsed" in measured and len(set(a) & set(b)) >= 2:
                counts.append("%s against %s (%s): %s" % (a_label, b_label, where, measured))
            elif not v.startswith("not judged"):
                unresolved.append("%s against %s (%s): %s" % (a_label, b_label, where, measured))

        # the init regime: each placement in every other recipe against mixln's default init
        for init in [i for i in st.inits(dc) if i != "default"]:
            for r in MODELS:
                m = r["placement"]
                if r["config"] == dc and recipe.get(m) != init and st.runs(dc, m) and st.runs(dc, m, init=init):
                    compare("%s in `--init %s`" % (LABELS[m], init), st.ppl(dc, m, init=init),
                            "%s in the default init" % LABELS[m], st.ppl(dc, m), dc)
            self.init_moves_gap(dc, init, found, unresolved)
        # each placement's own best rate against the base one
        base = st.base_lr.get(dc)
        for m, lr in self.best_lr.items():
            if lr != base:
                compare("%s at lr %g" % (LABELS[m], lr), st.ppl(dc, m, lr=lr), "%s at lr %g" % (LABELS[m], base),
                        st.ppl(dc, m), dc, "; the rate was chosen as the best on these seeds, so this interval is "
                        "optimistic (the learning-rate table shows the seeds that did not choose)")
        # each recipe as its paper writes it against the variant it corrects (both at the base rate)
        for new, old in RECIPES:
            a, b = st.ppl(dc, new, init=recipe.get(new, "default")), st.ppl(dc, old, init=recipe.get(old, "default"))
            if a and b:
                compare(self.labelled(new, recipe), a, self.labelled(old, recipe), b, dc)
        # the field's placements (none of them in the paper) against Pre-LN, the baseline they claim to beat
        pre = st.ppl(dc, "preln")
        for m in FIELD:
            p = st.ppl(dc, m, init=recipe.get(m, "default"))
            if p and pre:
                compare(self.labelled(m, recipe), p, "Pre-LN", pre, dc)
        if not found and not unresolved and not counts:
            return
        n = len(found) + len(unresolved) + len(counts)
        w("## What this study finds that the paper does not say\n")
        w("Comparisons the paper does not make, judged like its claims (paired log-perplexity differences, "
          "shown as the change in perplexity, with 95%% Student-t intervals; collapsed runs counted and "
          "left out of the interval). %d comparison%s had two paired seeds or more; each sentence below is "
          "one whose interval excludes 0 (about %.1f of %d would by chance alone).\n" % (n, "" if n == 1 else "s", 0.05 * n, n))
        for f in found:
            w("- " + f)
        if unresolved:
            w("\nNot resolved (the interval includes 0, or the collapses fall on the side that is lower otherwise):\n")
            for u in unresolved:
                w("- " + u)
        if counts:
            w("\nCollapse counts only (fewer than two seeds where neither side collapsed, so no interval):\n")
            for c in counts:
                w("- " + c)
        w("")

    def labelled(self, m, recipe):
        return LABELS[m] + (" (`--init %s`)" % recipe[m] if m in recipe else "")

    def init_moves_gap(self, dc, init, found, unresolved):
        """how an init recipe moves Mix-LN's gap to Pre-LN and to Post-LN: per seed, (log Mix − log
        other) in the recipe minus the same in the default init; seeds where any of the four runs
        collapsed are left out and counted"""
        st = self.st
        mix_a, mix_d = st.ppl(dc, "mixln", init=init), st.ppl(dc, "mixln")
        for other in ("preln", "postln"):
            oth_a, oth_d = st.ppl(dc, other, init=init), st.ppl(dc, other)
            seeds = sorted(set(mix_a) & set(mix_d) & set(oth_a) & set(oth_d))
            bad = [s_ for s_ in seeds if any(collapsed(x[s_], self.plateau) for x in (mix_a, mix_d, oth_a, oth_d))]
            keep = [s_ for s_ in seeds if s_ not in bad]
            gap = lambda mix, oth: {s_: math.log(mix[s_]) - math.log(oth[s_]) for s_ in keep}
            d, diffs, ci, v = judge(gap(mix_a, oth_a), gap(mix_d, oth_d))
            if not diffs or v.startswith("not judged"):
                continue
            text = "Mix − %s in `--init %s` minus Mix − %s in the default init: %s%s" % (
                LABELS[other], init, LABELS[other], interval_text(d, ci, len(diffs)),
                "; left out, a run collapsed: %d of %d seeds" % (len(bad), len(seeds)) if bad else "")
            if v.startswith("**held**") or v.startswith("did not hold"):
                found.append("`--init %s` %s Mix-LN's perplexity relative to %s's (%s): %s." % (
                    init, "lowers" if d < 0 else "raises", LABELS[other], dc, text))
            else:
                unresolved.append("%s (%s)" % (text, dc))

    # -- the claims, the reading, every run

    # -- the vision claim (Table 6): ViTs on Fashion-MNIST, scripts/study/vision.sh

    def vision(self):
        path = os.path.join(self.a.study, "vision.csv")
        if not os.path.exists(path):
            return
        rows = list(csv.DictReader(open(path)))
        if not rows:
            return
        ids = sorted({r["data"] for r in rows})
        if len(ids) > 1:
            fail("%s mixes runs on different image shards (data %s)" % (path, ", ".join(ids)))
        w = self.w
        w("## Vision Transformers: Table 6 at the scale of Fashion-MNIST\n")
        w("The paper replaces Pre-LN by Mix-LN (α = 1/4) in ViT-Tiny and ViT-Small trained 120 epochs on "
          "ImageNet-1K (Table 6). Here the same one-line change of type, on a ViT small enough for two CPU "
          "cores: `scripts/study/vision.sh` trains the plan `%s` and records "
          "`%s` (image shards: data id %s, `study.py data-id DIR --images`; machines: %s; trainers built "
          "from commit%s %s)." %
          (self.a.vision_plan, path, ids[0], "; ".join(sorted({r["machine"] for r in rows})),
           "s" if len({r["commit"] for r in rows}) > 1 else "", ", ".join(sorted({r["commit"] for r in rows}))))
        w("")
        configs = sorted({r["config"] for r in rows})
        for c in configs:
            mine = [r for r in rows if r["config"] == c]
            # the schedule most runs of this configuration used (the plan gives every placement the same)
            sched = collections.Counter((r["lr"], r["steps"], r["batch"], r["crop_pad"], r["flip"]) for r in mine)
            lr, steps, batch, pad, flip = sched.most_common(1)[0][0]
            same = [r for r in mine if (r["lr"], r["steps"], r["batch"], r["crop_pad"], r["flip"]) == (lr, steps, batch, pad, flip)]
            acc = {m: {int(r["seed"]): 100.0 * float(r["val_acc"]) if r["status"] == "ok" else float("nan")
                       for r in same if r["placement"] == m} for m in PAIR}
            layers = next((r["layers"] for r in same if r["layers"]), "?")
            evals = sorted({r["eval_images"] for r in same if r["eval_images"]})
            w("**Setup (`%s`).** %s layers of ViT blocks (bidirectional attention, biases on the linears, "
              "LayerNorm with bias, GELU MLP; examples/configs.hpp), a class token and learned position "
              "embeddings, the final LayerNorm on the class token; Fashion-MNIST's 60,000 training images, "
              "%s steps of %s images (%.1f epochs), random crops of the image padded by %s pixels%s; AdamW at "
              "lr %s, weight decay 0.05 on matrices, warm-up 10%%, cosine to 10%%: the same schedule for "
              "every placement. Top-1 accuracy on the %s images of the test split (the validation split). "
              "Runs of one seed share their initialisation's seed and data order." %
              (c, layers, steps, batch, int(steps) * int(batch) / 60000.0, pad,
               " and horizontal flips" if flip == "yes" else "", lr, "/".join("{:,}".format(int(e)) for e in evals) or "–"))
            w("")
            w("| | Pre-LN | Post-LN | Mix-LN |")
            w("|---|---|---|---|")
            w("| paper, ViT-Tiny on ImageNet-1K (top-1 %) | 67.30 | – | 67.34 |")
            w("| paper, ViT-Small on ImageNet-1K (top-1 %) | 75.99 | – | 76.40 |")
            w("| here, `%s` on Fashion-MNIST (top-1 %%: mean ± std over seeds) | %s | %s | %s |" %
              (c, pm(list(acc["preln"].values())), pm(list(acc["postln"].values())), pm(list(acc["mixln"].values()))))
            bad = {m: sorted(s_ for s_, v in acc[m].items() if not math.isfinite(v)) for m in PAIR}
            if any(bad.values()):
                w("| diverged (seeds) | %s |" % " | ".join(", ".join(map(str, bad[m])) or "–" for m in PAIR))
            w("")
            for other in ("preln", "postln"):
                d, diffs, ci, v = judge(acc["mixln"], acc[other], lower_is_claim=False)
                self.claims.append(("Mix-LN reaches a higher top-1 accuracy than %s (ViT)" % LABELS[other],
                                    "%s, Fashion-MNIST" % c,
                                    "Mix − %s: %s points" % (LABELS[other], interval_text(d, ci, len(diffs), log=False)), v))
                w("Mix-LN − %s, paired by seed: %s points of top-1 accuracy; the claim \"Mix-LN is higher\" %s." %
                  (LABELS[other], interval_text(d, ci, len(diffs), log=False), v))
                w("")
            # where the gradient goes: the last quarter of the layers against the first, at the last step
            ratios = {}
            for m in PAIR:
                for r in same:
                    gn = os.path.join(self.a.study, "vision", r["run"], "grad_norms.csv")
                    if r["placement"] != m or not os.path.exists(gn) or not r["layers"]:
                        continue
                    g = list(csv.DictReader(open(gn)))
                    last = max(int(x["step"]) for x in g)
                    ratios.setdefault(m, []).append(quarter_ratio([x for x in g if int(x["step"]) == last], int(r["layers"])))
            if ratios:
                w("The gradient's depth profile at the last step (the mean gradient norm of the last quarter of "
                  "the layers over that of the first quarter; mean ± std over seeds): %s." %
                  ", ".join("%s %s" % (LABELS[m], pm(ratios[m])) for m in PAIR if m in ratios))
                w("")
            w("| run | status | top-1 % | val loss | train s | img/s | machine | commit | date |")
            w("|---|---|---|---|---|---|---|---|---|")
            for r in mine:
                w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" %
                  (r["run"], r["status"] + (" at step %s" % r["diverged_step"] if r["diverged_step"] else ""),
                   "%.2f" % (100 * float(r["val_acc"])) if r["val_acc"] else "–", r["val_loss"] or "–",
                   r["train_s"], r["img_s"], r["machine"], r["commit"], r["date"]))
            w("")
        # the plan's runs without a row yet (named as vision.sh names them)
        if os.path.exists(self.a.vision_plan):
            recorded = {r["run"] for r in rows}
            pending = [k for k in (vision_run_key(line.split("#")[0].split()) for line in open(self.a.vision_plan))
                       if k and k not in recorded]
            if pending:
                w("Not yet run (%d): %s; `scripts/study/vision.sh` continues them.\n" %
                  (len(pending), ", ".join("`%s`" % k for k in pending)))

    def closing(self, pending):
        st, w = self.st, self.w
        w("## The claims, judged\n")
        judged = [c for c in self.claims if not c[3].startswith("not judged")]
        held = [c for c in judged if c[3].startswith("**held**")]
        w("%d claims, %d of them judged (two paired seeds or more); %d held. Each verdict is a 95%% interval "
          "taken on its own: were there no effect anywhere, about %.1f of the %d judged claims would "
          "still come out held or opposite by chance, so a lone verdict near the edge of its interval is "
          "weak evidence.\n" % (len(self.claims), len(judged), len(held), 0.05 * len(judged), len(judged)))
        w("| claim | where | measured: mean difference [95% interval] (paired seeds) | verdict |")
        w("|---|---|---|---|")
        for claim, c, measured, v in self.claims:
            w("| %s | %s | %s | %s |" % (claim, c, measured, v))
        w("")
        reading = os.path.join(self.a.study, "reading.md")
        w("## Reading\n")
        w(open(reading).read().strip() if os.path.exists(reading) else "(no reading written yet)")
        w("")
        w("## Every run\n")
        w("| run | status | val ppl | train s | tok/s | machine | commit | date |")
        w("|---|---|---|---|---|---|---|---|")
        for r in st.rows:
            w("| %s | %s | %s | %s | %s | %s | %s | %s |" %
              (r["run"], r["status"] + (" at step %s" % r["diverged_step"] if r["diverged_step"] else ""),
               r["val_ppl"] or "–", r["train_s"], r["tok_s"], r["machine"], r["commit"], r["date"]))
        w("")
        if pending:
            w("Not yet run (%d): %s.\n" % (len(pending), ", ".join("`%s`" % k for k in pending)))

    def write(self):
        tmp = self.a.out + ".tmp-%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("\n".join(self.out).rstrip() + "\n")
        os.replace(tmp, self.a.out)
        shutil.rmtree(self.work, ignore_errors=True)
        print("wrote %s (%d runs, %d claims, %d plots)" % (self.a.out, len(self.st.rows), len(self.claims), len(self.plots)))


def report(a):
    r = Report(a)
    st = r.st
    done = {x["run"] for x in st.rows}
    pending = [k for k in st.plan if k not in done]
    r.header(pending)
    r.headline()
    dc = r.deep_config()
    if dc:
        r.every_placement(dc)
        r.alpha_sweep(dc)
        r.learning_rates(dc)
        r.init_regimes(dc)
        r.findings(dc)
    # the analyses, for every configuration whose Pre/Post/Mix runs have them (the deep ones)
    for c in st.configs():
        if any(st.csv_of(x, "angular.csv") for m in PAIR for x in st.runs(c, m)):
            r.analyses(c)
    r.vision()
    r.closing(pending)
    r.write()


def demo_table(a):
    """The demo's runs beside the study's seed spread for the same configuration and length."""
    st = Study(a.study, a.plan) if os.path.exists(a.plan) else None
    rows, val = [], {}
    for p in a.placements.split():
        _, evals = read_log(os.path.join(a.runs, p, "log.jsonl"))
        if not evals:
            fail("%s/%s has no validation evaluation" % (a.runs, p))
        val[p] = evals[-1]
    base = val.get("mixln")
    # The study's runs are comparable only on the same token shards (its rows record their data id).
    mine = data_id(a.data) if a.data else None
    other_corpus = bool(st and mine and st.rows and not any(r.get("data") == mine for r in st.rows))
    print("| model | val ppl | − Mix-LN | the study's %s, %s tokens: mean ± std (seeds) |" % (a.config, "{:,}".format(a.tokens)))
    print("|---|---|---|---|")
    spreads = {}
    for p, e in val.items():
        study = {}
        if st:
            study = {int(r["seed"]): float(r["val_ppl"]) for r in st.rows
                     if r["config"] == a.config and r["placement"] == p and float(r["lr"]) == a.lr
                     and r["init"] == "default" and (mine is None or r.get("data") == mine)
                     and int(r["tokens"]) == a.tokens and r["status"] == "ok"}
        xs = list(study.values())
        spreads[p] = std(xs)
        print("| %s | %.2f | %s | %s |" % (LABELS.get(p, p), e["val_ppl"],
                                           "" if p == "mixln" or base is None else "%+.2f" % (e["val_ppl"] - base["val_ppl"]),
                                           pm(xs) if xs else ("– (another corpus)" if other_corpus else "not in the study")))
    print()
    if base is None:
        return
    if other_corpus:
        ids = sorted({r.get("data", "") for r in st.rows})
        for p in val:
            if p != "mixln":
                print("%s − Mix-LN = %+.2f perplexity. The study's seed spread was measured on other token shards (data %s; "
                      "these are %s), so it does not say whether this difference is beyond what a change of seed alone "
                      "would do; SEED=1 and SEED=2 runs of the demo on this corpus would." %
                      (LABELS[p], val[p]["val_ppl"] - base["val_ppl"], ", ".join(ids), mine))
        return
    for p in val:
        if p == "mixln":
            continue
        d = val[p]["val_ppl"] - base["val_ppl"]
        sp = [x for x in (spreads.get(p), spreads.get("mixln")) if x is not None]
        if not sp:
            print("%s − Mix-LN = %+.2f; the study has no seed spread for this configuration to judge it by." % (LABELS[p], d))
            continue
        spread = max(sp)
        print("%s − Mix-LN = %+.2f perplexity; the seed spread the study measured is %.2f, so the difference is %s." %
              (LABELS[p], d, spread, "beyond it" if abs(d) > spread else "within it (not a difference this run can show)"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    for k in ("run", "err", "key", "trainer", "lr", "status", "machine", "commit", "study"):
        r.add_argument("--" + k, required=True)
    r.add_argument("--init", default="default")
    r.add_argument("--data-id", dest="data_id", required=True, help="the shards' identity (study.py data-id DIR)")
    for k in ("seed", "steps", "batch", "seq", "eval_tokens"):
        r.add_argument("--" + k.replace("_", "-"), dest=k, type=int, required=True)
    v = sub.add_parser("record-vision")
    for k in ("run", "err", "key", "trainer", "lr", "status", "machine", "commit", "study", "flip"):
        v.add_argument("--" + k, required=True)
    v.add_argument("--data-id", dest="data_id", required=True, help="the image shards' identity (data-id --images)")
    for k in ("seed", "steps", "batch", "crop_pad"):
        v.add_argument("--" + k.replace("_", "-"), dest=k, type=int, required=True)
    f = sub.add_parser("refill")
    for k in ("run", "key", "study", "machine", "commit"):
        f.add_argument("--" + k, required=True)
    m = sub.add_parser("merge")
    for k in ("source", "study"):
        m.add_argument("--" + k, required=True)
    p = sub.add_parser("report")
    for k in ("study", "plan", "out", "img"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--data", default="data/brown-4096", help="the token shards (for the unigram plateau)")
    p.add_argument("--vision-plan", default="scripts/study/vision_plan.txt", help="the vision study's plan")
    i = sub.add_parser("data-id")
    i.add_argument("dir")
    i.add_argument("--study", help="refuse shards other than those of this study's recorded runs")
    i.add_argument("--images", action="store_true", help="image shards (mixln-prepare-images; the vision study)")
    d = sub.add_parser("demo-table")
    for k in ("study", "plan", "runs", "config", "placements"):
        d.add_argument("--" + k, required=True)
    d.add_argument("--tokens", type=int, required=True)
    d.add_argument("--lr", type=float, required=True)
    d.add_argument("--data", help="the demo's token shards: the study's spread is shown only for runs on the same ones")
    a = ap.parse_args()
    {"record": record, "record-vision": record_vision, "refill": refill, "report": report, "demo-table": demo_table,
     "data-id": data_id_cmd, "merge": merge}[a.cmd](a)


if __name__ == "__main__":
    main()
