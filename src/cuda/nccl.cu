// src/cuda/nccl.cu — NCCL all-reduces of device gradients (the `mixln::cuda_nccl` library).
//
// Reductions run on their own stream: each starts after an event recorded on the compute
// stream (so it sees the finished gradients of its layer) and overlaps with the backward of
// the layers below; nccl_wait() makes the compute stream wait for all of them before the
// optimizer, watching them (a dead rank is an error after --comm-timeout, not a hang).
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "mixln/error.hpp"
#include "mixln/cuda/nccl.hpp"
#include "mixln/cuda/stream.cuh"

namespace mixln::cuda {

namespace {
struct NcclState {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t ready = nullptr, done = nullptr;
  double timeout_s = 600;
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

void nccl_init(const std::string& id_bytes, int rank, int size, int device, double timeout_s) {
  check(cudaSetDevice(device), "cudaSetDevice");
  ncclUniqueId id;
  if (id_bytes.size() != sizeof id.internal) throw Error("nccl_init: malformed unique id");
  std::copy(id_bytes.begin(), id_bytes.end(), id.internal);
  NcclState& s = state();
  s.timeout_s = timeout_s;
  check(ncclCommInitRank(&s.comm, size, id, rank), "ncclCommInitRank");
  check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cudaEventCreateWithFlags(&s.ready, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming), "cudaEventCreate");
}

void nccl_allreduce_sum_async(float* data, std::size_t n) {
  NcclState& s = state();
  check(cudaEventRecord(s.ready, compute_stream()), "cudaEventRecord");
  check(cudaStreamWaitEvent(s.stream, s.ready, 0), "cudaStreamWaitEvent");
  check(ncclAllReduce(data, data, n, ncclFloat, ncclSum, s.comm, s.stream), "ncclAllReduce");
}

// ZeRO-1 on the reduction stream: one ncclReduce per rank's slice (to its owner) and one
// ncclBroadcast per slice (from its owner), each set in a group; in place, slices of any size.
void nccl_reduce_scatter_sum_async(float* data, const std::vector<std::size_t>& bounds) {
  NcclState& s = state();
  check(cudaEventRecord(s.ready, compute_stream()), "cudaEventRecord");
  check(cudaStreamWaitEvent(s.stream, s.ready, 0), "cudaStreamWaitEvent");
  check(ncclGroupStart(), "ncclGroupStart");
  for (std::size_t r = 0; r + 1 < bounds.size(); ++r)
    check(ncclReduce(data + bounds[r], data + bounds[r], bounds[r + 1] - bounds[r], ncclFloat, ncclSum, int(r), s.comm,
                     s.stream),
          "ncclReduce");
  check(ncclGroupEnd(), "ncclGroupEnd");
}
void nccl_all_gather_async(float* data, const std::vector<std::size_t>& bounds) {
  NcclState& s = state();
  check(cudaEventRecord(s.ready, compute_stream()), "cudaEventRecord");
  check(cudaStreamWaitEvent(s.stream, s.ready, 0), "cudaStreamWaitEvent");
  check(ncclGroupStart(), "ncclGroupStart");
  for (std::size_t r = 0; r + 1 < bounds.size(); ++r)
    check(ncclBroadcast(data + bounds[r], data + bounds[r], bounds[r + 1] - bounds[r], ncclFloat, int(r), s.comm,
                        s.stream),
          "ncclBroadcast");
  check(ncclGroupEnd(), "ncclGroupEnd");
}

// A watchdog: a rank that dies during a reduction leaves the others' NCCL kernels waiting for
// it forever. The host polls the reductions' completion and NCCL's asynchronous error; on an
// error, or past the timeout (--comm-timeout), it aborts the communicator (which ends the
// waiting kernels) and stops with one line.
void nccl_wait() {
  NcclState& s = state();
  if (!s.comm) throw Error("NCCL: the communicator was aborted after an earlier failure");
  check(cudaEventRecord(s.done, s.stream), "cudaEventRecord");
  // The clock starts when the compute stream has reached the last collective (backward may
  // still be running when this is called): only waiting for other ranks counts.
  for (;;) {
    const cudaError_t q = cudaEventQuery(s.ready);
    if (q == cudaSuccess) break;
    if (q != cudaErrorNotReady) check(q, "the step before the NCCL collective (cudaEventQuery)");
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const cudaError_t q = cudaEventQuery(s.done);
    if (q == cudaSuccess) break;
    if (q != cudaErrorNotReady) check(q, "an NCCL collective (cudaEventQuery)");
    ncclResult_t async = ncclSuccess;
    check(ncclCommGetAsyncError(s.comm, &async), "ncclCommGetAsyncError");
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (async != ncclSuccess || waited > s.timeout_s) {
      ncclCommAbort(s.comm);
      s.comm = nullptr;
      if (async != ncclSuccess)
        throw Error(std::string("an NCCL collective failed: ") + ncclGetErrorString(async) +
                    " (another rank may have died); communicator aborted");
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", s.timeout_s);
      throw Error(std::string("an NCCL collective did not finish within --comm-timeout ") + buf +
                  " s (a rank may have died or hung); communicator aborted");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  check(cudaStreamWaitEvent(compute_stream(), s.done, 0), "cudaStreamWaitEvent");
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
