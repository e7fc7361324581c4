// tests/recording_backend.hpp — a host-only backend that records every launch instead of
// computing it, for tests of the launch structure of a step (tests/test_launches.cpp).
//
// RecordingBackend meets mixln::Backend (schedule/backend_concept.hpp) and the optional graph
// interface (schedule/step_graphs.hpp: GraphBackend, restage). Its ops are generated from the
// X-macro lists of mixln/backend_ops.hpp, so that an op added there is recorded without a change
// here: each is a variadic function template, whose parameter types the concept's
// `static_cast<R(*) params>(&Be::name)` deduces. The ops do no arithmetic (a null backend: a
// llama71m-shaped step costs microseconds); the memory ops copy what the host asks for
// (copy_to_host, copy_to_device, stage, restage), so that the host side of the engine sees
// consistent data, but zero() only records.
//
// Each call is recorded as its name, its kind (a device launch, a host read, a host wait, a
// host-only step) and its arguments as tagged 64-bit words: pointer values, integers, floats'
// bits, and the structs of the op lists (RowsView, BoundaryArgs, BoundaryGradArgs, AdamHyper)
// member by member (never their bytes: padding would make the record flaky). A struct argument
// of a new type fails to compile here until it gets a put() overload (unless it has no padding
// and no floats: then its bytes are recorded). Host pointers are not recorded (the destination
// of copy_to_host, the sources of copy_to_device, stage and restage): what the device side sees
// is the buffer they copy to or from.
//
// Graphs: begin_capture() starts a new graph; until end_capture() returns its handle, the calls
// go into that graph instead of the log. launch_graph() records one "graph_launch" (a launch)
// in the log. A graph launched after memory was freed since its capture (memory_epoch() moved)
// or after it was destroyed throws: replaying it would touch freed memory. Buffers are
// RecBuffer (host memory, 64-byte aligned, zero-initialised and lazily mapped, so that a
// llama71m engine and its optimizer do not touch 1 GB of pages) and every free of one bumps
// memory_epoch(), as a freed cudaMalloc does on CUDA. rec::state().graphs_usable = false
// turns capture off for the whole backend (Engine::use_graphs(false) does it per engine).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <mixln/backend_ops.hpp>
#include <mixln/cpu/backend.hpp>
#include <mixln/math/adamw.hpp>
#include <mixln/math/boundary.hpp>
#include <mixln/math/norm_rows.hpp>
#include <mixln/precision.hpp>
#include <mixln/schedule/backend_concept.hpp>
#include <mixln/schedule/step_graphs.hpp>

