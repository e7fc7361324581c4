// mixln/cuda/nccl.cu — NCCL all-reduces of device gradients (the `mixln::cuda_nccl` library).
//
// Reductions run on their own stream: each starts after an event recorded on the compute
// stream (so it sees the finished gradients of its layer) and overlaps with the backward of
// the layers below; wait() makes the compute stream wait for all of them before the optimizer.
#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "../error.hpp"
#include "nccl.hpp"

namespace mixln::cuda {

namespace {
struct NcclState {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t ready = nullptr, done = nullptr;
};
NcclState& state() {
  static NcclState s;
  return s;
}
void check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw Error(std::string("NCCL error in ") + what + ": " + ncclGetErrorString(r));
}
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
}  // namespace

std::string nccl_unique_id() {
  ncclUniqueId id;
  check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, sizeof id.internal);
}

void nccl_init(const std::string& id_bytes, int rank, int size, int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  ncclUniqueId id;
  if (id_bytes.size() != sizeof id.internal) throw Error("nccl_init: malformed unique id");
  std::copy(id_bytes.begin(), id_bytes.end(), id.internal);
  NcclState& s = state();
  check(ncclCommInitRank(&s.comm, size, id, rank), "ncclCommInitRank");
  check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cudaEventCreateWithFlags(&s.ready, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming), "cudaEventCreate");
}

void nccl_allreduce_sum_async(float* data, std::size_t n) {
  NcclState& s = state();
  check(cudaEventRecord(s.ready, 0), "cudaEventRecord");
  check(cudaStreamWaitEvent(s.stream, s.ready, 0), "cudaStreamWaitEvent");
  check(ncclAllReduce(data, data, n, ncclFloat, ncclSum, s.comm, s.stream), "ncclAllReduce");
}

void nccl_wait() {
  NcclState& s = state();
  check(cudaEventRecord(s.done, s.stream), "cudaEventRecord");
  check(cudaStreamWaitEvent(0, s.done, 0), "cudaStreamWaitEvent");
}

void nccl_finalize() noexcept {
  NcclState& s = state();
  if (s.comm) ncclCommDestroy(s.comm);
  if (s.stream) cudaStreamDestroy(s.stream);
  if (s.ready) cudaEventDestroy(s.ready);
  if (s.done) cudaEventDestroy(s.done);
  s = NcclState{};
}

}  // namespace mixln::cuda
