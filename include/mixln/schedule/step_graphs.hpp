// mixln/schedule/step_graphs.hpp — a micro-step captured once as a graph and replayed.
//
// The schedule is fixed by the model type and the buffers by the arena, so a micro-step of a
// given shape issues the same launches on the same pointers every time: on a backend that can
// capture its stream (cuda::Backend: begin_capture, end_capture, launch_graph, ...) the
// micro-step becomes one graph launch. Per shape (B, T, backward or not, gradient divisor):
//   1st call   eager — the first run sizes every scratch buffer (cuBLAS, CUB, bf16 staging);
//   2nd call   captured, instantiated, then staged and launched as below;
//   later      the host stages its tokens and labels (Backend::restage: a host copy and the
//              copy to the device, issued before the graph, not part of it) and launches it.
// At most kMaxGraphs shapes keep a graph (the oldest is dropped).
// A graph is dropped and captured again when the backend has freed memory since its capture
// (Backend::memory_epoch: a buffer that grew, an arena resized), since it may point there. A
// capture that fails turns graphs off for the engine and the micro-step runs eagerly; the
// reason is kept for the caller to report. A backend without capture (the CPU) runs every
// micro-step eagerly, through the same code.
#pragma once

#include <concepts>
#include <exception>
#include <string>
#include <vector>

namespace mixln {

template <class Backend>
concept GraphBackend = requires(void* g) {
  { Backend::graphs_usable() } -> std::convertible_to<bool>;
  Backend::begin_capture();
  { Backend::end_capture() } -> std::convertible_to<void*>;
  Backend::abort_capture();
  Backend::launch_graph(g);
  Backend::destroy_graph(g);
  { Backend::memory_epoch() } -> std::convertible_to<unsigned long long>;
};

template <class Backend>
class StepGraphs {
 public:
  struct Key {
    int batch = 0, seq = 0;
    bool backward = false;
    long long grad_divisor = 0;
    bool operator==(const Key&) const = default;
  };
  struct Counts {
    long long eager = 0, captures = 0, replays = 0;
  };

  StepGraphs() = default;
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;
  ~StepGraphs() { clear(); }

  // On by default where the backend can capture.
  void enable(bool on) {
    on_ = on;
    if (!on) clear();
  }
  bool enabled() const { return GraphBackend<Backend> && on_; }
  const Counts& counts() const { return counts_; }
  // Why graphs were turned off (a capture failed), or empty.
  const std::string& failure() const { return failure_; }

  // One micro-step of shape `key`: enqueue() issues its launches (eagerly, or into a capture);
  // restage() stages its host data for a replay of the graph. capturable: false where the step
  // calls back into the host (a gradient-ready hook), which a graph cannot replay.
  template <class Enqueue, class Restage>
  void run(const Key& key, bool capturable, Enqueue&& enqueue, Restage&& restage) {
    if constexpr (GraphBackend<Backend>) {
      if (on_ && capturable && Backend::graphs_usable()) return run_graph(key, enqueue, restage);
    }
    ++counts_.eager;
    enqueue();
  }

 private:
  struct Entry {
    Key key;
    void* exec = nullptr;
    unsigned long long epoch = 0;
  };

  template <class Enqueue, class Restage>
  void run_graph(const Key& key, Enqueue& enqueue, Restage& restage) {
    Entry* e = nullptr;
    for (Entry& x : entries_)
      if (x.key == key) e = &x;
    if (!e) {  // first time: eagerly, so that every buffer the step needs exists before a capture
      if (entries_.size() == kMaxGraphs) {
        if (entries_.front().exec) Backend::destroy_graph(entries_.front().exec);
        entries_.erase(entries_.begin());
      }
      entries_.push_back({key, nullptr, 0});
      ++counts_.eager;
      return enqueue();
    }
    if (e->exec && e->epoch == Backend::memory_epoch()) {
      restage();
      Backend::launch_graph(e->exec);
      ++counts_.replays;
      return;
    }
    if (e->exec) Backend::destroy_graph(e->exec), e->exec = nullptr;  // memory it may use was freed
    const unsigned long long before = Backend::memory_epoch();
    try {
      Backend::begin_capture();
      enqueue();
      e->exec = Backend::end_capture();
    } catch (const std::exception& ex) {
      Backend::abort_capture();
      failure_ = ex.what();
      clear();
      on_ = false;
      ++counts_.eager;
      return enqueue();  // the captured work never ran: run it now
    }
    if (Backend::memory_epoch() != before) {  // a buffer moved while capturing: do not trust it
      Backend::destroy_graph(e->exec), e->exec = nullptr;
      ++counts_.eager;
      return enqueue();
    }
    e->epoch = before;
    ++counts_.captures;
    restage();
    Backend::launch_graph(e->exec);
  }

  void clear() {
    if constexpr (GraphBackend<Backend>)
      for (Entry& e : entries_)
        if (e.exec) Backend::destroy_graph(e.exec);
    entries_.clear();
  }

  static constexpr std::size_t kMaxGraphs = 8;
  bool on_ = true;
  std::vector<Entry> entries_;
  Counts counts_;
  std::string failure_;
};

}  // namespace mixln
