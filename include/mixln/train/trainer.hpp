// mixln/train/trainer.hpp — the training loop, evaluation, and checkpoint save/restore.
//
// One optimizer step: `accum` micro-batches of `batch` sequences of `seq` tokens (or of `batch`
// images: what the model reads is train/train_data.hpp's), gradients summed as the gradient of
// the mean loss over the whole global batch; optional clipping by
// global norm; AdamW with the warm-up + cosine schedule. The run is a pure function of its
// settings and seed: the same command on the same machine and thread count gives the same
// losses bit for bit, and so does a run killed and resumed from a checkpoint. With several
// ranks the gradients combine as train/data_parallel.hpp says. A run may be resumed with
// another split of the same global batch (ranks × batch × accum): the same sequences in each
// step, summed in another order (docs/distributed.md, "Elastic resume").
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../analysis/grad_norms.hpp"
#include "../dist/communicator.hpp"
#include "../error.hpp"
#include "../init.hpp"
#include "../io/atomic_file.hpp"
#include "../io/hf_config.hpp"
#include "../io/hf_weights.hpp"
#include "../io/model_description.hpp"
#include "../io/model_io.hpp"
#include "../io/paths.hpp"
#include "../io/run_lock.hpp"
#include "../schedule/engine.hpp"
#include "checkpoint.hpp"
#include "data_parallel.hpp"
#include "evaluate.hpp"
#include "fault_injection.hpp"
#include "lr_schedule.hpp"
#include "optimizer.hpp"
#include "options.hpp"
#include "run_log.hpp"
#include "train_data.hpp"

namespace mixln {

namespace cpu {
template <class T>
struct Backend;  // the default backend (cpu/backend.hpp); include it to train on the CPU
}

template <class Net, class Backend = cpu::Backend<float>>
class Trainer {
 public:
  using E = Engine<Net, Backend>;
  using T = typename E::T;
  using Data = TrainData<Net>;

  // comm: the ranks training together (LocalComm for one process). Each step takes a global
  // batch of batch × accum × ranks sequences; rank r runs micro-batches r, r + W, ... of it.
  explicit Trainer(TrainOptions o, Communicator* comm = nullptr)
      : o_(std::move(o)), comm_(comm ? comm : &local_) {
    o_.world = comm_->size();
    o_.images = std::is_same_v<Data, ImageData<Net>>;
    o_.check();
    if (Net::input::fixed_seq > 0 && o_.seq != Net::input::fixed_seq)
      throw Error("--seq: the model's input makes " + std::to_string(Net::input::fixed_seq) + " rows per sample, not " +
                  std::to_string(o_.seq));
    sched_ = {o_.lr, o_.steps, o_.warmup_frac, o_.min_lr_frac};
    tok_.resize(Net::input::input_count(o_.batch, o_.seq));
    lab_.resize(std::size_t(Net::head::label_count(o_.batch, o_.seq)));
  }

  // Runs (or resumes) the training; returns the final validation result (tokens = 0 if none).
  // Everything that can be checked is checked before the first step: the data (every id, both
  // splits long enough), the output folder, the weights to start from, the lock.
  EvalResult run() {
    Data data(o_);
    check_output_folder();
    const std::optional<HfWeights> start = open_init_from();
    const RunLock lock = lock_run_folder();
    E e(o_.precision.value_or(Backend::precisions[0]));
    DataParallel<Backend> dp(*comm_, e.layout().total, o_.zero == 1);
    AdamW<Backend> adam(e.layout(), o_.opt, dp.slice());
    Position at = o_.resume ? resume(e, adam) : start_fresh(e, start);
    Reports reports(o_, lead(), at.step);

    const long long last = o_.stop_at > 0 ? std::min(o_.stop_at, o_.steps) : o_.steps;
    const long long first = at.step;
    const auto t_start = std::chrono::steady_clock::now();
    EvalResult final_eval;
    while (at.step < last) {
      const auto t0 = std::chrono::steady_clock::now();
      const StepStats s = train_step(e, adam, dp, data, at, reports);
      if (!e.graphs().failure().empty() && !graph_note_) {  // once: the run goes on without graphs
        graph_note_ = true;
        reports.progress.message("note: micro-steps run without CUDA graphs: " + e.graphs().failure());
      }
      const auto now = std::chrono::steady_clock::now();
      const double tok_s = double(labels_per_step()) / std::chrono::duration<double>(now - t0).count();
      const double elapsed = std::chrono::duration<double>(now - t_start).count();
      if (lead())
        reports.log->write({{"step", at.step}, {"loss", s.loss}, {"lr", s.lr}, {o_.images ? "img_s" : "tok_s", tok_s},
                            {"grad_norm", s.grad_norm}});
      reports.progress.step(at.step, s.loss, s.lr, tok_s, elapsed / double(at.step - first) * double(last - at.step));
      const bool at_end = at.step == last;
      if ((o_.eval_every > 0 && at.step % o_.eval_every == 0) || (at_end && at.step == o_.steps))
        final_eval = evaluate_and_report(e, data, at.step, reports);
      if ((o_.ckpt_every > 0 && at.step % o_.ckpt_every == 0) || at_end) checkpoint(e, adam, dp, at);
    }
    reports.progress.done();
    return final_eval;
  }

