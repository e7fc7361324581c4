// mixln/train/optimizer.hpp — Adam/AdamW over the flat parameter buffer, and gradient
// clipping by global norm, on any backend.
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
    for (auto& p : layout.params) {
      const std::size_t lo = std::max(p.offset, begin_), hi = std::min(p.offset + p.count, end_);
      if (lo < hi) ranges_.push_back({lo, hi - lo, p.kind != ParamKind::norm});
    }
  }

  // One update with learning rate lr of the backend's params from its grads; `t` is the
  // 1-based step count (bias correction).
  void step(T* params, const T* grads, float lr, long long t) {
    const AdamHyper h{lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay, opt_.decoupled,
                      float(1.0 - std::pow(double(opt_.beta1), double(t))),
                      float(1.0 - std::pow(double(opt_.beta2), double(t)))};
    for (const auto& r : ranges_)
      Backend::adam_update(params + r.offset, grads + r.offset, m_.device() + (r.offset - begin_),
                           v_.device() + (r.offset - begin_), r.count, h, r.decay);
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
  struct Range {
    std::size_t offset, count;
    bool decay;
  };
  OptimizerOptions opt_;
  std::size_t begin_, end_, total_;
  MirroredBuffer<Backend, T> m_, v_;
  std::vector<Range> ranges_;
};

// Scales g[0, n), part of a gradient whose global L2 norm is `norm`, so that the global norm is at
// most max_norm (no-op when max_norm ≤ 0).
template <class Backend>
void clip_to_norm(typename Backend::scalar* g, std::size_t n, double norm, double max_norm) {
  using T = typename Backend::scalar;
  if (max_norm > 0 && norm > max_norm) Backend::scale(g, n, T(max_norm / (norm + 1e-6)));
}

// Scales g in place so that its L2 norm is at most max_norm (no-op when max_norm ≤ 0);
// returns the norm before clipping.
template <class Backend>
double clip_grad_norm(typename Backend::scalar* g, std::size_t n, double max_norm) {
  const double norm = std::sqrt(Backend::sum_squares(g, n));
  clip_to_norm<Backend>(g, n, norm, max_norm);
  return norm;
}

}  // namespace mixln
