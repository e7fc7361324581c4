// mixln/train/optimizer.hpp — Adam/AdamW over the flat parameter buffer, with gradient
// clipping by global norm.
//
// Weight decay (when non-zero) applies to matrices — embeddings, linears, lm_head — and not
// to norm weights, as is usual for transformers. The paper's setting is Adam(0.9, 0.999)
// with no decay.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "../buffer.hpp"
#include "../math/adamw.hpp"
#include "../schedule/param_layout.hpp"

namespace mixln {

struct OptimizerOptions {
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f;
  bool decoupled = true;
};

template <class T>
class AdamW {
 public:
  AdamW(const ParamLayout& layout, OptimizerOptions opt) : opt_(opt), m_(layout.total), v_(layout.total) {
    for (auto& p : layout.params)
      ranges_.push_back({p.offset, p.count, p.kind != ParamKind::norm});
  }

  // One update with learning rate lr; `t` is the 1-based step count (bias correction).
  void step(std::span<T> params, std::span<const T> grads, float lr, long long t) {
    AdamHyper h{lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay, opt_.decoupled,
                float(1.0 - std::pow(double(opt_.beta1), double(t))),
                float(1.0 - std::pow(double(opt_.beta2), double(t)))};
    T* p = params.data();
    const T* g = grads.data();
    T* m = m_.data();
    T* v = v_.data();
    for (const auto& r : ranges_) {
      const std::size_t end = r.offset + r.count;
#pragma omp parallel for schedule(static)
      for (std::size_t i = r.offset; i < end; ++i) adam_update(p[i], g[i], m[i], v[i], h, r.decay);
    }
  }

  std::span<T> exp_avg() { return m_.span(); }
  std::span<T> exp_avg_sq() { return v_.span(); }
  std::span<const T> exp_avg() const { return m_.span(); }
  std::span<const T> exp_avg_sq() const { return v_.span(); }
  const OptimizerOptions& options() const { return opt_; }

 private:
  struct Range {
    std::size_t offset, count;
    bool decay;
  };
  OptimizerOptions opt_;
  AlignedBuffer<T> m_, v_;
  std::vector<Range> ranges_;
};

// L2 norm of the whole gradient (accumulated in double, in a fixed order).
template <class T>
double global_grad_norm(std::span<const T> g) {
  constexpr std::size_t kChunk = 1 << 14;
  const std::size_t chunks = (g.size() + kChunk - 1) / kChunk;
  std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static)
  for (std::size_t c = 0; c < chunks; ++c) {
    double s = 0;
    const std::size_t end = std::min(g.size(), (c + 1) * kChunk);
    for (std::size_t i = c * kChunk; i < end; ++i) s += double(g[i]) * double(g[i]);
    part[c] = s;
  }
  double total = 0;
  for (double s : part) total += s;
  return std::sqrt(total);
}

// Scales g so that its norm is at most max_norm (no-op when max_norm ≤ 0); returns the norm
// before clipping.
template <class T>
double clip_grad_norm(std::span<T> g, double max_norm) {
  const double norm = global_grad_norm(std::span<const T>(g));
  if (max_norm > 0 && norm > max_norm) {
    const T s = T(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < g.size(); ++i) g[i] *= s;
  }
  return norm;
}

}  // namespace mixln