 private:
  // Where the run stands: optimizer steps done, sequences of the training stream consumed, the
  // last checkpoint written (or resumed from).
  struct Position {
    long long step = 0;
    std::uint64_t sequence = 0;
    std::string last_ckpt;
  };

  // What the lead rank writes as the run goes: log.jsonl, grad_norms.csv, the progress line.
  struct Reports {
    std::optional<RunLog> log;
    std::string grad_norms_csv;
    Progress progress;
    Reports(const TrainOptions& o, bool lead, long long step)
        : grad_norms_csv((std::filesystem::path(o.out) / "grad_norms.csv").string()),
          progress(o.steps, o.quiet || !lead, o.images ? "img" : "tok") {
      if (lead) log.emplace((std::filesystem::path(o.out) / "log.jsonl").string(), o.resume ? step : -1);
      if (lead && !o.grad_norm_steps.empty()) keep_csv_rows(grad_norms_csv, "step,layer,grad_norm", o.resume ? step : -1);
      if (o.resume) progress.message("resuming " + o.out + " at step " + std::to_string(step));
    }
  };

  struct StepStats {
    double loss, lr, grad_norm;
  };

  bool lead() const { return comm_->rank() == 0; }  // logs and writes checkpoints
  // The labels of one optimizer step's global batch (tokens, or images): the gradient's divisor.
  long long labels_per_step() const {
    return (long long)o_.batch * Data::labels_per_sample(o_) * o_.accum * comm_->size();
  }

  void check_output_folder() const {
    check_folder_apart({"--out", o_.out}, {{"--data", o_.data}, {"--init-from", o_.init_from}});
    if (std::filesystem::exists(o_.out) && !std::filesystem::is_directory(o_.out))
      throw file_error(o_.out, "exists and is not a folder");
  }

  // --init-from: the dimensions must be the model's (the layers may differ: that is the point),
  // and the tensors it shares with the model finite.
  std::optional<HfWeights> open_init_from() const {
    std::optional<HfWeights> start;
    if (o_.init_from.empty() || o_.resume) return start;
    if (std::filesystem::is_directory(o_.init_from)) {
      if constexpr (is_token_embedding_v<typename Net::input>)
        check_hf_dimensions<Net>(read_hf_config(o_.init_from), o_.init_from);
      else
        throw file_error(o_.init_from, "is a Hugging Face folder, which holds a language model; give a FILE.safetensors");
    }
    start.emplace(o_.init_from);
    if (const auto bad = first_nonfinite_shared_tensor(make_param_layout<Net>(), *start))
      throw file_error(o_.init_from, "tensor '" + *bad + "' holds NaN or infinite values");
    return start;
  }

  // One writer per run folder; what a writer that died left half-written is removed.
  RunLock lock_run_folder() const {
    if (!lead()) return {};
    RunLock lock(o_.out);
    for (const std::string& t : remove_stale_temporaries(o_.out))
      if (!o_.quiet) std::fprintf(stderr, "note: removed %s/%s, left by a writer that died\n", o_.out.c_str(), t.c_str());
    return lock;
  }

