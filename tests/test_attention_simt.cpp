// The SIMT attention kernels (src/cuda/attention.cu: forward, delta, dK/dV, dQ; fp32 and bf16 at
// every head dim, and everything but bf16 at D = 64, 128 on sm_80+) run on the CPU: their
// per-thread bodies, templates over the executor of src/cuda/attention_exec.cuh compiled here by
// the host compiler, are executed by the block emulator of tests/attention_emulator.hpp (one
// fiber per thread: 256 for Bt = 64 tiles, D ≤ 32; 128 for Bt = 32; 256 for delta), the grid and
// the shared-memory sizes exactly as Backend::attention_forward and attention_backward launch them.
//
// Compared with the CPU twin (math/flash_attention.hpp, the kernels' Bt × Bt tiles, same
// precision): out, m, inv, delta, dq, dk, dv for fp32 and bf16, causal at T = 1, 33, 65, 100 (one
// to four tiles, partial last tiles) and without a mask at T = 33, 100, D = 16, 48, 64, 128, B = H = 2; outputs NaN-poisoned first, with a
// sentinel tail after each buffer; shared memory starts NaN. Relative L2 errors, except dq and dk
// at T = 1 (zero but for rounding: absolute RMS).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <mixln/math/flash_attention.hpp>

#include "../src/cuda/attention.cu"
#include "attention_emulator.hpp"
#include "fd.hpp"

using namespace mixln;
using namespace mixln::emu;
namespace simt = mixln::cuda;

