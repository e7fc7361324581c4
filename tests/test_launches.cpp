// The launch structure of a training step, on the recording backend (tests/recording_backend.hpp):
// no GPU needed. What a CUDA graph replay relies on and what keeps launch counts low:
//   1. a micro-step never reads the host or waits for the device;
//   2. a micro-step launches at most 30 ops per layer plus a constant (embedding, head, loss);
//   3. with graphs off, every micro-step of a shape issues the same launches with the same
//      arguments (buffers, sizes, scales), step after step and micro-batch after micro-batch;
//   4. the optimizer step: one sum_squares, one clip_to_norm, one adam_update, and the one host
//      read of the step (read_step_scalars);
//   5. with graphs on: the first micro-step of a shape runs eagerly, the second is captured (the
//      same calls as the eager one), then staged and launched; later ones restage their tokens
//      (on CUDA: into pinned memory, then a copy on the stream, outside the graph) and
//      launch the graph, nothing else; a micro-step after memory was freed captures again.
// For the tiny Mix-LN trainer's model and a llama71m-shaped Mix-LN model (examples/configs.hpp),
// with the trainer's sequence of calls per optimizer step (train/trainer.hpp, train_step).
#include <doctest/doctest.h>

#include <map>
#include <ratio>
#include <sstream>
#include <string>
#include <vector>

#include <mixln/mixln.hpp>

#include "configs.hpp"
#include "recording_backend.hpp"

using namespace mixln;
using testing::RecordingBackend;
using testing::rec::Call;
using testing::rec::Kind;
namespace rec = testing::rec;

namespace {

using Rec = RecordingBackend;
using Calls = std::vector<Call>;

constexpr int kLaunchesPerLayer = 30;
constexpr int kLaunchesOutsideLayers = 16;  // embedding, boundary 0, head, loss, staging, memsets

struct Seg {
  std::size_t b = 0, e = 0;
};
Calls slice(Seg s) {
  const Calls& log = rec::state().log;
  return Calls(log.begin() + std::ptrdiff_t(s.b), log.begin() + std::ptrdiff_t(s.e));
}
// What the device runs for these calls: each graph launch replaced by the calls it captured.
Calls executed(const Calls& c) {
  Calls out;
  for (const Call& x : c) {
    if (x.kind == Kind::graph) {
      const Calls& g = Rec::graph(reinterpret_cast<void*>(std::uintptr_t(x.args.at(0).v))).calls;
      out.insert(out.end(), g.begin(), g.end());
    } else {
      out.push_back(x);
    }
  }
  return out;
}
int count(const Calls& c, const std::string& name) {
  int n = 0;
  for (const Call& x : c) n += x.name == name;
  return n;
}
int count(const Calls& c, Kind k) {
  int n = 0;
  for (const Call& x : c) n += x.kind == k;
  return n;
}
int launches(const Calls& c) {
  int n = 0;
  for (const Call& x : c) n += rec::is_launch(x.kind);
  return n;
}
// The handle of the last graph launch in c (0: none).
std::uint64_t graph_handle(const Calls& c) {
  for (auto it = c.rbegin(); it != c.rend(); ++it)
    if (it->kind == Kind::graph) return it->args.at(0).v;
  return 0;
}
std::vector<std::string> names(const Calls& c) {
  std::vector<std::string> n;
  for (const Call& x : c) n.push_back(x.name);
  return n;
}
std::map<std::string, int> histogram(const Calls& c) {
  std::map<std::string, int> h;
  for (const Call& x : c)
    if (rec::is_launch(x.kind)) ++h[x.name];
  return h;
}
std::string show(const std::map<std::string, double>& h) {
  std::ostringstream o;
  for (auto& [k, v] : h) o << "  " << k << " " << v << "\n";
  return o.str();
}
// "" if equal; otherwise where they first differ. With loose, floating-point words may differ
// (the optimizer's learning rate and bias corrections change every step).
std::string first_difference(const Calls& a, const Calls& b, bool loose = false) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    bool same = a[i].name == b[i].name && a[i].kind == b[i].kind && a[i].args.size() == b[i].args.size();
    for (std::size_t j = 0; same && j < a[i].args.size(); ++j)
      same = a[i].args[j] == b[i].args[j] || (loose && a[i].args[j].tag == 'f' && b[i].args[j].tag == 'f');
    if (!same)
      return "call " + std::to_string(i) + ": " + a[i].str() + "  vs  " + b[i].str();
  }
  if (a.size() != b.size())
    return "lengths " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + "; next: " +
           (a.size() > n ? a[n].str() : b[n].str());
  return "";
}
// Case 1: nothing in the calls (graphs expanded) reads the host or waits for the device.
void check_no_host_sync(const Calls& c, const std::string& what) {
  const Calls x = executed(c);
  const int reads = count(x, Kind::read), waits = count(x, Kind::wait);
  INFO(what);
  CHECK_MESSAGE(reads == 0, what << ": " << reads << " host read(s) (copy_to_host) inside a micro-step");
  CHECK_MESSAGE(waits == 0, what << ": " << waits << " synchronize() inside a micro-step");
}

