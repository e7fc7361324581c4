// mixln/cuda/nccl.hpp — host-side interface of src/cuda/nccl.cu (no CUDA headers needed).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mixln::cuda {

std::string nccl_unique_id();  // on one rank, then broadcast
void nccl_init(const std::string& id_bytes, int rank, int size, int device, double timeout_s);
void nccl_allreduce_sum_async(float* device_data, std::size_t n);
// ZeRO-1: slice r of device_data is [bounds[r], bounds[r + 1]); after a reduce-scatter rank r's
// slice holds the sum over ranks, after an all-gather every slice is its owner's. Call nccl_wait().
void nccl_reduce_scatter_sum_async(float* device_data, const std::vector<std::size_t>& bounds);
void nccl_all_gather_async(float* device_data, const std::vector<std::size_t>& bounds);
// The compute stream waits for every reduction started so far; the host watches them and throws
// (aborting the communicator) on NCCL's asynchronous error or after timeout_s.
void nccl_wait();
void nccl_finalize() noexcept;

}  // namespace mixln::cuda
