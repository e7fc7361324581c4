// mixln/data/idx.hpp — the IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, the
// type, the number of dimensions), each dimension as a big-endian uint32, then the data, row-major.
// Only unsigned bytes (type 0x08) are read: images [N, H, W] and labels [N].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../error.hpp"

namespace mixln {

struct IdxArray {
  std::vector<std::uint64_t> dims;
  std::vector<std::uint8_t> data;  // the product of dims bytes, row-major
};

// Parses the (decompressed) bytes of an IDX file; `path` names it in errors. A wrong magic, a
// dimension of 0, or a size that is not the header's product is one error.
inline IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& path) {
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0)
    throw file_error(path, "is not an IDX file (its first two bytes are not 0)");
  if (bytes[2] != 0x08)
    throw file_error(path, "holds IDX type " + std::to_string(int(bytes[2])) + ", not unsigned bytes (8)");
  const int nd = bytes[3];
  if (nd < 1 || nd > 4) throw file_error(path, "has " + std::to_string(nd) + " dimensions (1 to 4 are read)");
  if (bytes.size() < 4 + 4 * std::size_t(nd)) throw file_error(path, "ends inside its IDX header");
  IdxArray a;
  std::uint64_t n = 1;
  for (int k = 0; k < nd; ++k) {
    const std::uint8_t* p = bytes.data() + 4 + 4 * k;
    const std::uint64_t d = (std::uint64_t(p[0]) << 24) | (std::uint64_t(p[1]) << 16) | (std::uint64_t(p[2]) << 8) | p[3];
    if (d == 0) throw file_error(path, "has a dimension of size 0");
    if (n > bytes.size() / d) throw file_error(path, "is shorter than its IDX header's sizes say");
    n *= d;  // no overflow: n·d ≤ the file's size
    a.dims.push_back(d);
  }
  const std::size_t header = 4 + 4 * std::size_t(nd);
  if (bytes.size() - header != n)
    throw file_error(path, "holds " + std::to_string(bytes.size() - header) + " bytes of data, not the " +
                               std::to_string(n) + " its IDX header says");
  a.data.assign(bytes.begin() + long(header), bytes.end());
  return a;
}

}  // namespace mixln
