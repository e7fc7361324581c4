// mixln/math/row_chunks.hpp — how backward passes sum norm-parameter gradients over rows.
//
// Per-channel parameter gradients are summed per chunk of rows into a partial row, then the
// chunks are added in order, so the result does not depend on how rows are spread over threads
// or thread blocks (and is the same run to run). The CPU takes chunks of kRowsPerChunk rows (an
// OpenMP task each); CUDA takes chunks of kGpuRowsPerChunk rows (a thread block each), so that a
// small batch still fills the GPU: LLaMA-7B's micro-batch of 4 × 256 rows makes 256 blocks. The
// two backends therefore sum in different orders (the GPU tests compare within a tolerance).
// Partial buffers are sized for the smaller chunk (partial_rows), so either backend fits.
#pragma once

#include "../config.hpp"

namespace mixln {

inline constexpr int kRowsPerChunk = 32;
inline constexpr int kGpuRowsPerChunk = 4;
MIXLN_HD int row_chunks(int rows, int per_chunk = kRowsPerChunk) { return (rows + per_chunk - 1) / per_chunk; }
// Rows of a partial-sums buffer [partial_rows(rows), P + 1, n]: enough for either backend.
MIXLN_HD int partial_rows(int rows) { return row_chunks(rows, kGpuRowsPerChunk < kRowsPerChunk ? kGpuRowsPerChunk : kRowsPerChunk); }

}  // namespace mixln
