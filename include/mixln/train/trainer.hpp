// mixln/train/trainer.hpp — the training loop, evaluation, and checkpoint save/restore.
//
// One optimizer step: `accum` micro-batches of `batch` sequences of `seq` tokens, gradients
// summed as the gradient of the mean loss over the whole global batch; optional clipping by
// global norm; AdamW with the warm-up + cosine schedule. The run is a pure function of its
// settings and seed: the same command on the same machine and thread count gives the same
// losses bit for bit, and so does a run killed and resumed from a checkpoint.
#pragma once

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <cstdio>
#include <fstream>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../analysis/grad_norms.hpp"
#include "../cpu/backend.hpp"
#include "../data/loader.hpp"
#include "../data/shards.hpp"
#include "../dist/communicator.hpp"
#include "../dsl/model.hpp"
#include "../error.hpp"
#include "../init.hpp"
#include "../io/model_description.hpp"
#include "../io/hf_config.hpp"
#include "../io/hf_weights.hpp"
#include "../io/model_io.hpp"
#include "../io/paths.hpp"
#include "../io/run_lock.hpp"
#include "../schedule/engine.hpp"
#include "checkpoint.hpp"
#include "lr_schedule.hpp"
#include "optimizer.hpp"
#include "run_log.hpp"

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
  std::string precision;  // the GEMM inputs' precision (fp32, bf16, ...), recorded in config.json
  long long steps = 0;
  int batch = 0, seq = 0, accum = 1;
  double lr = 0, warmup_frac = 0.1, min_lr_frac = 0.1, clip = 0;
  std::uint64_t seed = 0;
  long long ckpt_every = 0, eval_every = 0, eval_tokens = 65536, stop_at = 0;
  bool resume = false, scaled_init = false, quiet = false;
  int keep = 2;
  std::vector<long long> grad_norm_steps;  // log per-layer gradient norms at these steps
  int world = 1;                           // data-parallel ranks (set from the communicator)
  int zero = 0;  // 1: ZeRO-1, the Adam moments sharded over the ranks (the same run, less memory)
  OptimizerOptions opt;

  // The settings that define a run; a resumed run must repeat them.
  nlohmann::json run_settings() const {
    return {{"steps", steps},         {"batch", batch},
            {"seq", seq},             {"accum", accum},
            {"lr", lr},               {"warmup_frac", warmup_frac},
            {"min_lr_frac", min_lr_frac}, {"clip", clip},
            {"seed", seed},           {"beta1", opt.beta1},
            {"beta2", opt.beta2},     {"eps", opt.eps},
            {"weight_decay", opt.weight_decay}, {"optimizer", opt.decoupled ? "adamw" : "adam"},
            {"scaled_init", scaled_init}, {"world", world}};
  }
};

struct EvalResult {
  double loss = 0, ppl = 0;
  std::uint64_t tokens = 0;
};

// Mean loss over the first ⌈eval_tokens / T⌉ validation windows (all of them if fewer). With
// several ranks, rank r takes every W-th group of B windows and the sums are reduced.
template <class E>
EvalResult evaluate(E& e, const TokenStream& val, long long eval_tokens, int B, int T, Communicator* comm = nullptr) {
  WindowLoader loader(val, T, 0, /*shuffle=*/false, "validation split");
  const std::uint64_t want = std::uint64_t((eval_tokens + T - 1) / T);
  const std::uint64_t n = std::min<std::uint64_t>(std::max<std::uint64_t>(want, 1), loader.windows());
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->size() : 1;
  std::vector<std::int32_t> tok(std::size_t(B) * T), lab(std::size_t(B) * T);
  double sums[2] = {0, 0};  // loss · labels, labels
  std::uint64_t group = 0;
  for (std::uint64_t s = 0; s < n; s += std::uint64_t(B), ++group) {
    if (int(group % std::uint64_t(world)) != rank) continue;
    const int b = int(std::min<std::uint64_t>(std::uint64_t(B), n - s));
    loader.fill(s, b, tok.data(), lab.data());
    const StepResult r = e.step(tok.data(), lab.data(), b, T, false);
    sums[0] += r.loss_sum;
    sums[1] += double(r.labels);
  }
  if (comm) comm->allreduce_sum(sums, 2);
  EvalResult r;
  r.tokens = std::uint64_t(sums[1]);
  r.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  r.ppl = std::exp(r.loss);
  return r;
}