template <class Net>
struct Runner {
  using E = Engine<Net, Rec>;
  static constexpr int V = int(Net::config::vocab_size);
  int B, T;
  E e;
  AdamW<Rec> adam;
  std::vector<std::int32_t> tok[2], lab[2];  // two micro-batches, in two host buffers
  long long divisor;

  struct Step {
    Seg whole, micro[2], tail;  // tail: clipping, the update, the read of the step's scalars
  };

  Runner(int B_, int T_, bool graphs) : B(B_), T(T_), adam(e.layout(), OptimizerOptions{}), divisor(2LL * B_ * T_) {
    e.use_graphs(graphs);
    for (int a = 0; a < 2; ++a) {
      tok[a].resize(std::size_t(B) * T), lab[a].resize(std::size_t(B) * T);
      for (std::size_t i = 0; i < tok[a].size(); ++i) {
        tok[a][i] = std::int32_t((i * 7 + std::size_t(a) * 13 + 1) % std::size_t(V));
        lab[a][i] = std::int32_t((i * 7 + std::size_t(a) * 13 + 8) % std::size_t(V));
      }
    }
  }

  // One optimizer step as Trainer::train_step issues it (one rank, 2 micro-batches).
  Step step(long long t) {
    auto& log = rec::state().log;
    Step s;
    s.whole.b = log.size();
    e.zero_grad();
    e.reset_loss();
    for (int a = 0; a < 2; ++a) {
      s.micro[a].b = log.size();
      e.micro_step(tok[a].data(), lab[a].data(), B, T, true, divisor);
      s.micro[a].e = log.size();
    }
    s.tail.b = log.size();
    clip_grad_norm<Rec>(e.device_grads(), e.layout().total, 1.0, e.step_scalars() + 1);
    adam.step(e.device_params(), e.device_grads(), 1e-3f, t, e.step_scalars());
    (void)e.read_step_scalars();
    s.tail.e = s.whole.e = log.size();
    return s;
  }
};

// The calls of a steady micro-step (graphs off, second optimizer step) of a fresh Net.
template <class Net>
Calls steady_micro_step(int B, int T) {
  Runner<Net> r(B, T, false);
  r.step(1);
  return slice(r.step(2).micro[0]);
}

// Cases 1–4 with graphs off; returns the steady micro-step.
template <class Net>
Calls check_eager(const std::string& label, int B, int T) {
  constexpr int L = Net::num_layers;
  Runner<Net> r(B, T, false);
  const auto s1 = r.step(1), s2 = r.step(2);
  const Calls m10 = slice(s1.micro[0]), m11 = slice(s1.micro[1]), m20 = slice(s2.micro[0]), m21 = slice(s2.micro[1]);

  // 1. no host read, no wait inside a micro-step
  for (const Calls* m : {&m10, &m11, &m20, &m21}) check_no_host_sync(*m, label + ", graphs off");

  // 3. the same launches on the same buffers: the first micro-step of a shape sizes the arena
  // first (Engine::reserve, whose branch prepare() computes the RoPE tables), then issues what
  // every later one does.
  const std::size_t prep = m10.size() >= m11.size() ? m10.size() - m11.size() : 0;
  std::string d = first_difference(Calls(m10.begin() + std::ptrdiff_t(prep), m10.end()), m11);
  CHECK_MESSAGE(d.empty(), label << ": micro-steps 1 and 2 of step 1 differ at " << d);
  for (std::size_t i = 0; i < prep; ++i) CHECK_MESSAGE(m10[i].name == "rope_tables", "reserve launched " << m10[i].str());
  MESSAGE(label << ": the first micro-step of a shape also runs reserve(): " << prep
                << " rope_tables launches (one per attention branch, all into the shared tables)");
  d = first_difference(m11, m20);
  CHECK_MESSAGE(d.empty(), label << ": micro-steps of steps 1 and 2 differ at " << d);
  d = first_difference(m20, m21);
  CHECK_MESSAGE(d.empty(), label << ": micro-steps 1 and 2 of step 2 differ at " << d);
  d = first_difference(slice(s1.tail), slice(s2.tail), /*loose=*/true);
  CHECK_MESSAGE(d.empty(), label << ": the optimizer calls of steps 1 and 2 differ (beyond lr/bias) at " << d);
  d = first_difference(slice({s1.whole.b, s1.micro[0].b}), slice({s2.whole.b, s2.micro[0].b}));
  CHECK_MESSAGE(d.empty(), label << ": zero_grad/reset_loss of steps 1 and 2 differ at " << d);

  // 2. launches per micro-step
  const int total = launches(m20);
  MESSAGE(label << ": " << total << " launches per micro-step (forward + backward, graphs off), " << L
                << " layers: " << double(total) / L << " per layer overall");
  CHECK(total <= kLaunchesPerLayer * L + kLaunchesOutsideLayers);

  // 4. the optimizer step
  const Calls tail = slice(s2.tail), whole = slice(s2.whole);
  CHECK(count(tail, "sum_squares") == 1);
  CHECK(count(tail, "clip_to_norm") == 1);
  CHECK(count(tail, "adam_update") == 1);
  CHECK(count(whole, "adam_update") == 1);
  CHECK(count(whole, Kind::read) == 1);
  CHECK(count(whole, Kind::wait) == 0);
  REQUIRE(!whole.empty());
  CHECK(whole.back().name == "copy_to_host");  // read_step_scalars, last
  CHECK(whole.back().args.at(0).v == std::uint64_t(reinterpret_cast<std::uintptr_t>(r.e.step_scalars())));
  CHECK(whole.back().args.at(1).v == 2);
  MESSAGE(label << ": optimizer step (2 micro-steps): " << launches(whole) << " launches, of which clip + update + read "
                << launches(tail) << "; 1 host read");
  return m20;
}

