// Activations stored in bf16 under --precision bf16 (act_ptr.hpp): which slots the plan makes
// bf16, what each op does at its rounding points, and the numerics gates the study relies on.
//
// Rounding points, checked exactly on the emulated bf16 path (its GEMMs are sgemm over values
// that are bf16 already, so the reference is the fp32-storage op on the widened tensors, rounded
// where the op stores bf16) and within GEMM tolerance on the native path: a bf16 input is read as
// it is; an output is rounded once from fp32 (GEMM accumulators, SwiGLU, RoPE, the loss gradient);
// attention accumulates dK and dV in fp32 and rounds them once.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <mixln/analysis/grad_norms.hpp>
#include <mixln/schedule/traffic.hpp>
#include <mixln/mixln.hpp>

#include "configs.hpp"

using namespace mixln;
using Cpu = cpu::Backend<float>;

namespace {

// Forces the emulated bf16 engine while alive (the exact references).
struct Emulated {
  bool saved = cpu::bf16_force_emulation();
  Emulated() { cpu::bf16_force_emulation() = true; }
  ~Emulated() { cpu::bf16_force_emulation() = saved; }
};

std::vector<float> randn(std::size_t n, unsigned seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(g);
  return x;
}
std::vector<bf16_t> to_bf16(const std::vector<float>& x) {
  std::vector<bf16_t> o(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) o[i] = from_float<bf16_t>(x[i]);
  return o;
}
std::vector<float> widen(const std::vector<bf16_t>& x) {
  std::vector<float> o(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) o[i] = to_float(x[i]);
  return o;
}
// Number of elements whose bits differ between b and round(f).
std::size_t differ(const std::vector<bf16_t>& b, const std::vector<float>& f) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < b.size(); ++i) n += b[i].bits != float_to_bf16(f[i]);
  return n;
}
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / std::max(den, 1e-300));
}

std::size_t bf16_slot_count(const ActivationPlan& p) {
  return std::size_t(std::count_if(p.slots.begin(), p.slots.end(), [](auto& s) { return s.type == SlotType::bf16; }));
}

}  // namespace

TEST_CASE("plan: under bf16 the GEMM-operand activations and the logits are bf16, nothing else") {
  using Net = examples::small::mixln;
  const ActivationPlan f = Engine<Net, Cpu>::plan(8, 256, Precision::fp32);
  const ActivationPlan b = Engine<Net, Cpu>::plan(8, 256, Precision::bf16);
  CHECK(bf16_slot_count(f) == 0);
  CHECK(bf16_slot_count(Engine<Net, cpu::Backend<double>>::plan(8, 256)) == 0);
  REQUIRE(b.slots.size() == f.slots.size() + 2);  // and the loss's fp32 chunk, the head's bf16 weight
  for (std::size_t i = 0, j = 0; i < b.slots.size(); ++i) {
    const auto& s = b.slots[i];
    INFO(s.name);
    if (s.name == "head.logits_chunk") {
      CHECK((s.type == SlotType::scalar && s.backward && s.bytes() <= (std::size_t(4) << 20)));
      continue;
    }
    if (s.name == "head.weight_bf16") {
      CHECK((s.type == SlotType::bf16 && !s.backward && s.count == 4096 * 256));
      continue;
    }
    const auto& fs = f.slots[j++];
    REQUIRE(fs.name == s.name);
    const bool gemm = s.name.ends_with(".qkv") || s.name.ends_with(".attn_out") || s.name.ends_with(".gate_up") ||
                      s.name.ends_with(".swiglu") || s.name == "logits";
    CHECK((s.type == SlotType::bf16) == gemm);
    CHECK(s.offset % 64 == 0);
    if (s.name == "grad.branch_scratch")  // the branches' scratch, bf16 where they declare it
      CHECK(s.bytes() < fs.bytes());
    else
      CHECK(s.bytes() == (gemm ? fs.bytes() / 2 : fs.bytes()));
  }
  // 8 layers: qkv, attn_out, gate_up, swiglu each, the logits and the head's weight
  CHECK(bf16_slot_count(b) == 8 * 4 + 2);
  // The goal of the bf16 plan (`info --precision bf16` prints the same numbers): at most 0.65x
  // of fp32's activations kept for backward. Measured 185.2 / 295.7 MiB = 0.63.
  const double ratio = double(b.forward_bytes()) / double(f.forward_bytes());
  MESSAGE("small_mixln B8 T256 activations kept for backward: fp32 " << format_bytes(double(f.forward_bytes()))
          << ", bf16 " << format_bytes(double(b.forward_bytes())) << " (" << ratio << "x)");
  CHECK(ratio <= 0.65);
  CHECK(b.bytes() < f.bytes());
}