namespace mixln::testing {

namespace rec {

// What a call is, for the host.
enum class Kind : std::uint8_t {
  launch,  // a device launch (an op, a memset, a host→device copy, a staged copy)
  read,    // a device→host copy: a launch the host waits for
  wait,    // synchronize(): the host waits for the device
  graph,   // one launch of a captured graph
  host,    // outside the launch count: restage (on CUDA a pinned copy and the copy it issues),
           // capture control, destroying a graph
};
inline bool is_launch(Kind k) { return k == Kind::launch || k == Kind::read || k == Kind::graph; }

struct Word {
  std::uint64_t v = 0;
  char tag = 'i';  // 'p' pointer, 'i' integer (bool, enum, type hash), 'f' floating-point bits
  bool operator==(const Word&) const = default;
};

struct Call {
  std::string name;
  Kind kind = Kind::launch;
  std::vector<Word> args;
  bool operator==(const Call&) const = default;
  std::string str() const {
    std::ostringstream o;
    o << name << "(";
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (i) o << ", ";
      if (args[i].tag == 'p') o << "0x" << std::hex << args[i].v << std::dec;
      else if (args[i].tag == 'f') o << "f:" << std::hex << args[i].v << std::dec;
      else o << std::int64_t(args[i].v);
    }
    return o.str() + ")";
  }
};

struct Graph {
  std::vector<Call> calls;
  unsigned long long epoch = 0;  // memory_epoch() at begin_capture
  bool live = false;
};

struct State {
  std::vector<Call> log;      // everything the host issued, in order, except what was captured
  std::vector<Graph> graphs;  // graph g has handle g + 1
  int capturing = -1;
  bool graphs_usable = true;
  unsigned long long epoch = 0;  // buffer frees so far
  void clear_log() { log.clear(); }
};
inline State& state() {
  static State s;
  return s;
}

// ---- arguments as words ---------------------------------------------------------------------
using Words = std::vector<Word>;
template <class X>
void put(Words& w, const X& x);

template <class U>
void put(Words& w, const RowsView<U>& r) {
  put(w, r.p), put(w, r.groups), put(w, r.ld);
}
template <class Spec, class U>
void put(Words& w, const BoundaryArgs<Spec, U>& b) {
  put(w, b.x), put(w, b.f), put(w, b.x0), put(w, b.y), put(w, b.h);
  for (auto p : b.in) put(w, p);
  for (auto p : b.w) put(w, p);
  put(w, b.stats), put(w, b.a), put(w, b.c);
}
template <class Spec, class U>
void put(Words& w, const BoundaryGradArgs<Spec, U>& g) {
  put(w, g.dy_ext), put(w, g.dskip_in), put(w, g.dh), put(w, g.dx), put(w, g.dskip_out), put(w, g.df);
  for (auto p : g.dw) put(w, p);
  put(w, g.partials);
}
template <class U>
void put(Words& w, const ActPtr<U>& p) {
  put(w, p.raw()), put(w, p.is_bf16());
}
inline void put(Words& w, const AdamHyper& h) {
  put(w, h.lr), put(w, h.beta1), put(w, h.beta2), put(w, h.eps), put(w, h.weight_decay);
  put(w, h.decoupled), put(w, h.bias1), put(w, h.bias2);
}

template <class>
inline constexpr bool always_false = false;

template <class X>
void put(Words& w, const X& x) {
  if constexpr (std::is_pointer_v<X>) {
    w.push_back({std::uint64_t(reinterpret_cast<std::uintptr_t>(static_cast<const volatile void*>(x))), 'p'});
  } else if constexpr (std::is_null_pointer_v<X>) {
    w.push_back({0, 'p'});
  } else if constexpr (std::is_same_v<X, float>) {
    w.push_back({std::bit_cast<std::uint32_t>(x), 'f'});
  } else if constexpr (std::is_same_v<X, double>) {
    w.push_back({std::bit_cast<std::uint64_t>(x), 'f'});
  } else if constexpr (std::is_integral_v<X> || std::is_enum_v<X>) {
    w.push_back({std::uint64_t(static_cast<std::int64_t>(x)), 'i'});
  } else if constexpr (std::is_trivially_copyable_v<X> && std::has_unique_object_representations_v<X>) {
    unsigned char bytes[(sizeof(X) + 7) / 8 * 8] = {};
    std::memcpy(bytes, &x, sizeof(X));
    for (std::size_t i = 0; i < sizeof(bytes); i += 8) {
      std::uint64_t v;
      std::memcpy(&v, bytes + i, 8);
      w.push_back({v, 'i'});
    }
  } else {
    static_assert(always_false<X>,
                  "recording_backend.hpp: an op takes an argument type with padding or floats; "
                  "add a member-wise put() overload for it");
  }
}

inline void push(Call c) {
  State& s = state();
  if (s.capturing >= 0) s.graphs[std::size_t(s.capturing)].calls.push_back(std::move(c));
  else s.log.push_back(std::move(c));
}

template <class R, class... A>
R record(const char* name, Kind kind, const A&... a) {
  Call c{name, kind, {}};
  (put(c.args, a), ...);
  push(std::move(c));
  if constexpr (!std::is_void_v<R>) return R{};
}

// A model-dependent op records its type argument too (as a hash of its name).
template <class P>
std::uint64_t type_word() {
  return std::uint64_t(typeid(P).hash_code());
}

// Host memory, 64-byte aligned, zero-initialised: calloc maps large blocks lazily, so pages the
// null ops never touch are never backed. Freeing a non-empty buffer bumps memory_epoch().
template <class U>
class RecBuffer {
 public:
  RecBuffer() = default;
  explicit RecBuffer(std::size_t n) { resize(n); }
  RecBuffer(const RecBuffer&) = delete;
  RecBuffer& operator=(const RecBuffer&) = delete;
  RecBuffer(RecBuffer&& o) noexcept { swap(o); }
  RecBuffer& operator=(RecBuffer&& o) noexcept {
    if (this != &o) release(), swap(o);
    return *this;
  }
  ~RecBuffer() { release(); }