// Case 5: graphs on.
template <class Net>
void check_graphs(const std::string& label, int B, int T, const Calls& eager_steady) {
  Runner<Net> r(B, T, true);
  REQUIRE(r.e.graphs().enabled());
  const auto s1 = r.step(1), s2 = r.step(2);
  const Calls m10 = slice(s1.micro[0]), m11 = slice(s1.micro[1]), m20 = slice(s2.micro[0]), m21 = slice(s2.micro[1]);
  for (const Calls* m : {&m10, &m11, &m20, &m21}) check_no_host_sync(*m, label + ", graphs on");

  // micro-step 1: eager (the reserve's RoPE tables first)
  CHECK(count(m10, Kind::graph) == 0);
  CHECK(count(m10, "begin_capture") == 0);
  CHECK(launches(m10) == launches(eager_steady) + count(m10, "rope_tables"));
  const Calls m10_steady(m10.end() - std::ptrdiff_t(std::min(m10.size(), eager_steady.size())), m10.end());
  CHECK(names(m10_steady) == names(eager_steady));

  // micro-step 2: captured, then launched once; the graph holds what micro-step 1 issued
  using N = std::vector<std::string>;
  CHECK(names(m11) == N{"begin_capture", "end_capture", "restage", "restage", "graph_launch"});
  REQUIRE(count(m11, Kind::graph) == 1);
  const std::uint64_t handle = graph_handle(m11);
  const Calls& captured = Rec::graph(reinterpret_cast<void*>(std::uintptr_t(handle))).calls;
  std::string d = first_difference(captured, m10_steady);
  CHECK_MESSAGE(d.empty(), label << ": the captured micro-step differs from the eager one at " << d);

  // micro-steps 3 and 4: restage tokens and labels, one graph launch, nothing else
  for (const Calls* m : {&m20, &m21}) {
    CHECK(names(*m) == N{"restage", "restage", "graph_launch"});
    CHECK(launches(*m) == 1);
    CHECK(graph_handle(*m) == handle);
  }
  CHECK(r.e.graphs().counts().eager == 1);
  CHECK(r.e.graphs().counts().captures == 1);
  CHECK(r.e.graphs().counts().replays == 2);  // the capture launches its graph as a capture
  const Calls whole = slice(s2.whole);
  CHECK(count(whole, Kind::read) == 1);
  CHECK(count(whole, "adam_update") == 1);
  MESSAGE(label << ": graphs on: a replayed micro-step is " << launches(m20) << " launch; an optimizer step "
                << launches(whole) << " launches");

  // memory freed (the arena reallocated for another shape and back): the next micro-step
  // captures again instead of replaying a graph that may point into freed memory
  const unsigned long long epoch = rec::state().epoch;
  r.e.reserve(B, 2 * T);
  r.e.reserve(B, T);
  CHECK(rec::state().epoch > epoch);
  const auto s3 = r.step(3);
  const Calls m30 = slice(s3.micro[0]), m31 = slice(s3.micro[1]);
  CHECK(names(m30) == N{"destroy_graph", "begin_capture", "end_capture", "restage", "restage", "graph_launch"});
  REQUIRE(count(m30, Kind::graph) == 1);
  const std::uint64_t handle2 = graph_handle(m30);
  CHECK(handle2 != handle);
  CHECK(names(Rec::graph(reinterpret_cast<void*>(std::uintptr_t(handle2))).calls) == names(eager_steady));
  CHECK(names(m31) == N{"restage", "restage", "graph_launch"});
  CHECK(graph_handle(m31) == handle2);
  check_no_host_sync(m30, label + ", recaptured");
  check_no_host_sync(m31, label + ", recaptured");
  CHECK(r.e.graphs().counts().captures == 2);
  CHECK(r.e.graphs().counts().replays == 3);
}

