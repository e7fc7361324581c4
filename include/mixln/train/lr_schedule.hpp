// mixln/train/lr_schedule.hpp — linear warm-up, then cosine decay to a floor.
//
// For step s (0-based) of N, with W = round(warmup_frac · N) warm-up steps:
//   s < W:  lr = peak · (s + 1) / W
//   s ≥ W:  lr = floor + (peak − floor) · ½(1 + cos(π · (s − W) / (N − W)))
// where floor = min_lr_frac · peak (reached at s = N). The paper: warmup_frac 0.1,
// min_lr_frac 0.1. Warm-up starts at peak/W rather than 0, so the first step is not wasted.
#pragma once

#include <cmath>

namespace mixln {

struct LrSchedule {
  double peak = 1e-3;
  long long steps = 1;
  double warmup_frac = 0.1, min_lr_frac = 0.1;

  long long warmup_steps() const { return std::llround(warmup_frac * double(steps)); }

  double at(long long s) const {
    const long long W = warmup_steps();
    if (s < W) return peak * double(s + 1) / double(W);
    const double floor = min_lr_frac * peak;
    const long long span = steps - W;
    const double progress = span > 0 ? std::min(1.0, double(s - W) / double(span)) : 1.0;
    return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
};

}  // namespace mixln
