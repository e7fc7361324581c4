// tests/attention_emulator.hpp — the fused-attention kernel bodies (src/cuda/attention.cu's SIMT
// kernels, src/cuda/attention_mma.cuh's tensor-core kernels: templates over the executor of
// src/cuda/attention_exec.cuh) run on the CPU. An emulator of one thread block — one fiber
// (ucontext) per thread, up to 256, stepped in lock-step from one block primitive to the next:
//   sync()          a fiber waits until every thread of the block waits there (an exited thread or
//                   a warp waiting at a warp primitive instead is reported as an error, not hung);
//   sync_warp()     a lane waits until its 32 lanes all wait at a __syncwarp;
//   shfl_xor(v, m)  a lane waits until its 32 lanes all wait at a shuffle with the same mask, then
//                   each gets the value of lane ^ m;
//   mma(d, a, b)    a lane waits until its 32 lanes all wait at an mma; the 16×16 A, 16×8 B and
//                   16×8 C matrices are gathered from the 32 lanes' registers by the fragment
//                   layout of the PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point
//                   type", the table in attention_mma.cuh), D = A·B + C is computed (exact bf16
//                   products, summed in double, rounded to fp32 once: the hardware's internal
//                   order is unspecified, so this is as good a model as any), and scattered back.
// Blocks run one after another, the last ones first (so that a stray write of one block into a
// row another owns would be overwritten the wrong way round, and show). Shared memory starts as
// all-ones bytes (NaN as bf16 and as float), so a read of an element never staged brings a NaN
// into the results. Also: NaN-poisoned output buffers with a sentinel tail, and the relative L2
// errors the tests compare with. Used by tests/test_attention_mma.cpp and test_attention_simt.cpp.
#pragma once

#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <mixln/math/flash_attention.hpp>

#include "attention_reference.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define MIXLN_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MIXLN_EMU_ASAN 1
#endif
#endif
#if defined(MIXLN_EMU_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace mixln::emu {

// --- the block emulator -----------------------------------------------------------------------

// AddressSanitizer must be told when the stack changes (no-ops without it).
inline void fiber_leave(void** fake, const void* to_bottom, std::size_t to_size) {
#if defined(MIXLN_EMU_ASAN)
  __sanitizer_start_switch_fiber(fake, to_bottom, to_size);
#else
  (void)fake, (void)to_bottom, (void)to_size;
#endif
}
inline void fiber_arrive(void* fake, const void** from_bottom, std::size_t* from_size) {
#if defined(MIXLN_EMU_ASAN)
  __sanitizer_finish_switch_fiber(fake, from_bottom, from_size);
#else
  (void)fake, (void)from_bottom, (void)from_size;
#endif
}

class BlockEmulator;

// The executor the kernel bodies see (attention_exec.cuh's interface).
struct EmuExec {
  BlockEmulator* blk;
  int tid;
  int thread() const { return tid; }
  int block_x() const;
  int block_y() const;
  int grid_y() const;
  void sync();
  void sync_warp();
  float shfl_xor(float v, int mask);
  void mma(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]);
};

class BlockEmulator {
 public:
  static constexpr int kMaxThreads = 256;
  static constexpr std::size_t kStack = 256 * 1024;

  enum class Wait { run, barrier, warp_sync, shfl, mma, done };
  struct Lane {
    ucontext_t ctx;
    Wait wait = Wait::run;
    float shfl_in = 0, shfl_out = 0;
    int shfl_mask = 0;
    float* d = nullptr;
    const std::uint32_t* a = nullptr;
    const std::uint32_t* b = nullptr;
  };

  BlockEmulator() : stacks_(kStack * kMaxThreads), lanes_(kMaxThreads) {}

