// mixln/train/data_parallel.hpp — how one rank's gradients, clipping norm, updated parameters
// and optimizer moments combine with the other ranks' in a training step. The strategy is
// chosen once per run, from the communicator, the backend and --zero:
//
//   local           one process: the micro-batches' gradients accumulate in place; nothing to do
//   host allreduce  MPI over host memory (the CPU backend): one all-reduce of the whole gradient
//   staged          MPI with a device backend: the gradient staged through host memory
//   per-layer       NCCL: each layer's gradient is reduced on the device as soon as the last
//                   micro-batch's backward finishes it, overlapping the rest of the backward
//   ZeRO-1          (--zero 1) a reduce-scatter: each rank sums, clips and updates its slice of
//                   the parameters only, then the updated slices are gathered on every rank
//
// Every strategy computes the same sums: a run's losses do not depend on it beyond the order of
// the ranks' summation (docs/distributed.md).
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "../dist/communicator.hpp"
#include "../error.hpp"
#include "optimizer.hpp"

namespace mixln {

template <class Backend>
class DataParallel {
 public:
  using T = typename Backend::scalar;
  enum class Strategy { local, host_allreduce, staged, per_layer, zero1 };

  // total: the number of parameters; zero1: --zero 1 (takes effect with more than one rank).
  DataParallel(Communicator& comm, std::size_t total, bool zero1) : comm_(comm), total_(total) {
    if (comm.size() == 1) strategy_ = Strategy::local;
    else if (zero1) strategy_ = Strategy::zero1;
    else if (comm.has_async_device_reduce()) strategy_ = Strategy::per_layer;
    else if (Backend::host_memory) strategy_ = Strategy::host_allreduce;
    else strategy_ = Strategy::staged;
    if constexpr (!std::is_same_v<T, float>)
      if (strategy_ == Strategy::zero1) throw Error("--zero 1 needs fp32 parameters");
  }

  Strategy strategy() const { return strategy_; }
  bool sharded() const { return strategy_ == Strategy::zero1; }
  // The slice of the flat parameter buffer this rank's optimizer updates.
  std::pair<std::size_t, std::size_t> slice() const {
    return sharded() ? comm_.shard(total_) : std::pair<std::size_t, std::size_t>{0, total_};
  }

  // Around each micro-batch's step: under the per-layer strategy, the last micro-batch's
  // backward starts each layer's reduction as soon as that layer's gradient is complete.
  template <class E>
  void before_micro_batch(E& e, bool last) {
    if (strategy_ == Strategy::per_layer && last)
      e.set_grad_ready_hook([this, &e](std::size_t off, std::size_t n) {
        comm_.allreduce_sum_device_async(e.device_grads() + off, n);
      });
  }
  template <class E>
  void after_micro_batch(E& e) {
    e.set_grad_ready_hook(nullptr);
  }

  // After the micro-batches: sums the loss (a double in the backend's memory) over ranks and
  // reduces the gradient. whole: every rank needs the whole summed gradient this step
  // (per-layer gradient norms), also under ZeRO-1. One process: nothing to do, nothing read.
  void reduce(double* loss_sum, T* grads, bool whole) {
    if (strategy_ == Strategy::local) return;
    allreduce_scalar(loss_sum);
    if (strategy_ == Strategy::per_layer) return comm_.wait_device_reduces();
    if (strategy_ == Strategy::zero1 && !whole) {  // each rank needs the sum of its own slice only
      if constexpr (Backend::host_memory)
        comm_.reduce_scatter_sum(reinterpret_cast<float*>(grads), total_);
      else
        comm_.reduce_scatter_sum_device(reinterpret_cast<float*>(grads), total_, &copy_d2h, &copy_h2d);
      return;
    }
    allreduce_whole(grads);
  }

  // Writes the squared global gradient norm before clipping to *sum_squares (the backend's
  // memory) and clips this rank's part (all of it, or under ZeRO-1 its slice, the squares then
  // summed over the ranks' slices) to max_norm (0: off).
  void clip(T* grads, double max_norm, double* sum_squares) {
    if (!sharded()) return clip_grad_norm<Backend>(grads, total_, max_norm, sum_squares);
    const auto [lo, hi] = slice();
    Backend::sum_squares(grads + lo, hi - lo, sum_squares);
    allreduce_scalar(sum_squares);
    Backend::clip_to_norm(grads + lo, hi - lo, sum_squares, max_norm);
  }

  // After the optimizer's update: under ZeRO-1, every rank's updated slice to every rank.
  void after_update(T* params) {
    if (!sharded()) return;
    if constexpr (Backend::host_memory)
      comm_.all_gather(reinterpret_cast<float*>(params), total_);
    else
      comm_.all_gather_device(reinterpret_cast<float*>(params), total_, &copy_d2h, &copy_h2d);
  }

  // The Adam moments of every parameter, for a checkpoint the lead rank writes. Unsharded, the
  // optimizer's own host view holds them (filled on the lead only; the result is empty). Under
  // ZeRO-1 every rank's slice is gathered on the lead (empty elsewhere); every rank takes part.
  struct Moments {
    std::vector<float> m, v;
  };
  template <class Optimizer>
  Moments gather_moments(Optimizer& adam, bool lead) {
    Moments f;
    if (!sharded()) {
      if (lead) adam.sync_to_host();
      return f;
    }
    adam.sync_to_host();  // this rank's slice
    if constexpr (std::is_same_v<T, float>) {
      if (lead) f.m.resize(total_), f.v.resize(total_);
      comm_.gather_to_root(adam.exp_avg().data(), total_, f.m.data());
      comm_.gather_to_root(adam.exp_avg_sq().data(), total_, f.v.data());
    }
    return f;
  }

 private:
  void allreduce_whole(T* grads) {
    if constexpr (Backend::host_memory)
      comm_.allreduce_sum(grads, total_);
    else if (comm_.has_async_device_reduce()) {  // NCCL, without staging through the host
      comm_.allreduce_sum_device_async(grads, total_);
      comm_.wait_device_reduces();
    } else
      comm_.allreduce_sum_device(grads, total_, &copy_d2h, &copy_h2d);
  }

  // A double in the backend's memory summed over the ranks (through the host).
  void allreduce_scalar(double* x) {
    double host = 0;
    Backend::copy_to_host(&host, x, 1);
    comm_.allreduce_sum(&host, 1);
    Backend::copy_to_device(x, &host, 1);
  }

  static void copy_d2h(void* dst, const void* src, std::size_t bytes) {
    Backend::copy_to_host(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), bytes);
  }
  static void copy_h2d(void* dst, const void* src, std::size_t bytes) {
    Backend::copy_to_device(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), bytes);
  }

  Communicator& comm_;
  std::size_t total_;
  Strategy strategy_;
};

}  // namespace mixln