// Loads parameters from the latest checkpoint of a run (checked against the model type).
template <class Net, class T>
nlohmann::json load_run_params(const ParamLayout& layout, std::span<T> params, const std::string& run_dir) {
  const std::string dir = latest_checkpoint(run_dir);
  if (dir.empty()) throw file_error(run_dir, "holds no checkpoint (no 'latest' file)");
  nlohmann::json st = verify_checkpoint(dir);
  if (st.contains("model") && !signature_matches<Net>(st["model"]))
    throw file_error(dir, "is a checkpoint of another model: " + st["model"].dump());
  load_params(layout, params, (std::filesystem::path(dir) / "model.safetensors").string());
  return st;
}

template <class Net, class Backend = cpu::Backend<float>>
class Trainer {
 public:
  using E = Engine<Net, Backend>;

  // comm: the ranks training together (LocalComm for one process). Each step takes a global
  // batch of batch × accum × ranks sequences; rank r runs micro-batches r, r + W, ... of it.
  explicit Trainer(TrainOptions o, Communicator* comm = nullptr)
      : o_(std::move(o)), comm_(comm ? comm : &local_) {
    o_.world = comm_->size();
    validate();
  }

  // Runs (or resumes) the training; returns the final validation result (tokens = 0 if none).
  EvalResult run() {
    namespace fs = std::filesystem;
    // Everything that can be checked is checked before the first step: the data (every id,
    // both splits long enough), the output folder, the lock.
    constexpr std::size_t V = Net::config::vocab_size;
    TokenStream train(find_shards(o_.data, "train"), V), val(find_shards(o_.data, "val"), V);
    check_vocab(train, "train");
    WindowLoader loader(train, o_.seq, o_.seed, /*shuffle=*/true, "training split");
    WindowLoader(val, o_.seq, 0, /*shuffle=*/false, "validation split");  // throws if too short
    check_folder_apart({"--out", o_.out}, {{"--data", o_.data}, {"--init-from", o_.init_from}});
    if (fs::exists(o_.out) && !fs::is_directory(o_.out)) throw file_error(o_.out, "exists and is not a folder");

    // --init-from: the dimensions must be the model's (the layers may differ: that is the point).
    std::optional<HfWeights> start;
    if (!o_.init_from.empty() && !o_.resume) {
      if (std::filesystem::is_directory(o_.init_from)) check_hf_dimensions<Net>(read_hf_config(o_.init_from), o_.init_from);
      start.emplace(o_.init_from);
      if (const auto bad = first_nonfinite_shared_tensor(make_param_layout<Net>(), *start))
        throw file_error(o_.init_from, "tensor '" + *bad + "' holds NaN or infinite values");
    }
    const int rank = comm_->rank(), world = comm_->size();
    const bool lead = rank == 0;  // logs and writes checkpoints
    RunLock lock;
    if (lead) {
      lock = RunLock(o_.out);  // one writer per run folder
      for (const std::string& t : remove_stale_temporaries(o_.out))
        if (!o_.quiet) std::fprintf(stderr, "note: removed %s/%s, left by a writer that died\n", o_.out.c_str(), t.c_str());
    }
    E e;
    // ZeRO-1: this rank keeps and updates the Adam moments of its slice of the parameters only.
    const bool zero = o_.zero == 1 && world > 1;
    if constexpr (!std::is_same_v<typename E::T, float>)
      if (zero) throw Error("--zero 1 needs fp32 parameters");
    const std::size_t total = e.layout().total;
    AdamW<Backend> adam(e.layout(), o_.opt, zero ? comm_->shard(total) : std::pair<std::size_t, std::size_t>{0, total});
    const auto [own_lo, own_hi] = std::pair{adam.begin(), adam.end()};
    const LrSchedule sched{o_.lr, o_.steps, o_.warmup_frac, o_.min_lr_frac};
    long long step = 0;
    std::uint64_t sequence = 0;
    const std::string existing = fs::exists(o_.out) ? latest_checkpoint(o_.out) : "";
    if (o_.resume) {
      if (existing.empty()) throw file_error(o_.out, "has no checkpoint to --resume from");
      const nlohmann::json st = restore(existing, e, adam);
      step = st.at("step").get<long long>();
      sequence = st.at("data_sequence").get<std::uint64_t>();
    } else {
      if (!existing.empty())
        throw file_error(o_.out, "already holds a run (checkpoint " + fs::path(existing).filename().string() +
                                     "); pass --resume to continue it, or choose another --out");
      init_params(e.layout(), Net::num_layers, e.params(), {.seed = o_.seed, .scaled_init = o_.scaled_init});
      if (start) report_init_from(init_from(e.layout(), e.params(), *start), lead);  // checked finite above
      e.sync_to_device();
      if (lead) {
        fs::create_directories(o_.out);
        write_file_atomic((fs::path(o_.out) / "config.json").string(),
                          nlohmann::json{{"model", model_signature<Net>()},
                                         {"train", o_.run_settings()},
                                         {"zero", o_.zero},
                                         {"precision", o_.precision.empty() ? nlohmann::json() : nlohmann::json(o_.precision)},
                                         {"data", fs::absolute(o_.data).string()},
                                         {"init_from", o_.init_from.empty() ? nlohmann::json()
                                                                            : nlohmann::json(fs::absolute(o_.init_from).string())}}
                                  .dump(2) + "\n");
      }
    }
    std::optional<RunLog> log;
    if (lead) log.emplace((fs::path(o_.out) / "log.jsonl").string(), o_.resume ? step : -1);
    const std::string gn_path = (fs::path(o_.out) / "grad_norms.csv").string();
    if (lead && !o_.grad_norm_steps.empty()) keep_csv_rows(gn_path, "step,layer,grad_norm", o_.resume ? step : -1);
    Progress progress(o_.steps, o_.quiet || !lead);
    if (o_.resume) progress.message("resuming " + o_.out + " at step " + std::to_string(step));

    const int B = o_.batch, T = o_.seq;
    std::vector<std::int32_t> tok(std::size_t(B) * T), lab(std::size_t(B) * T);
    const long long tokens_per_step = (long long)B * T * o_.accum * world;
    const auto fault = injected_fault();
    const long long last = o_.stop_at > 0 ? std::min(o_.stop_at, o_.steps) : o_.steps;
    EvalResult final_eval;
    std::string last_ckpt = existing;
    const auto t_start = std::chrono::steady_clock::now();
    const long long first = step;
    while (step < last) {
      const auto t0 = std::chrono::steady_clock::now();
      e.zero_grad();
      double loss_sum = 0;
      // On a device with async reductions (NCCL), each layer's gradient is reduced as soon as
      // the last micro-batch's backward finishes it; otherwise the whole buffer afterwards.
      const bool per_layer = world > 1 && comm_->has_async_device_reduce() && !zero;
      // per-layer gradient norms need the whole summed gradient on the lead rank
      const bool norms_now =
          std::find(o_.grad_norm_steps.begin(), o_.grad_norm_steps.end(), step + 1) != o_.grad_norm_steps.end();
      for (int a = 0; a < o_.accum; ++a) {
        const std::uint64_t micro = std::uint64_t(a) * std::uint64_t(world) + std::uint64_t(rank);
        loader.fill(sequence + micro * std::uint64_t(B), B, tok.data(), lab.data());
        if (per_layer && a == o_.accum - 1)
          e.set_grad_ready_hook([&](std::size_t off, std::size_t n) {
            comm_->allreduce_sum_device_async(e.device_grads() + off, n);
          });
        loss_sum += e.step(tok.data(), lab.data(), B, T, true, tokens_per_step).loss_sum;
        e.set_grad_ready_hook(nullptr);
      }
      sequence += std::uint64_t(B) * std::uint64_t(o_.accum) * std::uint64_t(world);
      if (world > 1) {
        comm_->allreduce_sum(&loss_sum, 1);
        if (per_layer)
          comm_->wait_device_reduces();
        else if (zero && !norms_now) {  // each rank needs the sum of its own slice only
          if constexpr (Backend::host_memory)
            comm_->reduce_scatter_sum(reinterpret_cast<float*>(e.device_grads()), total);
          else
            comm_->reduce_scatter_sum_device(reinterpret_cast<float*>(e.device_grads()), total, &copy_d2h, &copy_h2d);
        } else if constexpr (Backend::host_memory)
          comm_->allreduce_sum(e.device_grads(), total);
        else if (comm_->has_async_device_reduce()) {  // NCCL, without staging through the host
          comm_->allreduce_sum_device_async(e.device_grads(), total);
          comm_->wait_device_reduces();
        } else
          comm_->allreduce_sum_device(e.device_grads(), total, &copy_d2h, &copy_h2d);
      }
      if (fault.rank == rank && fault.step == step + 1) std::raise(fault.signal);
      const double loss = loss_sum / double(tokens_per_step);
      if (lead && norms_now) append_grad_norms(e, step + 1, gn_path);
      const double gnorm = zero ? clip_grad_norm_sliced(e.device_grads(), own_lo, own_hi)
                                : clip_grad_norm<Backend>(e.device_grads(), total, o_.clip);
      if (!std::isfinite(loss) || !std::isfinite(gnorm)) {
        const std::string what = !std::isfinite(loss) ? "the loss is " + std::to_string(loss)
                                                      : "the gradient norm is " + std::to_string(gnorm);
        throw Error(what + " at step " + std::to_string(step + 1) +
                    "; training stopped before updating the weights" +
                    (last_ckpt.empty() ? " (no checkpoint was written yet)"
                                       : " (the last good checkpoint is " + last_ckpt + ")"));
      }
      const double lr = sched.at(step);
      adam.step(e.device_params(), e.device_grads(), float(lr), step + 1);
      if (zero) {  // every rank's updated slice to every rank
        if constexpr (Backend::host_memory)
          comm_->all_gather(reinterpret_cast<float*>(e.device_params()), total);
        else
          comm_->all_gather_device(reinterpret_cast<float*>(e.device_params()), total, &copy_d2h, &copy_h2d);
      }
      ++step;
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      const double tok_s = double(tokens_per_step) / dt;
      if (lead) log->write({{"step", step}, {"loss", loss}, {"lr", lr}, {"tok_s", tok_s}, {"grad_norm", gnorm}});
      progress.step(step, loss, lr, tok_s, elapsed / double(step - first) * double(last - step));
      const bool at_end = step == last;
      if ((o_.eval_every > 0 && step % o_.eval_every == 0) || (at_end && step == o_.steps)) {
        final_eval = evaluate(e, val, o_.eval_tokens, B, T, comm_);
        if (lead)
          log->write({{"step", step}, {"val_loss", final_eval.loss}, {"val_ppl", final_eval.ppl},
                      {"tokens", final_eval.tokens}});
        char buf[128];
        std::snprintf(buf, sizeof buf, "step %lld: val_loss %.4f, val_ppl %.2f (%llu tokens)", step,
                      final_eval.loss, final_eval.ppl, (unsigned long long)final_eval.tokens);
        progress.message(buf);
      }
      if ((o_.ckpt_every > 0 && step % o_.ckpt_every == 0) || at_end) {
        check_finite_weights(e, step, last_ckpt);
        const FullMoments moments = gather_moments(adam, zero, lead, total);  // every rank takes part
        if (lead) last_ckpt = save(e, adam, moments, step, sequence);
        else last_ckpt = (fs::path(o_.out) / checkpoint_name(step)).string();
      }
    }
    progress.done();
    return final_eval;
  }

