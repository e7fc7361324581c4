// mixln/dist/communicator.hpp — the processes that train one model together.
//
// Data-parallel training needs few collectives: summing gradients (and the loss and
// evaluation sums) over ranks, and a barrier. LocalComm is the one-process case; MpiComm
// (dist/mpi_comm.hpp) runs over MPI. Collectives on a device backend's memory go through
// allreduce_sum_device, which NCCL implements on CUDA (dist/nccl_comm.hpp) and which stages
// through host memory otherwise.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <string>
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
  // In-place sum of device memory of `bytes_per_element`-sized floats; the default copies
  // through the host.
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

}  // namespace mixln
