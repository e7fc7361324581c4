// mixln/error.hpp — the one exception type of mixln. Its message is a single line that names
// the file or flag concerned and what is wrong; the CLI prints it as `error: <message>`.
#pragma once

#include <stdexcept>
#include <string>

namespace mixln {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Error("path: what").
inline Error file_error(const std::string& path, const std::string& what) {
  return Error(path + ": " + what);
}

}  // namespace mixln