  // Runs block (bx, by) of a grid with gridDim.y = gy: body(EmuExec&, void* smem) on each of the
  // `threads` threads (a multiple of 32, at most kMaxThreads). Returns "" or what went wrong.
  template <class Body>
  std::string run(int threads, int bx, int by, int gy, std::size_t smem_bytes, Body& body) {
    if (threads <= 0 || threads % 32 != 0 || threads > kMaxThreads)
      return "block of " + std::to_string(threads) + " threads: not emulated";
    kThreads = threads;
    bx_ = bx, by_ = by, gy_ = gy;
    smem_.assign(smem_bytes / sizeof(double) + 1, 0.0);
    std::memset(smem_.data(), 0xff, smem_.size() * sizeof(double));  // NaN, as bf16 and as float
    body_ = &body;
    invoke_ = [](void* f, EmuExec& ex, void* smem) { (*static_cast<Body*>(f))(ex, smem); };
    error_.clear();
    for (int t = 0; t < kThreads; ++t) {
      Lane& L = lanes_[std::size_t(t)];
      L = Lane{};
      getcontext(&L.ctx);
      L.ctx.uc_stack.ss_sp = stack(t);
      L.ctx.uc_stack.ss_size = kStack;
      L.ctx.uc_link = nullptr;
      makecontext(&L.ctx, &BlockEmulator::entry, 0);
    }
    for (;;) {
      for (int t = 0; t < kThreads; ++t)
        if (lanes_[std::size_t(t)].wait == Wait::run) resume(t);
      // every thread now waits at a primitive or has finished
      int done = 0, barrier = 0;
      for (int t = 0; t < kThreads; ++t) {
        const Lane& L = lanes_[std::size_t(t)];
        done += L.wait == Wait::done, barrier += L.wait == Wait::barrier;
      }
      if (done == kThreads) return error_;
      bool released = false;
      for (int w = 0; w < kThreads / 32; ++w) {
        Lane* L = &lanes_[std::size_t(32 * w)];
        bool same = true, warp_op = false;
        for (int i = 0; i < 32; ++i) {
          same &= L[i].wait == L[0].wait;
          warp_op |= L[i].wait == Wait::shfl || L[i].wait == Wait::mma || L[i].wait == Wait::warp_sync;
        }
        if (warp_op && !same) return fail("warp " + std::to_string(w) + ": its lanes wait at different primitives");
        if (!same) continue;
        if (L[0].wait == Wait::shfl) {
          for (int i = 0; i < 32; ++i)
            if (L[i].shfl_mask != L[0].shfl_mask) return fail("warp " + std::to_string(w) + ": shuffle masks differ");
          for (int i = 0; i < 32; ++i) L[i].shfl_out = L[i ^ L[0].shfl_mask].shfl_in;
        } else if (L[0].wait == Wait::mma) {
          emulate_mma(L);
        } else if (L[0].wait == Wait::warp_sync) {
          // the 32 lanes all wait at __syncwarp: released together
        } else {
          continue;
        }
        for (int i = 0; i < 32; ++i) L[i].wait = Wait::run;
        released = true;
      }
      if (released) continue;
      if (barrier > 0 && barrier + done == kThreads) {
        if (done > 0) return fail("__syncthreads reached by " + std::to_string(barrier) + " threads, " +
                                  std::to_string(done) + " have exited");
        for (int t = 0; t < kThreads; ++t) lanes_[std::size_t(t)].wait = Wait::run;
        continue;
      }
      return fail("deadlock");
    }
  }

  int kThreads = 0;  // of the block being run
  int bx_ = 0, by_ = 0, gy_ = 1;

  void yield(int t, Wait w) {
    Lane& L = lanes_[std::size_t(t)];
    L.wait = w;
    void* fake = nullptr;
    fiber_leave(&fake, sched_bottom_, sched_size_);
    swapcontext(&L.ctx, &sched_);
    fiber_arrive(fake, &sched_bottom_, &sched_size_);
  }
  Lane& lane(int t) { return lanes_[std::size_t(t)]; }

 private:
  static inline BlockEmulator* current_ = nullptr;

  char* stack(int t) { return stacks_.data() + std::size_t(t) * kStack; }

  void resume(int t) {
    current_ = this;
    running_ = t;
    void* fake = nullptr;
    fiber_leave(&fake, stack(t), kStack);
    swapcontext(&sched_, &lanes_[std::size_t(t)].ctx);
    fiber_arrive(fake, nullptr, nullptr);
  }

  static void entry() {
    BlockEmulator* self = current_;
    const int t = self->running_;
    fiber_arrive(nullptr, &self->sched_bottom_, &self->sched_size_);
    EmuExec ex{self, t};
    self->invoke_(self->body_, ex, self->smem_.data());
    Lane& L = self->lanes_[std::size_t(t)];
    L.wait = Wait::done;
    fiber_leave(nullptr, self->sched_bottom_, self->sched_size_);
    swapcontext(&L.ctx, &self->sched_);  // never resumed
  }

  std::string fail(const std::string& what) {
    error_ = "block (" + std::to_string(bx_) + ", " + std::to_string(by_) + "): " + what;
    return error_;
  }

  // One m16n8k16 .row.col bf16 → f32 mma of a warp: gather, multiply, scatter (the layout of the
  // PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type").
  static void emulate_mma(Lane* L) {
    float A[16][16], B[16][8], Cm[16][8];
    auto lo = [](std::uint32_t v) { return bf16_to_float(std::uint16_t(v & 0xffffu)); };
    auto hi = [](std::uint32_t v) { return bf16_to_float(std::uint16_t(v >> 16)); };
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, c = lane & 3;
      const std::uint32_t* a = L[lane].a;
      const std::uint32_t* b = L[lane].b;
      const float* d = L[lane].d;
      A[g][2 * c] = lo(a[0]), A[g][2 * c + 1] = hi(a[0]);
      A[g + 8][2 * c] = lo(a[1]), A[g + 8][2 * c + 1] = hi(a[1]);
      A[g][2 * c + 8] = lo(a[2]), A[g][2 * c + 9] = hi(a[2]);
      A[g + 8][2 * c + 8] = lo(a[3]), A[g + 8][2 * c + 9] = hi(a[3]);
      B[2 * c][g] = lo(b[0]), B[2 * c + 1][g] = hi(b[0]);
      B[2 * c + 8][g] = lo(b[1]), B[2 * c + 9][g] = hi(b[1]);
      Cm[g][2 * c] = d[0], Cm[g][2 * c + 1] = d[1];
      Cm[g + 8][2 * c] = d[2], Cm[g + 8][2 * c + 1] = d[3];
    }
    float Dm[16][8];
    for (int r = 0; r < 16; ++r)
      for (int n = 0; n < 8; ++n) {
        double acc = Cm[r][n];
        for (int k = 0; k < 16; ++k) acc += double(A[r][k]) * double(B[k][n]);
        Dm[r][n] = float(acc);
      }
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, c = lane & 3;
      float* d = L[lane].d;
      d[0] = Dm[g][2 * c], d[1] = Dm[g][2 * c + 1];
      d[2] = Dm[g + 8][2 * c], d[3] = Dm[g + 8][2 * c + 1];
    }
  }

  std::vector<char> stacks_;
  std::vector<Lane> lanes_;
  std::vector<double> smem_;
  ucontext_t sched_{};
  const void* sched_bottom_ = nullptr;
  std::size_t sched_size_ = 0;
  int running_ = 0;
  void* body_ = nullptr;
  void (*invoke_)(void*, EmuExec&, void*) = nullptr;
  std::string error_;
};