// Ops per layer: the difference between the steady micro-steps of Net (L layers) and Short
// (fewer layers, the same block and the same Mix-LN ratio), divided by the difference in layers.
template <class Net, class Short>
void per_layer(const std::string& label, int B, int T, const Calls& steady) {
  constexpr int dl = Net::num_layers - Short::num_layers;
  const auto h = histogram(steady), hs = histogram(steady_micro_step<Short>(B, T));
  std::map<std::string, double> per;
  double sum = 0;
  for (auto& [k, v] : h) {
    const double x = double(v - (hs.count(k) ? hs.at(k) : 0)) / dl;
    if (x != 0) per[k] = x, sum += x;
  }
  const double outside = launches(steady) - sum * Net::num_layers;
  MESSAGE(label << ": per layer " << sum << " launches (" << Net::num_layers << " layers vs " << Short::num_layers
                << "), outside the layers " << outside << "; per layer by op:\n"
                << show(per));
  CHECK(sum <= kLaunchesPerLayer);
  CHECK(outside <= kLaunchesOutsideLayers);
}

void reset() { rec::state() = rec::State{}; }

}  // namespace

TEST_CASE("launches: the recording backend records and captures") {
  reset();
  float x[4] = {};
  Rec::linear_forward(Precision::fp32, 1, 2, 3, x, x + 1, x + 2);
  REQUIRE(rec::state().log.size() == 1);
  CHECK(rec::state().log[0].name == "linear_forward");
  CHECK(rec::state().log[0].args.size() == 7);
  Rec::begin_capture();
  Rec::zero(x, 4);
  void* g = Rec::end_capture();
  CHECK(rec::state().log.size() == 3);  // + begin_capture, end_capture
  CHECK(Rec::graph(g).calls.size() == 1);
  Rec::launch_graph(g);
  CHECK(rec::state().log.back().kind == Kind::graph);
  { rec::RecBuffer<float> b(8); }  // a free: graphs captured before it are stale
  CHECK_THROWS_AS(Rec::launch_graph(g), std::logic_error);
  Rec::destroy_graph(g);
}

TEST_CASE("launches: the tiny Mix-LN model (examples/configs.hpp tiny::mixln)") {
  using Net = examples::tiny::mixln;
  using Short = Model<Net::config, MixLN<LlamaBlock<Net::config>, 4, std::ratio<1, 4>>>;
  reset();
  const Calls steady = check_eager<Net>("tiny mixln", 2, 16);
  per_layer<Net, Short>("tiny mixln", 2, 16, steady);
  check_graphs<Net>("tiny mixln", 2, 16, steady);
}

TEST_CASE("launches: a llama71m-shaped Mix-LN model (examples/configs.hpp llama71m::mixln), B=1 T=16") {
  using Net = examples::llama71m::mixln;
  using Short = Model<Net::config, MixLN<LlamaBlock<Net::config>, 4, std::ratio<1, 4>>>;
  reset();
  const Calls steady = check_eager<Net>("llama71m mixln", 1, 16);
  per_layer<Net, Short>("llama71m mixln", 1, 16, steady);
  check_graphs<Net>("llama71m mixln", 1, 16, steady);
}

TEST_CASE("launches: a host read inside a micro-step is caught") {
  // A gradient-ready hook that reads the device (what a careless data-parallel hook would do):
  // the micro-step runs eagerly and the check of case 1 must see the reads.
  reset();
  Runner<examples::tiny::mixln> r(2, 16, false);
  r.e.set_grad_ready_hook([&](std::size_t, std::size_t) {
    double v = 0;
    Rec::copy_to_host(&v, r.e.step_scalars(), 1);
  });
  const auto s = r.step(1);
  const Calls m = executed(slice(s.micro[1]));
  CHECK(count(m, Kind::read) == examples::tiny::mixln::num_layers + 2);  // per layer, head, embedding
}