 private:
  void validate() const {
    if (o_.data.empty()) throw Error("'train' needs --data DIR");
    if (o_.out.empty()) throw Error("'train' needs --out RUN_DIR");
    if (o_.steps <= 0) throw Error("--steps must be positive");
    if (o_.batch <= 0) throw Error("--batch must be positive");
    if (o_.seq <= 0) throw Error("--seq must be positive");
    if (o_.accum <= 0) throw Error("--accum must be positive");
    if (!(o_.lr > 0)) throw Error("--lr must be positive");
    if (o_.warmup_frac < 0 || o_.warmup_frac > 1) throw Error("--warmup-frac must lie in [0, 1]");
    if (o_.min_lr_frac < 0 || o_.min_lr_frac > 1) throw Error("--min-lr-frac must lie in [0, 1]");
    if (o_.clip < 0) throw Error("--clip must be >= 0 (0: off)");
    if (o_.eval_tokens <= 0) throw Error("--eval-tokens must be positive");
    if ((long long)o_.batch * o_.seq * o_.accum > 2147483647ll) throw Error("--batch × --seq × --accum is too large");
  }

  // Rows `step,layer,grad_norm` of the global batch's gradient, before clipping.
  void append_grad_norms(E& e, long long step, const std::string& path) {
    e.sync_to_host();
    const auto norms = layer_grad_norms(e.layout(), Net::num_layers, std::span<const typename E::T>(e.grads()));
    std::string rows;
    char line[80];
    for (int l = 0; l < Net::num_layers; ++l) {
      std::snprintf(line, sizeof line, "%lld,%d,%.9g\n", step, l, norms[std::size_t(l)]);
      rows += line;
    }
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (!f) throw file_error(path, "cannot append");
    std::fwrite(rows.data(), 1, rows.size(), f);
    std::fclose(f);
  }

