// mixln/cli/cmd_train.hpp — `train` and `eval`.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "../train/trainer.hpp"
#include "backend_cli.hpp"
#include "args.hpp"
#include "engine_select.hpp"
#include "model_source.hpp"

namespace mixln::cli {

// The trainer's defaults, set by cli::main from the model's configuration.
inline TrainDefaults& train_defaults() {
  static TrainDefaults d;
  return d;
}

inline std::string default_note(long long v) { return v ? " (default " + std::to_string(v) + ")" : ""; }

inline std::vector<Option> train_options() {
  const TrainDefaults& d = train_defaults();
  char lr[48] = "";
  if (d.lr > 0) std::snprintf(lr, sizeof lr, " (default %g)", d.lr);
  std::vector<Option> o = {
      {"data", true, "DIR: made by mixln-prepare (train.bin, val.bin, tokenizer.model)"},
      {"out", true, "RUN_DIR: log.jsonl, config.json and checkpoints go here"},
      {"steps", true, "N: optimizer steps" + default_note(d.steps)},
      {"batch", true, "B: sequences per micro-batch" + default_note(d.batch)},
      {"seq", true, "T: tokens per sequence" + default_note(d.seq)},
      {"lr", true, std::string("X: peak learning rate") + lr},
      {"warmup-frac", true, "fraction of steps of linear warm-up (0.1)"},
      {"min-lr-frac", true, "cosine decay floor as a fraction of the peak (0.1)"},
      {"clip", true, "clip gradients to this global norm (0: off)"},
      {"accum", true, "micro-batches per step: global batch = B x accum (default " + std::to_string(d.accum) + ")"},
      {"seed", true, "S: init and data order (0)"},
      {"ckpt-every", true, "N: checkpoint every N steps (0: only at the end)"},
      {"eval-every", true, "N: evaluate every N steps (0: only at the end)"},
      {"eval-tokens", true, "N: validation tokens per evaluation (65536)"},
      {"resume", false, "continue the run in --out from its latest checkpoint"},
      {"init-from", true, "HF_DIR or FILE.safetensors: start from its tensors that match this model by name and "
                          "shape (the rest at their init; e.g. a Pre-LN LLaMA to train as Mix-LN)"},
      {"stop-at", true, "STEP: end this invocation after STEP steps (checkpointed), for preemptible jobs"},
      {"optimizer", true, "adamw (decoupled decay) or adam (L2 in the gradient) (adamw)"},
      {"beta1", true, "Adam beta1 (0.9)"},
      {"beta2", true, "Adam beta2 (0.999)"},
      {"eps", true, "Adam epsilon (1e-8)"},
      {"weight-decay", true, "on matrices, not norms (0)"},
      {"keep", true, "checkpoints to keep (2)"},
      {"quiet", false, "no progress output"},
      {"grad-norms-at", true, "S1,S2,...: write per-layer gradient norms at these steps to RUN_DIR/grad_norms.csv"},
      {"comm-timeout", true, "S: under mpirun, abort if a collective waits longer (600)"},
      {"zero", true, "0 or 1: under mpirun, 1 shards the Adam moments over the ranks (ZeRO-1; the same run) (0)"},
  };
  for (Option& x : init_options("")) o.push_back(std::move(x));
  return o;
}

// `hidden`: the model's hidden size (init recipes scale with it).
inline TrainOptions train_options_from(const Args& a, std::size_t hidden) {
  TrainOptions o;
  o.data = a.required("data");
  o.out = a.required("out");
  const TrainDefaults& d = train_defaults();
  auto needs = [&](const char* name, bool has_default) {
    if (!has_default && !a.has(name)) throw Error(std::string("'train' needs --") + name);
  };
  needs("steps", d.steps > 0);
  needs("batch", d.batch > 0);
  needs("seq", d.seq > 0);
  needs("lr", d.lr > 0);
  o.steps = a.integer("steps", d.steps, 1);
  o.batch = a.int32("batch", d.batch, 1);
  o.seq = a.int32("seq", d.seq, 1);
  o.lr = a.real_float("lr", d.lr, 0.0, FLT_MAX, /*open_lo=*/true);
  o.warmup_frac = a.real("warmup-frac", 0.1, 0.0, 1.0);
  o.min_lr_frac = a.real("min-lr-frac", 0.1, 0.0, 1.0);
  o.clip = a.real_float("clip", 0, 0.0);
  o.accum = a.int32("accum", d.accum, 1);
  o.seed = a.seed("seed");
  o.ckpt_every = a.integer("ckpt-every", 0, 0);
  o.eval_every = a.integer("eval-every", 0, 0);
  o.eval_tokens = a.integer("eval-tokens", 65536, 1);
  o.resume = a.flag("resume");
  o.init_from = a.str("init-from", "");
  if (o.resume && !o.init_from.empty()) throw Error("--init-from starts a new run; --resume continues one (give one of them)");
  o.stop_at = a.integer("stop-at", 0, 1);
  const std::string opt = a.str("optimizer", "adamw");
  if (opt != "adamw" && opt != "adam") throw Error("--optimizer: '" + opt + "' is neither adamw nor adam");
  o.opt.decoupled = opt == "adamw";
  o.opt.beta1 = a.real_float("beta1", 0.9, 0.0, 1.0);
  o.opt.beta2 = a.real_float("beta2", 0.999, 0.0, 1.0);
  o.opt.eps = a.real_float("eps", 1e-8, 0.0, FLT_MAX, /*open_lo=*/true);
  o.opt.weight_decay = a.real_float("weight-decay", 0, 0.0);
  if (o.opt.beta1 >= 1 || o.opt.beta2 >= 1) throw Error("--beta1 and --beta2 must lie in [0, 1)");
  const std::uint64_t seed = o.seed;
  o.init = init_options_from(a, o.init_recipe, hidden);
  o.init.seed = seed;
  o.keep = a.int32("keep", 2, 1);
  o.quiet = a.flag("quiet");
  o.zero = a.int32("zero", 0, 0);
  if (o.zero > 1) throw Error("--zero: " + std::to_string(o.zero) + " is neither 0 nor 1 (ZeRO-1: Adam moments sharded)");
  if (a.has("grad-norms-at")) {
    const std::string list = a.required("grad-norms-at");
    std::size_t pos = 0;
    while (pos <= list.size()) {
      const std::size_t comma = std::min(list.find(',', pos), list.size());
      const std::string item = list.substr(pos, comma - pos);
      try {
        std::size_t used = 0;
        const long long v = std::stoll(item, &used);
        if (used != item.size() || v < 1) throw std::invalid_argument(item);
        o.grad_norm_steps.push_back(v);
      } catch (const std::exception&) {
        throw Error("--grad-norms-at: '" + item + "' is not a step number (a list like 1,100,1000)");
      }
      pos = comma + 1;
    }
  }
  return o;
}

// Trains with the ranks of the launch (one without mpirun). Under mpirun every rank runs this;
// an error on any rank ends the whole job.
template <class Net, class Backend>
int train_on_ranks(const TrainOptions& o, const Args& a) {
  const double timeout = a.real("comm-timeout", 600, 0.0, 1e9, /*open_lo=*/true);
  const std::unique_ptr<Communicator> comm = BackendCli<Backend>::communicator(timeout);
  if (comm->size() == 1) {
    Trainer<Net, Backend>(o, comm.get()).run();
    return 0;
  }
  try {
    Trainer<Net, Backend>(o, comm.get()).run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: rank %d: %s\n", comm->rank(), e.what());
    std::fflush(stderr);
    comm->abort(1);
  }
  comm->barrier();
  return 0;
}

template <class Net, class Backend>
int run_train(const Args& a) {
  TrainOptions o = train_options_from(a, Net::C);
  o.precision = precision_arg<Backend>(a);
  return train_on_ranks<Net, Backend>(o, a);
}

inline std::vector<Option> eval_options() {
  auto o = model_options();
  o.push_back({"data", true, "DIR: made by mixln-prepare; its val split is read"});
  o.push_back({"eval-tokens", true, "N: validation tokens (65536; all if fewer)"});
  o.push_back({"batch", true, "B: sequences per forward pass (8)"});
  o.push_back({"seq", true, "T: tokens per sequence (the run's, with --ckpt; else 256)"});
  return o;
}

template <class Net, class Backend>
int run_eval(const Args& a) {
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const nlohmann::json st = load_model<Net>(e, a);
  const std::string data = a.required("data");
  int seq = 256;
  if (st.contains("train")) seq = st["train"].value("seq", 256);
  seq = a.int32("seq", seq, 1);
  TokenStream val(find_shards(data, "val"), Net::config::vocab_size);
  const EvalResult r = evaluate(e, val, a.integer("eval-tokens", 65536, 1), a.int32("batch", 8, 1), seq);
  if (!std::isfinite(r.loss))
    throw Error("the validation loss is " + std::to_string(r.loss) + " (the weights compute a non-finite loss)");
  std::printf("{\"val_loss\": %.6f, \"val_ppl\": %.4f, \"tokens\": %llu}\n", r.loss, r.ppl,
              (unsigned long long)r.tokens);
  return 0;
}

}  // namespace mixln::cli
