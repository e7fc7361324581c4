// mixln/dist/nccl_comm.hpp — data parallelism on GPUs: MPI starts the processes and carries
// the host collectives and NCCL's bootstrap; NCCL reduces the gradients on the devices, one
// layer at a time as backward finishes it (Engine::set_grad_ready_hook). Each rank uses the
// current device, which the trainer set before MPI_Init to the GPU of its rank on the node
// (launcher_local_rank, modulo the GPU count).
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "../cuda/backend.hpp"
#include "../cuda/nccl.hpp"
#include "mpi_comm.hpp"

namespace mixln {

class NcclComm final : public MpiComm {
 public:
  explicit NcclComm(double timeout_s) : MpiComm(nullptr, nullptr, timeout_s) {
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.count == 0) throw Error("rank " + std::to_string(rank_) + ": no CUDA device for NCCL: " + probe.describe());
    const int device = cuda::current_device();  // chosen by the trainer before MPI_Init (cli/cuda.hpp)
    std::string id(128, '\0');
    if (rank_ == 0) id = cuda::nccl_unique_id();
    MPI_Bcast(id.data(), int(id.size()), MPI_BYTE, 0, MPI_COMM_WORLD);
    cuda::nccl_init(id, rank_, size_, device, timeout_s);
  }
  ~NcclComm() override { cuda::nccl_finalize(); }

  std::string name() const override { return "nccl over mpi (" + std::to_string(size_) + " ranks)"; }
  bool has_async_device_reduce() const override { return true; }
  void allreduce_sum_device_async(float* data, std::size_t n) override { cuda::nccl_allreduce_sum_async(data, n); }
  void wait_device_reduces() override { cuda::nccl_wait(); }
  void reduce_scatter_sum_device(float* data, std::size_t n, void (*)(void*, const void*, std::size_t),
                                 void (*)(void*, const void*, std::size_t)) override {
    cuda::nccl_reduce_scatter_sum_async(data, bounds(n));
    cuda::nccl_wait();
  }
  void all_gather_device(float* data, std::size_t n, void (*)(void*, const void*, std::size_t),
                         void (*)(void*, const void*, std::size_t)) override {
    cuda::nccl_all_gather_async(data, bounds(n));
    cuda::nccl_wait();
  }

 private:
  std::vector<std::size_t> bounds(std::size_t n) const {
    std::vector<std::size_t> b;
    for (int r = 0; r < size_; ++r) b.push_back(shard_of(n, r, size_).first);
    b.push_back(n);
    return b;
  }
};

}  // namespace mixln