namespace {

struct SimtOutputs : Outputs {
  bool delta_tail_intact() const {
    return std::all_of(delta.end() - kTail, delta.end(), [](float x) { return x == kSentinel; });
  }
};

template <int D>
SimtOutputs emulated(const Shape& s, bool bf16, const std::vector<float>& qkv, const std::vector<float>& dout) {
  using Cfg = simt::FlashConfig<D>;
  SimtOutputs o;
  const int B = s.B, T = s.T, H = s.H, C = s.C();
  const float scale = 1.f / std::sqrt(float(D));  // as Backend::attention_forward, attention_backward
  o.out = poisoned(std::size_t(B) * T * C);
  o.stats = poisoned(std::size_t(B) * H * T * 2);
  o.delta = poisoned(std::size_t(B) * H * T);
  o.dqkv = poisoned(std::size_t(B) * T * 3 * C);
  const int gy = (T + Cfg::kTile - 1) / Cfg::kTile;
  o.error = launch(Cfg::kThreads, B * H, gy, Cfg::forward_smem, [&](EmuExec& ex, void* smem) {
    simt::flash_forward<D>(ex, static_cast<float*>(smem), T, H, scale, bf16, s.causal(), qkv.data(), o.stats.data(),
                           o.out.data());
  });
  if (!o.error.empty()) return o;
  const int rows = B * T;
  const long long warps = (long long)rows * H;
  const int delta_blocks = int((warps + simt::kDeltaThreads / 32 - 1) / (simt::kDeltaThreads / 32));
  o.error = launch(simt::kDeltaThreads, delta_blocks, 1, 0, [&](EmuExec& ex, void*) {
    simt::flash_delta(ex, rows, T, H, D, dout.data(), o.out.data(), o.delta.data());
  });
  if (!o.error.empty()) return o;
  o.error = launch(Cfg::kThreads, B * H, gy, Cfg::kv_smem, [&](EmuExec& ex, void* smem) {
    simt::flash_backward_kv<D>(ex, static_cast<float*>(smem), T, H, scale, bf16, s.causal(), qkv.data(), dout.data(),
                               o.stats.data(), o.delta.data(), o.dqkv.data());
  });
  if (!o.error.empty()) return o;
  o.error = launch(Cfg::kThreads, B * H, gy, Cfg::q_smem, [&](EmuExec& ex, void* smem) {
    simt::flash_backward_q<D>(ex, static_cast<float*>(smem), T, H, scale, bf16, s.causal(), qkv.data(), dout.data(),
                              o.stats.data(), o.delta.data(), o.dqkv.data());
  });
  return o;
}

SimtOutputs emulated(const Shape& s, bool bf16, const std::vector<float>& qkv, const std::vector<float>& dout) {
  switch (s.D) {
    case 16: return emulated<16>(s, bf16, qkv, dout);
    case 48: return emulated<48>(s, bf16, qkv, dout);
    case 64: return emulated<64>(s, bf16, qkv, dout);
    default: return emulated<128>(s, bf16, qkv, dout);
  }
}

int tile_of(int D) {
  switch (D) {
    case 16: return simt::FlashConfig<16>::kTile;
    case 48: return simt::FlashConfig<48>::kTile;
    case 64: return simt::FlashConfig<64>::kTile;
    default: return simt::FlashConfig<128>::kTile;
  }
}

template <Precision P>
void check_against_twin(double bound, double& worst) {
  const bool bf16 = P == Precision::bf16;
  for (AttentionMask mask : {AttentionMask::causal, AttentionMask::none})
  for (int D : {16, 48, 64, 128})
    for (int T : {1, 33, 65, 100}) {
      if (mask == AttentionMask::none && (T == 1 || T == 65)) continue;  // keep the run short
      const Shape s{2, T, 2, D, mask};
      INFO("mask: " << attention_mask_name(mask));
      std::mt19937_64 gen(9100 + 37 * T + D + (bf16 ? 1 : 0));
      std::vector<float> qkv, dout;
      for (double x : fd::random_vec(std::size_t(s.B) * T * 3 * s.C(), gen)) qkv.push_back(float(x));
      for (double x : fd::random_vec(std::size_t(s.B) * T * s.C(), gen)) dout.push_back(float(x));
      CAPTURE(bf16);
      CAPTURE(D);
      CAPTURE(T);
      const SimtOutputs e = emulated(s, bf16, qkv, dout);
      REQUIRE_MESSAGE(e.error.empty(), e.error);
      CHECK(e.tails_intact());  // no write past the end (padding rows of the last tile)
      CHECK(e.delta_tail_intact());

      // the CPU twin, tiles as the kernels' (Bt query rows × Bt keys)
      const int C = s.C(), Bt = tile_of(D);
      std::vector<float> out(std::size_t(s.B) * T * C), stats(std::size_t(s.B) * s.H * T * 2),
          delta(std::size_t(s.B) * s.H * T), dqkv(std::size_t(s.B) * T * 3 * C);
      const FlashTiles tiles{Bt, Bt};
      flash_attention_forward<float, P>(mask, s.B, T, s.H, D, qkv.data(), stats.data(), out.data(), tiles);
      flash_attention_backward<float, P>(mask, s.B, T, s.H, D, qkv.data(), out.data(), stats.data(), dout.data(),
                                         delta.data(), dqkv.data(), tiles);
      Errors vs_twin = errors(s, e.out, e.stats, e.dqkv, as_ref(out, stats, dqkv));
      if (T == 1) {
        // one key: P = 1 and dS = dP − delta, zero but for rounding (dO·v − dO·O, O = v): dq and dk
        // are noise of ~1e-8 on both sides, so their absolute RMS difference is what is bounded
        auto abs_rms = [&](std::size_t which) {
          double num = 0, n = 0;
          for (std::size_t i = 0; i < dqkv.size(); ++i)
            if ((i % (3 * std::size_t(C))) / std::size_t(C) == which) {
              const double d = double(e.dqkv[i]) - double(dqkv[i]);
              num += d * d;
              n += 1;
            }
          return std::sqrt(num / n);
        };
        vs_twin.dq = abs_rms(0);
        vs_twin.dk = abs_rms(1);
      }
      const double delta_err =
          rel_l2(e.delta, std::vector<double>(delta.begin(), delta.end()), [](std::size_t) { return true; });
      INFO("emulated vs twin: " << describe(vs_twin) << ", delta " << delta_err);
      CHECK(vs_twin.worst() <= bound);
      CHECK(delta_err <= bound);
      worst = std::max({worst, vs_twin.worst(), delta_err});
    }
}

}  // namespace

TEST_CASE("SIMT attention (attention.cu), emulated, fp32: out, m, inv, delta, dq, dk, dv against the CPU twin") {
  double worst = 0;
  check_against_twin<Precision::fp32>(1e-5, worst);
  MESSAGE("fp32: worst relative L2 error, emulated vs twin " << worst);
}

TEST_CASE("SIMT attention (attention.cu), emulated, bf16: out, m, inv, delta, dq, dk, dv against the CPU twin") {
  double worst = 0;
  check_against_twin<Precision::bf16>(3e-4, worst);
  MESSAGE("bf16: worst relative L2 error, emulated vs twin " << worst);
}
