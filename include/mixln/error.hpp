// mixln/error.hpp — the one exception type of mixln. Its message is a single line that names
// the file or flag concerned and what is wrong; the CLI prints it as `error: <message>`.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace mixln {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "[2, 3, 4]": a tensor shape as messages write it.
inline std::string format_shape(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Error("path: what").
inline Error file_error(const std::string& path, const std::string& what) {
  return Error(path + ": " + what);
}

}  // namespace mixln