TEST_CASE("plan: an attention norm keeps q/k/v in the scalar (its norms read them), the rest bf16") {
  using Net = examples::tiny::qknorm_mixln;
  const ActivationPlan b = Engine<Net, Cpu>::plan(2, 32, Precision::bf16);
  for (const auto& s : b.slots) {
    INFO(s.name);
    if (s.name.ends_with(".qkv") || s.name.ends_with(".qkv_proj")) CHECK(s.type == SlotType::scalar);
    if (s.name.ends_with(".attn_out") || s.name.ends_with(".gate_up")) CHECK(s.type == SlotType::bf16);
  }
}

TEST_CASE("swiglu on bf16 tensors: fp32 arithmetic on the stored values, each result rounded once") {
  const int rows = 5, I = 37;
  const auto gu = to_bf16(randn(std::size_t(rows) * 2 * I, 1)), da = to_bf16(randn(std::size_t(rows) * I, 2));
  std::vector<bf16_t> act(std::size_t(rows) * I), dgu(gu.size());
  Cpu::swiglu_forward(rows, I, gu.data(), act.data());
  Cpu::swiglu_backward(rows, I, gu.data(), da.data(), dgu.data());
  const std::vector<float> guf = widen(gu), daf = widen(da);
  std::vector<float> actf(act.size()), dguf(dgu.size());
  Cpu::swiglu_forward(rows, I, guf.data(), actf.data());
  Cpu::swiglu_backward(rows, I, guf.data(), daf.data(), dguf.data());
  CHECK(differ(act, actf) == 0);
  CHECK(differ(dgu, dguf) == 0);
}

TEST_CASE("rope on a bf16 qkv: each head rotated in fp32 and rounded once, forward and backward") {
  const int B = 2, T = 7, H = 3, D = 16, C = H * D;
  std::vector<float> cs(std::size_t(T) * D / 2), sn(cs.size());
  Cpu::rope_tables(T, D, cs.data(), sn.data());
  for (bool backward : {false, true}) {
    auto q16 = to_bf16(randn(std::size_t(B) * T * 3 * C, 3));
    std::vector<float> qf = widen(q16);
    Cpu::rope(backward, B, T, H, D, q16.data(), cs.data(), sn.data());
    Cpu::rope(backward, B, T, H, D, qf.data(), cs.data(), sn.data());
    CHECK(differ(q16, qf) == 0);
  }
}

TEST_CASE("cross-entropy into bf16: the loss of fp32 logits, the gradient (or the logits) rounded once") {
  const int rows = 6, V = 101;
  const std::vector<float> z = randn(std::size_t(rows) * V, 4, 3.f);
  std::vector<std::int32_t> labels = {3, 100, -100, 0, 57, 9};
  for (bool grad : {false, true}) {
    std::vector<float> zf = z, loss16(rows), lossf(rows);
    std::vector<bf16_t> out(z.size());
    double sum16 = 0, sumf = 0;
    Cpu::cross_entropy(rows, V, z.data(), labels.data(), 5, grad, out.data(), loss16.data(), &sum16);
    Cpu::cross_entropy(rows, V, zf.data(), labels.data(), 5, grad, zf.data(), lossf.data(), &sumf);  // in place
    CHECK(sum16 == sumf);
    CHECK(loss16 == lossf);
    CHECK(differ(out, zf) == 0);  // the gradient, or (without grad) the logits
  }
  // bf16 logits in place: read widened, the loss of the stored values
  auto z16 = to_bf16(z);
  std::vector<float> zw = widen(z16), l16(rows), lw(rows);
  double s16 = 0, sw = 0;
  Cpu::cross_entropy(rows, V, z16.data(), labels.data(), 5, true, z16.data(), l16.data(), &s16);
  Cpu::cross_entropy(rows, V, zw.data(), labels.data(), 5, true, zw.data(), lw.data(), &sw);
  CHECK(s16 == sw);
  CHECK(differ(z16, zw) == 0);
}