  // A new run: the parameters at their init (and what --init-from carries over), config.json.
  Position start_fresh(E& e, const std::optional<HfWeights>& start) {
    namespace fs = std::filesystem;
    Position at;
    at.last_ckpt = fs::exists(o_.out) ? latest_checkpoint(o_.out) : "";
    if (!at.last_ckpt.empty())
      throw file_error(o_.out, "already holds a run (checkpoint " + fs::path(at.last_ckpt).filename().string() +
                                   "); pass --resume to continue it, or choose another --out");
    InitOptions init = o_.init;
    init.seed = o_.seed;
    init_params(e.layout(), Net::num_layers, e.params(), init);
    if (start) report_init_from(init_from(e.layout(), e.params(), *start));  // checked finite above
    e.sync_to_device();
    if (lead()) {
      fs::create_directories(o_.out);
      write_file_atomic((fs::path(o_.out) / "config.json").string(), run_config().dump(2) + "\n");
    }
    return at;
  }

  // RUN_DIR/config.json: what was run, on what.
  nlohmann::json run_config() const {
    namespace fs = std::filesystem;
    auto optional = [](const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); };
    return {{"model", model_signature<Net>()},
            {"train", o_.run_settings()},
            {"zero", o_.zero},
            {"precision", optional(o_.precision ? precision_name(*o_.precision) : "")},
            {"data", fs::absolute(o_.data).string()},
            {"init_from", o_.init_from.empty() ? nlohmann::json() : nlohmann::json(fs::absolute(o_.init_from).string())}};
  }

  // --resume: the parameters, moments and data position of the latest checkpoint.
  Position resume(E& e, AdamW<Backend>& adam) {
    Position at;
    at.last_ckpt = std::filesystem::exists(o_.out) ? latest_checkpoint(o_.out) : "";
    if (at.last_ckpt.empty()) throw file_error(o_.out, "has no checkpoint to --resume from");
    const nlohmann::json st = restore(at.last_ckpt, e, adam);
    if (!st.contains("data_sequence"))
      throw file_error(at.last_ckpt, "is not a training checkpoint: its state.json has no data_sequence");
    at.step = st.at("step").get<long long>();  // both checked by verify_checkpoint
    at.sequence = st.at("data_sequence").get<std::uint64_t>();
    record_resplit(st.value("train", nlohmann::json::object()), at.step);
    return at;
  }

  // One optimizer step over the global batch: forward/backward of this rank's micro-batches,
  // the reduction over ranks, clipping, the update. Advances `at`.
  StepStats train_step(E& e, AdamW<Backend>& adam, DataParallel<Backend>& dp, Data& data, Position& at,
                       Reports& reports) {
    const int B = o_.batch, Tn = o_.seq, rank = comm_->rank(), world = comm_->size();
    // per-layer gradient norms need the whole summed gradient on the lead rank
    const bool norms_now =
        std::find(o_.grad_norm_steps.begin(), o_.grad_norm_steps.end(), at.step + 1) != o_.grad_norm_steps.end();
    e.zero_grad();
    e.reset_loss();
    for (int a = 0; a < o_.accum; ++a) {
      const std::uint64_t micro = std::uint64_t(a) * std::uint64_t(world) + std::uint64_t(rank);
      data.fill(at.sequence + micro * std::uint64_t(B), B, tok_.data(), lab_.data());
      dp.before_micro_batch(e, a == o_.accum - 1);
      e.micro_step(tok_.data(), lab_.data(), B, Tn, true, labels_per_step());
      dp.after_micro_batch(e);
    }
    at.sequence += std::uint64_t(B) * std::uint64_t(o_.accum) * std::uint64_t(world);
    double* scalars = e.step_scalars();  // [0] the loss sum, [1] the squared gradient norm
    dp.reduce(scalars, e.device_grads(), norms_now);
    fault_.at(rank, at.step + 1);
    if (lead() && norms_now) append_grad_norms(e, at.step + 1, reports.grad_norms_csv);
    dp.clip(e.device_grads(), o_.clip, scalars + 1);
    StepStats s;
    s.lr = sched_.at(at.step);
    // The update is skipped on the device unless the loss and the gradient norm are finite.
    adam.step(e.device_params(), e.device_grads(), float(s.lr), at.step + 1, scalars);
    const auto [loss_sum, sum_squares] = e.read_step_scalars();  // the step's one wait for the device
    s.loss = loss_sum / double(labels_per_step());
    s.grad_norm = std::sqrt(sum_squares);
    if (!std::isfinite(s.loss) || !std::isfinite(s.grad_norm)) {
      const std::string what = !std::isfinite(s.loss) ? "the loss is " + std::to_string(s.loss)
                                                      : "the gradient norm is " + std::to_string(s.grad_norm);
      throw Error(what + " at step " + std::to_string(at.step + 1) + "; training stopped before updating the weights" +
                  (at.last_ckpt.empty() ? " (no checkpoint was written yet)"
                                        : " (the last good checkpoint is " + at.last_ckpt + ")"));
    }
    dp.after_update(e.device_params());
    ++at.step;
    return s;
  }