  void resize(std::size_t n) {
    if (n == n_) return;
    release();
    if (!n) return;
    raw_ = std::calloc(n * sizeof(U) + 64, 1);
    if (!raw_) throw std::bad_alloc();
    const std::uintptr_t a = (reinterpret_cast<std::uintptr_t>(raw_) + 63) / 64 * 64;
    data_ = reinterpret_cast<U*>(a);
    n_ = n;
  }
  void zero() {
    if (n_) std::memset(static_cast<void*>(data_), 0, n_ * sizeof(U));
  }
  U* data() { return data_; }
  const U* data() const { return data_; }
  std::size_t size() const { return n_; }
  U& operator[](std::size_t i) { return data_[i]; }
  const U& operator[](std::size_t i) const { return data_[i]; }
  std::span<U> span() { return {data_, n_}; }
  std::span<const U> span() const { return {data_, n_}; }

 private:
  void release() {
    if (!raw_) return;
    std::free(raw_);
    raw_ = nullptr, data_ = nullptr, n_ = 0;
    ++state().epoch;
  }
  void swap(RecBuffer& o) noexcept {
    std::swap(raw_, o.raw_), std::swap(data_, o.data_), std::swap(n_, o.n_);
  }
  void* raw_ = nullptr;
  U* data_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace rec

// The recording backend: cpu::Backend<float>'s types (scalar, precisions, describe) with every
// op and memory op replaced by a recording one.
struct RecordingBackend : cpu::Backend<float> {
  template <class U>
  using buffer = rec::RecBuffer<U>;
  static constexpr const char* name = "recording";