inline int EmuExec::block_x() const { return blk->bx_; }
inline int EmuExec::block_y() const { return blk->by_; }
inline int EmuExec::grid_y() const { return blk->gy_; }
inline void EmuExec::sync() { blk->yield(tid, BlockEmulator::Wait::barrier); }
inline void EmuExec::sync_warp() { blk->yield(tid, BlockEmulator::Wait::warp_sync); }
inline float EmuExec::shfl_xor(float v, int mask) {
  BlockEmulator::Lane& L = blk->lane(tid);
  L.shfl_in = v;
  L.shfl_mask = mask;
  blk->yield(tid, BlockEmulator::Wait::shfl);
  return L.shfl_out;
}
inline void EmuExec::mma(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
  BlockEmulator::Lane& L = blk->lane(tid);
  L.d = d;
  L.a = a;
  L.b = b;
  blk->yield(tid, BlockEmulator::Wait::mma);
}

// A grid of (gx, gy) blocks of `threads` threads, the last first. Returns "" or the first error.
template <class Body>
std::string launch(int threads, int gx, int gy, std::size_t smem_bytes, Body body) {
  static BlockEmulator emu;  // 64 MiB of fiber stacks, kept
  for (int bx = gx - 1; bx >= 0; --bx)
    for (int by = gy - 1; by >= 0; --by) {
      const std::string e = emu.run(threads, bx, by, gy, smem_bytes, body);
      if (!e.empty()) return e;
    }
  return "";
}

// --- buffers and errors -----------------------------------------------------------------------

using attention_test::Shape;

constexpr float kSentinel = 12345.f;
constexpr std::size_t kTail = 1024;  // sentinel floats after each output buffer

struct Outputs {
  std::vector<float> out, stats, delta, dqkv;
  std::string error;
  bool tails_intact() const {
    auto ok = [](const std::vector<float>& v) {
      return std::all_of(v.end() - kTail, v.end(), [](float x) { return x == kSentinel; });
    };
    return ok(out) && ok(stats) && ok(dqkv);
  }
};

inline std::vector<float> poisoned(std::size_t n) {
  std::vector<float> v(n + kTail, std::numeric_limits<float>::quiet_NaN());
  std::fill(v.end() - kTail, v.end(), kSentinel);
  return v;
}

using attention_test::Ref;
using attention_test::rel_l2;

struct Errors {
  double out, m, inv, dq, dk, dv;
  double worst() const { return std::max({out, m, inv, dq, dk, dv}); }
};

inline std::string describe(const Errors& e) {
  std::ostringstream o;
  o << "out " << e.out << ", m " << e.m << ", inv " << e.inv << ", dq " << e.dq << ", dk " << e.dk << ", dv " << e.dv;
  return o.str();
}

template <class A>
Errors errors(const Shape& s, const std::vector<A>& out, const std::vector<A>& stats, const std::vector<A>& dqkv,
              const Ref& r) {
  const std::size_t C = std::size_t(s.C());
  std::vector<double> m(r.m.size()), inv(r.inv.size());
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = stats[2 * i], inv[i] = stats[2 * i + 1];
  auto all = [](std::size_t) { return true; };
  auto third = [&](std::size_t which) { return [=](std::size_t i) { return (i % (3 * C)) / C == which; }; };
  return {rel_l2(out, r.out, all),           rel_l2(m, r.m, all),
          rel_l2(inv, r.inv, all),           rel_l2(dqkv, r.dqkv, third(0)),
          rel_l2(dqkv, r.dqkv, third(1)),    rel_l2(dqkv, r.dqkv, third(2))};
}

// The twin's results as a double reference (same element order).
inline Ref as_ref(const std::vector<float>& out, const std::vector<float>& stats, const std::vector<float>& dqkv) {
  Ref r;
  r.out.assign(out.begin(), out.end());
  for (std::size_t i = 0; i < stats.size() / 2; ++i) r.m.push_back(stats[2 * i]), r.inv.push_back(stats[2 * i + 1]);
  r.dqkv.assign(dqkv.begin(), dqkv.end());
  return r;
}

}  // namespace mixln::emu