  EvalResult evaluate_and_report(E& e, const Data& data, long long step, Reports& reports) {
    const EvalResult r = data.evaluate(e, o_, comm_);
    char buf[160];
    if (r.accuracy < 0) {
      if (lead()) reports.log->write({{"step", step}, {"val_loss", r.loss}, {"val_ppl", r.ppl}, {"tokens", r.tokens}});
      std::snprintf(buf, sizeof buf, "step %lld: val_loss %.4f, val_ppl %.2f (%llu tokens)", step, r.loss, r.ppl,
                    (unsigned long long)r.tokens);
    } else {
      if (lead())
        reports.log->write({{"step", step}, {"val_loss", r.loss}, {"val_acc", r.accuracy}, {"images", r.tokens}});
      std::snprintf(buf, sizeof buf, "step %lld: val_loss %.4f, val_acc %.4f (%llu images)", step, r.loss, r.accuracy,
                    (unsigned long long)r.tokens);
    }
    reports.progress.message(buf);
    return r;
  }

  // Rows `step,layer,grad_norm` of the global batch's gradient, before clipping.
  void append_grad_norms(E& e, long long step, const std::string& path) {
    e.sync_to_host();
    const auto norms = layer_grad_norms(e.layout(), Net::num_layers, std::span<const T>(e.grads()));
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

  // Says what --init-from carried over, and what starts fresh.
  void report_init_from(const InitFromReport& r) const {
    if (r.loaded.empty())
      throw file_error(o_.init_from, "shares no tensor with this model: nothing to start from");
    if (!lead() || o_.quiet) return;
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

  // A checkpoint of the weights and moments after the step `at` stands at. No checkpoint of
  // non-finite weights is ever written (an update can overflow although the loss and gradient
  // it came from were finite): stop, naming the last good checkpoint.
  void checkpoint(E& e, AdamW<Backend>& adam, DataParallel<Backend>& dp, Position& at) {
    Backend::sum_squares(e.device_params(), e.layout().total, e.step_scalars() + 1);  // (the norm was read)
    if (!std::isfinite(e.read_step_scalars().second))
      throw Error("the weights are not finite after step " + std::to_string(at.step) +
                  " (is the learning rate too high?); no checkpoint of them was written" +
                  (at.last_ckpt.empty() ? std::string(" (there is no earlier checkpoint)")
                                        : " (the last good checkpoint is " + at.last_ckpt + ")"));
    const auto moments = dp.gather_moments(adam, lead());  // every rank takes part
    if (lead()) at.last_ckpt = save(e, adam, moments, at);
    else at.last_ckpt = (std::filesystem::path(o_.out) / checkpoint_name(at.step)).string();
  }

  // The moments are the optimizer's own host view, or under ZeRO-1 those gathered on the lead.
  std::string save(E& e, AdamW<Backend>& adam, const typename DataParallel<Backend>::Moments& full, const Position& at) {
    e.sync_params_to_host();
    const auto* m = full.m.empty() ? adam.exp_avg().data() : reinterpret_cast<const T*>(full.m.data());
    const auto* v = full.v.empty() ? adam.exp_avg_sq().data() : reinterpret_cast<const T*>(full.v.data());
    nlohmann::json st = {{"format", "mixln-checkpoint-1"},
                         {"data_sequence", at.sequence},
                         {Data::unit, (long long)at.sequence * Data::labels_per_sample(o_)},
                         {"model", model_signature<Net>()},
                         {"train", o_.run_settings()}};
    return save_checkpoint(
        o_.out, at.step, st, {"model.safetensors", "optimizer.safetensors"},
        [&](const std::string& dir) {
          save_params(e.layout(), std::span<const T>(e.params()), dir + "/model.safetensors");
          safetensors::Writer w;
          for (auto& p : e.layout().params) {
            w.add("exp_avg." + p.name, p.shape, m + p.offset);
            w.add("exp_avg_sq." + p.name, p.shape, v + p.offset);
          }
          w.write(dir + "/optimizer.safetensors");
        },
        o_.keep);
  }

  // How a step's global batch is split: sequences (or images) per micro-batch, micro-batches
  // per rank, ranks. A resumed run may split it otherwise (elastic resume: another allocation);
  // the global batch, their product, must stay.
  static bool is_batch_split(const std::string& key) { return key == "batch" || key == "accum" || key == "world"; }
  struct BatchSplit {
    long long batch = 0, accum = 1, world = 1;
    static BatchSplit of(const nlohmann::json& settings) {
      auto get = [&](const char* key, long long fallback) {
        const auto it = settings.find(key);
        return it != settings.end() && it->is_number_integer() ? it->get<long long>() : fallback;
      };
      return {get("batch", 0), get("accum", 1), get("world", 1)};
    }
    long long global() const { return batch * accum * world; }
    bool operator==(const BatchSplit&) const = default;
    std::string text() const {
      return std::to_string(batch) + " x " + std::to_string(accum) + " x " + std::to_string(world) + " = " +
             std::to_string(global());
    }
  };

  void check_global_batch(const nlohmann::json& had) const {
    const BatchSplit now = BatchSplit::of(o_.run_settings()), then = BatchSplit::of(had);
    if (now.global() != then.global())
      throw Error("--resume: the global batch (--batch x --accum x ranks) is " + now.text() + " but the run in " +
                  o_.out + " was started with " + then.text() + "; another split must keep the product");
  }

  // After an elastic resume, config.json says how the run goes on: its settings are the new
  // split's, and "resplit" lists each change (the step it took effect after, the split before).
  void record_resplit(const nlohmann::json& had, long long step) const {
    const BatchSplit now = BatchSplit::of(o_.run_settings()), then = BatchSplit::of(had);
    if (now == then || !lead()) return;
    const std::string path = (std::filesystem::path(o_.out) / "config.json").string();
    nlohmann::json config = run_config(), old;
    if (std::filesystem::exists(path)) {
      try {
        std::ifstream in(path);
        old = nlohmann::json::parse(in);
      } catch (const std::exception&) {
        old = nlohmann::json();  // unreadable: written afresh below
      }
    }
    nlohmann::json resplits = old.is_object() && old.contains("resplit") && old["resplit"].is_array()
                                  ? old["resplit"] : nlohmann::json::array();
    resplits.push_back({{"step", step}, {"batch", then.batch}, {"accum", then.accum}, {"world", then.world}});
    config["resplit"] = resplits;
    write_file_atomic(path, config.dump(2) + "\n");
  }

  // Loads a checkpoint into the engine and the optimizer (its slice of the moments), after
  // checking that it is of this model and of a run with these settings.
  nlohmann::json restore(const std::string& dir, E& e, AdamW<Backend>& adam) {
    nlohmann::json st = verify_checkpoint(dir);
    if (!signature_matches<Net>(st.value("model", nlohmann::json())))
      throw file_error(dir, "is a checkpoint of another model: " + st.value("model", nlohmann::json()).dump());
    const nlohmann::json want = o_.run_settings(), have = st.value("train", nlohmann::json::object());
    check_global_batch(have);
    std::vector<std::string> keys = {"init"};  // a recipe's name first: it explains its stds
    for (auto it = want.begin(); it != want.end(); ++it)
      if (it.key() != "init" && !is_batch_split(it.key())) keys.push_back(it.key());
    for (const std::string& key : keys) {
      const nlohmann::json had = have.value(key, TrainOptions::setting_default(key));
      if (had != want.at(key)) {
        std::string flag = key;
        std::replace(flag.begin(), flag.end(), '_', '-');
        throw Error("--resume: --" + flag + " is " + want.at(key).dump() + " but the run in " + o_.out +
                    " was started with " + had.dump());
      }
    }
    load_params(e.layout(), e.params(), dir + "/model.safetensors");
    safetensors::File f(dir + "/optimizer.safetensors");
    std::vector<T> tensor;
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

  TrainOptions o_;
  LocalComm local_;
  Communicator* comm_;
  LrSchedule sched_;
  InjectedFault fault_ = InjectedFault::from_environment();
  std::vector<typename Net::input::input_type> tok_;  // a micro-batch's input: tokens [B, T], or pixels
  std::vector<std::int32_t> lab_;                      // and its labels: [B, T], or [B]
  bool graph_note_ = false;
};

}  // namespace mixln
