// mixln/cuda/stream.cuh — the stream every mixln kernel, copy and cuBLAS call is issued on.
//
// One non-blocking stream per process (created on first use, on the current device): the
// engine's work is one ordered sequence on it, so a micro-step can be captured as a CUDA graph
// and nothing waits on the legacy default stream. Defined in src/cuda/ops.cu.
#pragma once

#include <cuda_runtime.h>

namespace mixln::cuda {

cudaStream_t compute_stream();

}  // namespace mixln::cuda
