// mixln/dist/communicator.hpp — the processes that train one model together.
//
// Data-parallel training needs few collectives: summing gradients (and the loss and
// evaluation sums) over ranks, and a barrier. LocalComm is the one-process case; MpiComm
// (dist/mpi_comm.hpp) runs over MPI. Collectives on a device backend's memory go through
// allreduce_sum_device, which NCCL implements on CUDA (dist/nccl_comm.hpp) and which stages
// through host memory otherwise.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mixln {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;
  // In-place sums over all ranks of host memory.
  virtual void allreduce_sum(float* data, std::size_t n) = 0;
  virtual void allreduce_sum(double* data, std::size_t n) = 0;
  virtual void barrier() = 0;
  // In-place sum of n floats in device memory; the default copies them to the host with
  // to_host (byte counts), sums there and copies back with to_device.
  virtual void allreduce_sum_device(float* device_data, std::size_t n, void (*to_host)(void*, const void*, std::size_t),
                                    void (*to_device)(void*, const void*, std::size_t)) {
    std::vector<float> host(n);
    to_host(host.data(), device_data, n * sizeof(float));
    allreduce_sum(host.data(), n);
    to_device(device_data, host.data(), n * sizeof(float));
  }
  // Asynchronous device reductions (NCCL): start one now, wait for all of them later. Without
  // support, a trainer reduces the whole gradient after backward instead.
  virtual bool has_async_device_reduce() const { return false; }
  virtual void allreduce_sum_device_async(float* /*device_data*/, std::size_t /*n*/) {}
  virtual void wait_device_reduces() {}
  // ZeRO-1 (train --zero 1): rank r owns the slice shard_of(n, r, size()) of the flat
  // parameter buffer and keeps the Adam moments of that slice only. The gradient is
  // reduce-scattered (each rank gets the sum of its slice), the slice updated, and the
  // parameters all-gathered. The defaults are correct for any communicator, not lean: a full
  // all-reduce, nothing to gather on one rank, a gather through all_gather.
  virtual void reduce_scatter_sum(float* data, std::size_t n) { allreduce_sum(data, n); }
  virtual void all_gather(float* /*data*/, std::size_t /*n*/) {
    if (size() > 1) throw std::logic_error("all_gather: this communicator has no implementation for several ranks");
  }
  virtual void reduce_scatter_sum_device(float* device_data, std::size_t n,
                                         void (*to_host)(void*, const void*, std::size_t),
                                         void (*to_device)(void*, const void*, std::size_t)) {
    allreduce_sum_device(device_data, n, to_host, to_device);
  }
  virtual void all_gather_device(float* device_data, std::size_t n, void (*to_host)(void*, const void*, std::size_t),
                                 void (*to_device)(void*, const void*, std::size_t)) {
    if (size() == 1) return;
    std::vector<float> host(n);
    to_host(host.data(), device_data, n * sizeof(float));
    all_gather(host.data(), n);
    to_device(device_data, host.data(), n * sizeof(float));
  }
  // Every rank's slice of a buffer of n, gathered into `full` on rank 0 (ignored elsewhere).
  virtual void gather_to_root(const float* slice, std::size_t n, float* full) {
    std::vector<float> all(n, 0.f);
    const auto [lo, hi] = shard(n);
    std::copy(slice, slice + (hi - lo), all.begin() + std::ptrdiff_t(lo));
    all_gather(all.data(), n);
    if (rank() == 0) std::copy(all.begin(), all.end(), full);
  }
  // This rank's slice [begin, end) of a flat buffer of n elements.
  std::pair<std::size_t, std::size_t> shard(std::size_t n) const { return shard_of(n, rank(), size()); }
  static std::pair<std::size_t, std::size_t> shard_of(std::size_t n, int r, int world) {
    return {n / std::size_t(world) * std::size_t(r) + std::min(n % std::size_t(world), std::size_t(r)),
            n / std::size_t(world) * std::size_t(r + 1) + std::min(n % std::size_t(world), std::size_t(r + 1))};
  }

  // Ends every process of the job after an error on this one (never returns).
  [[noreturn]] virtual void abort(int code) { std::exit(code); }
};

class LocalComm final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "local"; }
  void allreduce_sum(float*, std::size_t) override {}
  void allreduce_sum(double*, std::size_t) override {}
  void allreduce_sum_device(float*, std::size_t, void (*)(void*, const void*, std::size_t),
                            void (*)(void*, const void*, std::size_t)) override {}
  void barrier() override {}
};

// Was this process started by an MPI launcher (mpirun, srun with PMI/PMIx)?
inline bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

// This process's rank among the processes of its node, from the launcher's environment (Open MPI,
// MPICH/Hydra, MVAPICH, Slurm); -1 when the launcher does not say. Needed before MPI_Init, to
// pick the GPU of each rank before anything (CUDA-aware MPI, NCCL) touches a device.
inline int launcher_local_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
    if (const char* s = std::getenv(v)) {
      char* end = nullptr;
      const long r = std::strtol(s, &end, 10);
      if (end != s && *end == '\0' && r >= 0 && r < (1L << 30)) return int(r);
    }
  return -1;
}

}  // namespace mixln
