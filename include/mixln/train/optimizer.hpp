// mixln/train/optimizer.hpp — Adam/AdamW over the flat parameter buffer (one launch for all of
// it), and gradient clipping by global norm, on any backend.
//
// Weight decay (when non-zero) applies to matrices — embeddings, linears, lm_head — and not
// to norm weights, as is usual for transformers. The paper's setting is Adam(0.9, 0.999)
// with no decay. The moments live in the backend's memory; exp_avg()/exp_avg_sq() are host
// views (mirrors on a device backend: sync_to_host() / sync_to_device()). Under ZeRO-1 an AdamW
// holds the moments of one rank's slice of the parameters only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "../math/adamw.hpp"
#include "../mirrored_buffer.hpp"
#include "../schedule/param_layout.hpp"

namespace mixln {

struct OptimizerOptions {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f;
  bool decoupled = true;
};

template <class Backend>
class AdamW {
 public:
  using T = typename Backend::scalar;

  // The moments of the slice [slice.first, slice.second) of the flat buffer: all of it, or under
  // ZeRO-1 (train --zero 1) this rank's; step() updates that slice only.
  AdamW(const ParamLayout& layout, OptimizerOptions opt,
        std::pair<std::size_t, std::size_t> slice = {0, std::size_t(-1)})
      : opt_(opt),
        begin_(std::min(slice.first, layout.total)),
        end_(std::max(begin_, std::min(slice.second, layout.total))),
        total_(layout.total),
        m_(end_ - begin_),
        v_(end_ - begin_) {
    m_.zero();
    v_.zero();
    // The slice's part of each tensor, cut into chunks of at most kAdamChunk elements: one
    // launch updates them all.
    std::vector<AdamChunk> chunks;
    for (auto& p : layout.params) {
      const std::size_t lo = std::max(p.offset, begin_), hi = std::min(p.offset + p.count, end_);
      for (std::size_t c = lo; c < hi; c += kAdamChunk)
        chunks.push_back({c, c - begin_, std::min(kAdamChunk, hi - c), p.decay ? 1 : 0});
    }
    num_chunks_ = int(chunks.size());
    chunks_.resize(chunks.size());
    if (!chunks.empty()) Backend::copy_to_device(chunks_.data(), chunks.data(), chunks.size());
  }

  // One update with learning rate lr of the backend's params from its grads; `t` is the
  // 1-based step count (bias correction). With finite_check (two doubles in the backend's
  // memory: the loss sum and the squared gradient norm, Engine::step_scalars()), nothing
  // changes unless both are finite: a step whose loss or gradient overflowed never reaches the
  // weights or the moments, and the host, reading them afterwards, stops the run.
  void step(T* params, const T* grads, float lr, long long t, const double* finite_check = nullptr) {
    const AdamHyper h{lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay, opt_.decoupled,
                      float(1.0 - std::pow(double(opt_.beta1), double(t))),
                      float(1.0 - std::pow(double(opt_.beta2), double(t)))};
    if (num_chunks_ > 0)
      Backend::adam_update(params, grads, m_.device(), v_.device(), chunks_.data(), num_chunks_, h, finite_check);
  }

  // Host views of the moments of the slice: element i is the flat buffer's begin() + i.
  std::span<T> exp_avg() { return m_.host(); }
  std::span<T> exp_avg_sq() { return v_.host(); }
  std::size_t begin() const { return begin_; }
  std::size_t end() const { return end_; }
  bool sharded() const { return begin_ != 0 || end_ != total_; }
  void sync_to_host() {
    m_.to_host();
    v_.to_host();
  }
  void sync_to_device() {
    m_.to_device();
    v_.to_device();
  }
  const OptimizerOptions& options() const { return opt_; }

 private:
  OptimizerOptions opt_;
  std::size_t begin_, end_, total_;
  MirroredBuffer<Backend, T> m_, v_;
  typename Backend::template buffer<AdamChunk> chunks_;  // in the backend's memory
  int num_chunks_ = 0;
};

// Writes Σ g² over g[0, n) to *sum_squares (the backend's memory) and scales g so that its L2
// norm is at most max_norm (no-op when max_norm ≤ 0). Nothing is read back.
template <class Backend>
void clip_grad_norm(typename Backend::scalar* g, std::size_t n, double max_norm, double* sum_squares) {
  Backend::sum_squares(g, n, sum_squares);
  Backend::clip_to_norm(g, n, sum_squares, max_norm);
}

// The same, returning the norm before clipping (waits for the backend).
template <class Backend>
double clip_grad_norm(typename Backend::scalar* g, std::size_t n, double max_norm) {
  typename Backend::template buffer<double> ss(1);
  clip_grad_norm<Backend>(g, n, max_norm, ss.data());
  double host = 0;
  Backend::copy_to_host(&host, ss.data(), 1);
  return std::sqrt(host);
}

}  // namespace mixln
