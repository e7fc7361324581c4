// mixln/dist/nccl_comm.hpp — data parallelism on GPUs: MPI starts the processes and carries
// the host collectives and NCCL's bootstrap; NCCL reduces the gradients on the devices, one
// layer at a time as backward finishes it (Engine::set_grad_ready_hook). Each rank uses the
// GPU of its local rank on the node (OMPI_COMM_WORLD_LOCAL_RANK, modulo the GPU count).
#pragma once

#include <cstdlib>
#include <string>

#include "../cuda/backend.hpp"
#include "../cuda/nccl.hpp"
#include "mpi_comm.hpp"

namespace mixln {

class NcclComm final : public MpiComm {
 public:
  explicit NcclComm(double timeout_s) : MpiComm(nullptr, nullptr, timeout_s) {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    const int gpus = cuda::device_count();
    if (gpus == 0) throw Error("rank " + std::to_string(rank_) + ": no CUDA device for NCCL");
    const int device = (local ? std::atoi(local) : rank_) % gpus;
    std::string id(128, '\0');
    if (rank_ == 0) id = cuda::nccl_unique_id();
    MPI_Bcast(id.data(), int(id.size()), MPI_BYTE, 0, MPI_COMM_WORLD);
    cuda::nccl_init(id, rank_, size_, device);
  }
  ~NcclComm() override { cuda::nccl_finalize(); }

  std::string name() const override { return "nccl over mpi (" + std::to_string(size_) + " ranks)"; }
  bool has_async_device_reduce() const override { return true; }
  void allreduce_sum_device_async(float* data, std::size_t n) override { cuda::nccl_allreduce_sum_async(data, n); }
  void wait_device_reduces() override { cuda::nccl_wait(); }
};

}  // namespace mixln
