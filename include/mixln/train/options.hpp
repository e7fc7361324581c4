// mixln/train/options.hpp — the settings of a training run, as `train`'s flags give them, and
// their checks.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../init.hpp"
#include "../precision.hpp"
#include "optimizer.hpp"

namespace mixln {

// Per-model defaults of `train` flags (the paper's hyper-parameters for its configurations);
// a zero field has no default and its flag must be given.
struct TrainDefaults {
  long long steps = 0;
  int batch = 0, seq = 0, accum = 1;
  double lr = 0;
};

struct TrainOptions {
  std::string data, out;
  std::string init_from;  // a Hugging Face folder or safetensors file whose matching tensors start the run
  std::optional<Precision> precision;  // of the GEMM inputs (unset: the backend's default), recorded in config.json
  long long steps = 0;
  int batch = 0, seq = 0, accum = 1;
  double lr = 0, warmup_frac = 0.1, min_lr_frac = 0.1, clip = 0;
  std::uint64_t seed = 0;
  long long ckpt_every = 0, eval_every = 0, eval_tokens = 65536, stop_at = 0;
  bool resume = false, quiet = false;
  std::string init_recipe = "default";  // --init; `init` holds its standard deviations (seed: `seed`)
  InitOptions init;
  int keep = 2;
  std::vector<long long> grad_norm_steps;  // log per-layer gradient norms at these steps
  int world = 1;                           // data-parallel ranks (set from the communicator)
  int zero = 0;  // 1: ZeRO-1, the Adam moments sharded over the ranks (the same run, less memory)
  OptimizerOptions opt;
  // A vision model's run (train/train_data.hpp's ImageData): its augmentation, part of the run's
  // settings, and how many validation images an evaluation reads (0: all).
  bool images = false;
  int crop_pad = 0;
  bool flip = false;
  long long eval_images = 0;

  // The settings that define a run; a resumed run must repeat them.
  nlohmann::json common_settings() const {
    return {{"steps", steps},         {"batch", batch},
            {"seq", seq},             {"accum", accum},
            {"lr", lr},               {"warmup_frac", warmup_frac},
            {"min_lr_frac", min_lr_frac}, {"clip", clip},
            {"seed", seed},           {"beta1", opt.beta1},
            {"beta2", opt.beta2},     {"eps", opt.eps},
            {"weight_decay", opt.weight_decay}, {"optimizer", opt.decoupled ? "adamw" : "adam"},
            {"scaled_init", init.scaled_init}, {"world", world},
            {"init", init_recipe},    {"init_std", init.std},
            {"embed_std", init.embed_std}};
  }
  nlohmann::json run_settings() const {
    nlohmann::json s = common_settings();
    if (images) s["crop_pad"] = crop_pad, s["flip"] = flip;
    return s;
  }

  // The value a setting added after a run was started had in that run (the run's config.json
  // does not name it); null for the settings every run records.
  static nlohmann::json setting_default(const std::string& key) {
    if (key == "init") return "default";
    if (key == "init_std" || key == "embed_std") return 0.02;
    return nullptr;
  }

  // Throws naming the first setting out of range.
  void check() const {
    if (data.empty()) throw Error("'train' needs --data DIR");
    if (out.empty()) throw Error("'train' needs --out RUN_DIR");
    if (steps <= 0) throw Error("--steps must be positive");
    if (batch <= 0) throw Error("--batch must be positive");
    if (seq <= 0) throw Error("--seq must be positive");
    if (accum <= 0) throw Error("--accum must be positive");
    if (!(lr > 0)) throw Error("--lr must be positive");
    if (warmup_frac < 0 || warmup_frac > 1) throw Error("--warmup-frac must lie in [0, 1]");
    if (min_lr_frac < 0 || min_lr_frac > 1) throw Error("--min-lr-frac must lie in [0, 1]");
    if (clip < 0) throw Error("--clip must be >= 0 (0: off)");
    if (eval_tokens <= 0) throw Error("--eval-tokens must be positive");
    if (crop_pad < 0) throw Error("--crop-pad must be >= 0");
    if (eval_images < 0) throw Error("--eval-images must be >= 0 (0: all)");
    if ((long long)batch * seq * accum > 2147483647ll) throw Error("--batch × --seq × --accum is too large");
  }
};

}  // namespace mixln