TEST_CASE("bf16 logits: the step's loss is computed from fp32 logits, a chunk of rows at a time") {
  using Net = examples::tiny::mixln;
  const int B = 3, T = 50;  // 150 rows
  const ActivationPlan p = Engine<Net, Cpu>::plan(B, T, Precision::bf16);
  ArenaSlots<Net> sl;
  plan_activations<Net>(B, T, Engine<Net, Cpu>::arena_types(Precision::bf16), &sl);
  REQUIRE(sl.head_chunk >= 0);
  CHECK(p.slots[std::size_t(sl.head_chunk)].backward);
  CHECK(p.slots[std::size_t(sl.logits)].type == SlotType::bf16);
  // The loss of a forward-only bf16 step equals the fp32 cross-entropy of the logits the same
  // head GEMM gives in fp32 storage: fp32 logits, not rounded ones.
  Engine<Net, Cpu> e(Precision::bf16);
  init_params(e.layout(), Net::num_layers, e.params(), {.seed = 4, .std = 0.5});
  std::vector<std::int32_t> tok(std::size_t(B) * T), lab(tok.size());
  for (std::size_t i = 0; i < tok.size(); ++i) tok[i] = std::int32_t(i * 7 % 512), lab[i] = std::int32_t(i * 13 % 512);
  const double loss = e.step(tok.data(), lab.data(), B, T, false).loss_sum;
  std::vector<float> logits(tok.size() * 512);
  e.copy_logits(logits.data());  // bf16-rounded
  double rounded = 0;
  std::vector<float> rl(tok.size());
  Cpu::cross_entropy(B * T, 512, logits.data(), lab.data(), 1, false, logits.data(), rl.data(), &rounded);
  MESSAGE("loss sum from fp32 logits " << loss << ", from the same logits rounded to bf16 " << rounded);
  CHECK(loss != rounded);
  CHECK(std::abs(loss - rounded) / loss < 1e-2);
}

TEST_CASE("linear ops with bf16 activations: inputs read as stored, outputs rounded from fp32") {
  const int M = 19, N = 24, K = 40;
  const std::vector<float> W = randn(std::size_t(N) * K, 5, 0.2f);
  const auto x16 = to_bf16(randn(std::size_t(M) * K, 6)), dy16 = to_bf16(randn(std::size_t(M) * N, 7));
  const std::vector<float> xf = widen(x16), dyf = widen(dy16);
  auto run = [&](double tol) {
    std::vector<bf16_t> y16(std::size_t(M) * N), dx16(std::size_t(M) * K);
    std::vector<float> yf(y16.size()), dxf(dx16.size()), dW16(W.size(), 0.5f), dWf(W.size(), 0.5f);
    Cpu::linear_forward(Precision::bf16, M, N, K, x16.data(), W.data(), y16.data());
    Cpu::linear_forward(Precision::bf16, M, N, K, xf.data(), W.data(), yf.data());
    Cpu::linear_backward(Precision::bf16, M, N, K, dy16.data(), x16.data(), W.data(), dx16.data(), dW16.data());
    Cpu::linear_backward(Precision::bf16, M, N, K, dyf.data(), xf.data(), W.data(), dxf.data(), dWf.data());
    if (tol == 0) {
      CHECK(differ(y16, yf) == 0);
      CHECK(differ(dx16, dxf) == 0);
      CHECK(dW16 == dWf);
    } else {
      CHECK(rel_err(widen(y16), yf) <= tol);
      CHECK(rel_err(widen(dx16), dxf) <= tol);
      CHECK(rel_err(dW16, dWf) <= 1e-6);
    }
  };
  {
    Emulated e;
    run(0);
  }
  if (cpu::bf16_gemm_native()) run(1e-2);  // bf16 outputs: within one rounding of each other
}