  // ---- the ops of backend_ops.hpp, recorded ---------------------------------------------------
#define MIXLN_REC_OP(R, op, params)                             \
  template <class... A>                                        \
  static R op(A... a) {                                        \
    return rec::record<R>(#op, rec::Kind::launch, a...);       \
  }
#define MIXLN_REC_MODEL_OP(P, op, params)                                         \
  template <class P_, class... A>                                                 \
  static void op(A... a) {                                                        \
    rec::record<void>(#op, rec::Kind::launch, rec::type_word<P_>(), a...);        \
  }
  MIXLN_BACKEND_DENSE_OPS(MIXLN_REC_OP)
  MIXLN_BACKEND_MODEL_OPS(MIXLN_REC_MODEL_OP)
  MIXLN_BACKEND_OPTIMIZER_OPS(MIXLN_REC_OP)
#undef MIXLN_REC_OP
#undef MIXLN_REC_MODEL_OP

  // ---- memory ops -----------------------------------------------------------------------------
  template <class U>
  static void zero(U* p, std::size_t n) {
    rec::record<void>("zero", rec::Kind::launch, p, n, sizeof(U));
  }
  static void synchronize() { rec::record<void>("synchronize", rec::Kind::wait); }
  template <class U>
  static void copy_to_device(U* dst, const U* src, std::size_t n) {
    rec::record<void>("copy_to_device", rec::Kind::launch, dst, n, sizeof(U));
    if (n) std::memcpy(static_cast<void*>(dst), src, n * sizeof(U));
  }
  template <class U>
  static void copy_to_host(U* dst, const U* src, std::size_t n) {
    rec::record<void>("copy_to_host", rec::Kind::read, src, n, sizeof(U));
    if (n) std::memcpy(static_cast<void*>(dst), src, n * sizeof(U));
  }
  // Host data the ops read, copied into the backend's buffer (as cuda::Backend stages it).
  static const std::int32_t* stage(buffer<std::int32_t>& buf, const std::int32_t* host, std::size_t n) {
    rec::record<void>("stage", rec::Kind::launch, buf.data(), n);
    copy_in(buf, host, n);
    return buf.data();
  }

  // ---- graphs (schedule/step_graphs.hpp) ------------------------------------------------------
  // The host half of stage() for a replay: no launch.
  static void restage(buffer<std::int32_t>& buf, const std::int32_t* host, std::size_t n) {
    rec::record<void>("restage", rec::Kind::host, buf.data(), n);
    copy_in(buf, host, n);
  }
  static bool graphs_usable() { return rec::state().graphs_usable; }
  static void begin_capture() {
    rec::State& s = rec::state();
    if (s.capturing >= 0) throw std::logic_error("recording backend: begin_capture inside a capture");
    s.graphs.push_back({{}, s.epoch, false});
    s.capturing = int(s.graphs.size()) - 1;
    s.log.push_back({"begin_capture", rec::Kind::host, {{std::uint64_t(s.capturing + 1), 'i'}}});
  }
  static void* end_capture() {
    rec::State& s = rec::state();
    if (s.capturing < 0) throw std::logic_error("recording backend: end_capture without begin_capture");
    const int g = s.capturing;
    s.capturing = -1;
    s.graphs[std::size_t(g)].live = true;
    s.log.push_back({"end_capture", rec::Kind::host, {{std::uint64_t(g + 1), 'i'}}});
    return reinterpret_cast<void*>(std::uintptr_t(g + 1));
  }
  static void abort_capture() noexcept {
    rec::State& s = rec::state();
    s.capturing = -1;
    s.log.push_back({"abort_capture", rec::Kind::host, {}});
  }
  static void launch_graph(void* h) {
    rec::State& s = rec::state();
    rec::Graph& g = graph(h);
    if (!g.live) throw std::logic_error("recording backend: launch of a destroyed graph");
    if (g.epoch != s.epoch) throw std::logic_error("recording backend: launch of a graph captured before memory was freed");
    rec::push({"graph_launch", rec::Kind::graph, {{std::uint64_t(reinterpret_cast<std::uintptr_t>(h)), 'i'}}});
  }
  static void destroy_graph(void* h) noexcept {
    rec::State& s = rec::state();
    const std::uintptr_t i = reinterpret_cast<std::uintptr_t>(h);
    if (i >= 1 && i <= s.graphs.size()) s.graphs[i - 1].live = false;
    s.log.push_back({"destroy_graph", rec::Kind::host, {{std::uint64_t(i), 'i'}}});
  }
  static unsigned long long memory_epoch() { return rec::state().epoch; }

  // The captured calls of a graph handle (or of a "graph_launch" call's argument).
  static rec::Graph& graph(void* h) {
    rec::State& s = rec::state();
    const std::uintptr_t i = reinterpret_cast<std::uintptr_t>(h);
    if (i < 1 || i > s.graphs.size()) throw std::logic_error("recording backend: not a graph handle");
    return s.graphs[i - 1];
  }

 private:
  static void copy_in(buffer<std::int32_t>& buf, const std::int32_t* host, std::size_t n) {
    if (n > buf.size()) throw std::logic_error("recording backend: staging more than the buffer holds");
    if (n) std::memcpy(buf.data(), host, n * sizeof(std::int32_t));
  }
};

static_assert(Backend<RecordingBackend>, "the recording backend must meet mixln::Backend");
static_assert(GraphBackend<RecordingBackend>, "the recording backend must meet mixln::GraphBackend");

}  // namespace mixln::testing
