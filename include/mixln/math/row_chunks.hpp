// mixln/math/row_chunks.hpp — how backward passes sum norm-parameter gradients over rows.
//
// Per-channel parameter gradients are summed per chunk of kRowsPerChunk rows into a partial
// row, then the chunks are added in order, so the result does not depend on how rows are
// spread over threads or thread blocks (and is the same run to run).
#pragma once

#include "../config.hpp"

namespace mixln {

inline constexpr int kRowsPerChunk = 32;
MIXLN_HD int row_chunks(int rows) { return (rows + kRowsPerChunk - 1) / kRowsPerChunk; }

}  // namespace mixln