TEST_CASE("attention with bf16 q/k/v and outputs: the fp32-storage attention, rounded where it stores") {
  const int B = 2, T = 70, H = 2, D = 16, C = H * D;  // T: one full query block and a partial one
  const auto qkv16 = to_bf16(randn(std::size_t(B) * T * 3 * C, 8));
  const auto dout16 = to_bf16(randn(std::size_t(B) * T * C, 9));
  const std::vector<float> qkvf = widen(qkv16), doutf = widen(dout16);
  auto run = [&](AttentionMask mask, double tol) {
    INFO("mask " << attention_mask_name(mask));
    std::vector<bf16_t> out16(std::size_t(B) * T * C), dqkv16(qkv16.size());
    std::vector<float> outf(out16.size()), dqkvf(qkv16.size()), st16(std::size_t(B) * H * T * 2), stf(st16.size()),
        delta(std::size_t(B) * H * T);
    Cpu::attention_forward(Precision::bf16, mask, B, T, H, D, qkv16.data(), st16.data(), out16.data());
    Cpu::attention_forward(Precision::bf16, mask, B, T, H, D, qkvf.data(), stf.data(), outf.data());
    CHECK(st16 == stf);
    Cpu::attention_backward(Precision::bf16, mask, B, T, H, D, qkv16.data(), out16.data(), st16.data(), dout16.data(),
                            delta.data(), dqkv16.data());
    Cpu::attention_backward(Precision::bf16, mask, B, T, H, D, qkvf.data(), outf.data(), stf.data(), doutf.data(),
                            delta.data(), dqkvf.data());
    if (tol == 0) {
      CHECK(differ(out16, outf) == 0);
      CHECK(differ(dqkv16, dqkvf) == 0);
    } else {
      CHECK(rel_err(widen(out16), outf) <= tol);
      CHECK(rel_err(widen(dqkv16), dqkvf) <= tol);
    }
  };
  for (AttentionMask mask : {AttentionMask::causal, AttentionMask::none}) {
    {
      Emulated e;
      run(mask, 0);
    }
    if (cpu::bf16_gemm_native()) run(mask, 1e-2);
  }
}

namespace {

std::vector<std::int32_t> tokens(std::size_t n, unsigned seed, int V) {
  std::mt19937 g(seed);
  std::vector<std::int32_t> t(n);
  for (auto& v : t) v = std::int32_t(g() % unsigned(V));
  return t;
}

template <class Net>
struct Step {
  double loss;
  std::vector<float> grads;
};
template <class Net>
Step<Net> one_step(Precision p, int B, int T, bool poison, unsigned seed = 11) {
  Engine<Net, Cpu> e(p);
  init_params(e.layout(), Net::num_layers, e.params(), {.seed = seed});
  const auto tok = tokens(std::size_t(B) * T, seed + 1, int(Net::config::vocab_size));
  const auto lab = tokens(std::size_t(B) * T, seed + 2, int(Net::config::vocab_size));
  if (poison) e.fill_arena(B, T, std::numeric_limits<float>::quiet_NaN());
  e.zero_grad();
  const double loss = e.step(tok.data(), lab.data(), B, T, true).mean();
  return {loss, std::vector<float>(e.grads().begin(), e.grads().end())};
}

}  // namespace