  // Rewrites a CSV keeping the header and the rows whose first column is ≤ through (all rows
  // dropped when through < 0): a resumed run continues it as if never interrupted.
  static void keep_csv_rows(const std::string& path, const std::string& header, long long through) {
    std::string kept = header + "\n";
    if (through >= 0 && std::filesystem::exists(path)) {
      std::ifstream in(path);
      std::string line;
      std::getline(in, line);
      while (std::getline(in, line))
        if (!line.empty() && std::stoll(line.substr(0, line.find(','))) <= through) kept += line + "\n";
    }
    write_file_atomic(path, kept);
  }

  void check_vocab(const TokenStream& s, const char* split) const {
    const int v = s.info(0).vocab_size;
    if (v > 0 && std::size_t(v) != Net::config::vocab_size)
      throw file_error(o_.data, std::string(split) + " shards were made with vocab " + std::to_string(v) +
                                    ", but the model's vocab is " + std::to_string(Net::config::vocab_size));
  }

  // Says what --init-from carried over, and what starts fresh.
  void report_init_from(const InitFromReport& r, bool lead) const {
    if (r.loaded.empty())
      throw file_error(o_.init_from, "shares no tensor with this model: nothing to start from");
    if (!lead || o_.quiet) return;
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (std::size_t i = 0; i < v.size() && i < 4; ++i) s += (i ? ", " : "") + v[i];
      return v.size() > 4 ? s + ", ..." : s;
    };
    std::fprintf(stderr, "init-from %s: %zu tensors loaded; %zu start at their init%s; %zu of the source unused%s\n",
                 o_.init_from.c_str(), r.loaded.size(), r.kept_init.size(),
                 r.kept_init.empty() ? "" : (" (" + list(r.kept_init) + ")").c_str(), r.unused.size(),
                 r.unused.empty() ? "" : (" (" + list(r.unused) + ")").c_str());
  }

  // No checkpoint of non-finite weights is ever written (an update can overflow although the
  // loss and gradient it came from were finite): stop, naming the last good checkpoint.
  void check_finite_weights(E& e, long long step, const std::string& last_ckpt) {
    const double ss = Backend::sum_squares(e.device_params(), e.layout().total);
    if (std::isfinite(ss)) return;
    throw Error("the weights are not finite after step " + std::to_string(step) +
                " (is the learning rate too high?); no checkpoint of them was written" +
                (last_ckpt.empty() ? std::string(" (there is no earlier checkpoint)")
                                   : " (the last good checkpoint is " + last_ckpt + ")"));
  }

  // The Adam moments of every parameter for a checkpoint: the optimizer's own host view, or
  // under ZeRO-1 every rank's slice gathered on the lead (empty elsewhere).
  struct FullMoments {
    std::vector<float> m, v;  // filled under ZeRO-1 on the lead only
  };
  FullMoments gather_moments(AdamW<Backend>& adam, bool zero, bool lead, std::size_t total) {
    FullMoments f;
    if (!zero) {  // only the lead writes: only its host mirror is filled
      if (lead) adam.sync_to_host();
      return f;
    }
    adam.sync_to_host();  // this rank's slice
    if constexpr (std::is_same_v<typename E::T, float>) {
      if (lead) f.m.resize(total), f.v.resize(total);
      comm_->gather_to_root(adam.exp_avg().data(), total, f.m.data());
      comm_->gather_to_root(adam.exp_avg_sq().data(), total, f.v.data());
    }
    return f;
  }

  // Under ZeRO-1 the clipping norm is the square root of the sum over ranks of each slice's sum
  // of squares; each rank scales its own slice.
  double clip_grad_norm_sliced(typename E::T* g, std::size_t lo, std::size_t hi) {
    double ss = Backend::sum_squares(g + lo, hi - lo);
    comm_->allreduce_sum(&ss, 1);
    const double norm = std::sqrt(ss);
    if (o_.clip > 0 && norm > o_.clip) Backend::scale(g + lo, hi - lo, typename E::T(o_.clip / (norm + 1e-6)));
    return norm;
  }

  std::string save(E& e, AdamW<Backend>& adam, const FullMoments& full, long long step, std::uint64_t sequence) {
    e.sync_params_to_host();
    const auto* m = full.m.empty() ? adam.exp_avg().data() : reinterpret_cast<const typename E::T*>(full.m.data());
    const auto* v = full.v.empty() ? adam.exp_avg_sq().data() : reinterpret_cast<const typename E::T*>(full.v.data());
    nlohmann::json st = {{"format", "mixln-checkpoint-1"},
                         {"data_sequence", sequence},
                         {"tokens", (long long)sequence * o_.seq},
                         {"model", model_signature<Net>()},
                         {"train", o_.run_settings()}};
    return save_checkpoint(
        o_.out, step, st, {"model.safetensors", "optimizer.safetensors"},
        [&](const std::string& dir) {
          save_params(e.layout(), std::span<const typename E::T>(e.params()), dir + "/model.safetensors");
          safetensors::Writer w;
          for (auto& p : e.layout().params) {
            w.add("exp_avg." + p.name, p.shape, m + p.offset);
            w.add("exp_avg_sq." + p.name, p.shape, v + p.offset);
          }
          w.write(dir + "/optimizer.safetensors");
        },
        o_.keep);
  }

  nlohmann::json restore(const std::string& dir, E& e, AdamW<Backend>& adam) {
    nlohmann::json st = verify_checkpoint(dir);
    if (!signature_matches<Net>(st.value("model", nlohmann::json())))
      throw file_error(dir, "is a checkpoint of another model: " + st.value("model", nlohmann::json()).dump());
    const nlohmann::json want = o_.run_settings(), have = st.value("train", nlohmann::json::object());
    for (auto it = want.begin(); it != want.end(); ++it)
      if (have.value(it.key(), nlohmann::json()) != it.value())
        throw Error("--resume: --" + it.key() + " is " + it.value().dump() + " but the run in " + o_.out +
                    " was started with " + have.value(it.key(), nlohmann::json()).dump());
    load_params(e.layout(), e.params(), dir + "/model.safetensors");
    safetensors::File f(dir + "/optimizer.safetensors");
    std::vector<typename E::T> tensor;
    for (auto& p : e.layout().params) {  // the part of each tensor in the optimizer's slice
      const std::size_t lo = std::max(p.offset, adam.begin()), hi = std::min(p.offset + p.count, adam.end());
      if (lo >= hi) continue;
      tensor.resize(p.count);
      for (auto [name, dst] : {std::pair{"exp_avg.", adam.exp_avg()}, std::pair{"exp_avg_sq.", adam.exp_avg_sq()}}) {
        f.read_float(name + p.name, p.shape, tensor.data());
        std::copy(tensor.begin() + std::ptrdiff_t(lo - p.offset), tensor.begin() + std::ptrdiff_t(hi - p.offset),
                  dst.begin() + std::ptrdiff_t(lo - adam.begin()));
      }
    }
    e.sync_to_device();
    adam.sync_to_device();
    return st;
  }

  static void copy_d2h(void* dst, const void* src, std::size_t bytes) {
    Backend::copy_to_host(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), bytes);
  }
  static void copy_h2d(void* dst, const void* src, std::size_t bytes) {
    Backend::copy_to_device(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), bytes);
  }

  // Fault injection for the distributed tests: MIXLN_FAULT_KILL=RANK:STEP makes that rank
  // die (SIGKILL) during that step, after the gradient reduction; MIXLN_FAULT_STOP=RANK:STEP
  // makes it hang (SIGSTOP), so that the others' collective times out.
  struct Fault {
    int rank = -1;
    long long step = -1;
    int signal = 0;
  };
  static Fault injected_fault() {
    for (auto [var, sig] : {std::pair{"MIXLN_FAULT_KILL", SIGKILL}, std::pair{"MIXLN_FAULT_STOP", SIGSTOP}})
      if (const char* v = std::getenv(var)) {
        Fault f;
        if (std::sscanf(v, "%d:%lld", &f.rank, &f.step) == 2) {
          f.signal = sig;
          return f;
        }
      }
    return {};
  }

  TrainOptions o_;
  LocalComm local_;
  Communicator* comm_;
};

}  // namespace mixln
