// mixln/cuda/nccl.hpp — host-side interface of cuda/nccl.cu (no CUDA headers needed).
#pragma once

#include <cstddef>
#include <string>

namespace mixln::cuda {

std::string nccl_unique_id();  // on one rank, then broadcast
void nccl_init(const std::string& id_bytes, int rank, int size, int device);
void nccl_allreduce_sum_async(float* device_data, std::size_t n);
void nccl_wait();  // the compute stream waits for every reduction started so far
void nccl_finalize() noexcept;

}  // namespace mixln::cuda