TEST_CASE("a bf16 step on an arena filled with NaN gives the same bits: every bf16 slot is written first") {
  auto check = [&]<class Net>(Net*) {
    const std::string model = std::string(Net::placement_names[0]) + " " + Net::block_names[0];
    INFO(model);
    const auto a = one_step<Net>(Precision::bf16, 2, 40, false), b = one_step<Net>(Precision::bf16, 2, 40, true);
    CHECK(std::isfinite(a.loss));
    CHECK(a.loss == b.loss);
    CHECK(a.grads == b.grads);
  };
  check((examples::tiny::mixln*)nullptr);
  check((examples::tiny::sandwich*)nullptr);
  check((examples::tiny::qknorm_mixln*)nullptr);
  check((examples::tiny::gelu_mixln*)nullptr);
}

// The study's quantities must not move with the precision: each layer's gradient norm at the
// first step, bf16 against fp32, within 2% for Pre-LN, Post-LN and Mix-LN (small, 8 layers, a
// batch of 4 x 128 random tokens).
TEST_CASE("numerics gate: per-layer gradient norms at step 1, bf16 within 2% of fp32") {
  auto check = [&]<class Net>(Net*) {
    const auto f = one_step<Net>(Precision::fp32, 4, 128, false), b = one_step<Net>(Precision::bf16, 4, 128, false);
    const ParamLayout lay = make_param_layout<Net>();
    const auto nf = layer_grad_norms<float>(lay, Net::num_layers, f.grads),
               nb = layer_grad_norms<float>(lay, Net::num_layers, b.grads);
    double worst = 0;
    for (int l = 0; l < Net::num_layers; ++l) worst = std::max(worst, std::abs(nb[std::size_t(l)] / nf[std::size_t(l)] - 1));
    const std::string line = std::string(Net::placement_names[Net::num_layers - 1]) + " (layer 0: " +
                             Net::placement_names[0] + "): largest per-layer gradient-norm change " +
                             std::to_string(worst);
    MESSAGE(line);
    CHECK(worst <= 0.02);
    CHECK(std::abs(b.loss / f.loss - 1) <= 1e-3);
  };
  check((examples::small::preln*)nullptr);
  check((examples::small::postln*)nullptr);
  check((examples::small::mixln*)nullptr);
}

// The model of the bytes a step moves outside the GEMMs (schedule/traffic.hpp, what `info`
// prints), pinned for small_mixln at batch 8 x 256: a change that moves more bytes — a slot back
// in fp32, one more conversion — changes these numbers without a GPU to measure it.
TEST_CASE("traffic model: small_mixln's non-GEMM bytes per micro-step, pinned") {
  using Net = examples::small::mixln;
  const Traffic cpu32 = non_gemm_traffic<Net>(8, 256, Precision::fp32, TrafficDevice::cpu, true);
  const Traffic cpu16 = non_gemm_traffic<Net>(8, 256, Precision::bf16, TrafficDevice::cpu, true);
  const Traffic cuda16 = non_gemm_traffic<Net>(8, 256, Precision::bf16, TrafficDevice::cuda, false);
  for (const Traffic* t : {&cpu32, &cpu16, &cuda16}) {
    std::string line;
    for (auto& [cls, b] : t->bytes) line += cls + " " + std::to_string(std::int64_t(b)) + "; ";
    line += "total " + std::to_string(std::int64_t(t->total()));
    MESSAGE(line);
  }
  CHECK(cpu32.bytes.at("bf16 copies of GEMM inputs") == 0);
  CHECK(cpu16.total() < cpu32.total());
  // bf16 storage halves what SwiGLU and RoPE move, exactly
  CHECK(cpu16.bytes.at("swiglu") * 2 == cpu32.bytes.at("swiglu"));
  CHECK(cpu16.bytes.at("rope") * 2 == cpu32.bytes.at("rope"));
  CHECK(cpu16.bytes.at("boundaries") == cpu32.bytes.at("boundaries"));  // the stream stays fp32
  CHECK(std::int64_t(cpu32.total()) == 1387340800);
  CHECK(std::int64_t(cpu16.total()) == 1261904896);
  CHECK(std::int64_t(cuda16.total()) == 2391221248);
  CHECK(std::int64_t(cuda16.bytes.at("bf16 copies of GEMM inputs")) == 1003880448);
}
