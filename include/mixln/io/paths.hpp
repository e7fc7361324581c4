// mixln/io/paths.hpp — which paths are the same, so that no command writes over its own input.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../error.hpp"

namespace mixln {

// Whether a and b name the same file or folder, existing or not (hard links and symbolic
// links included where both exist).
inline bool same_path(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec1, ec2;
  if (fs::exists(a, ec1) && fs::exists(b, ec2)) {
    std::error_code ec;
    const bool eq = fs::equivalent(a, b, ec);
    if (!ec) return eq;
  }
  return fs::weakly_canonical(a, ec1) == fs::weakly_canonical(b, ec2);
}

// Whether `path` is folder `dir` or lies inside it.
inline bool path_inside(const std::string& path, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(path, ec), d = fs::weakly_canonical(dir, ec);
  auto pi = p.begin(), di = d.begin();
  for (; di != d.end(); ++di, ++pi) {
    if (di->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

// One input of a command: its flag and the path it names.
struct NamedPath {
  std::string flag, path;
};

// Refuses an output (`--out X`) that is one of the command's inputs.
inline void check_not_an_input(const NamedPath& out, const std::vector<NamedPath>& inputs) {
  for (const NamedPath& in : inputs)
    if (!in.path.empty() && same_path(out.path, in.path))
      throw Error(out.flag + " " + out.path + " is also " + in.flag +
                  ": writing it would destroy the input; choose another " + out.flag);
}

// Refuses an output folder that is, or lies inside, or contains one of the inputs.
inline void check_folder_apart(const NamedPath& out_dir, const std::vector<NamedPath>& inputs) {
  for (const NamedPath& in : inputs) {
    if (in.path.empty()) continue;
    if (path_inside(in.path, out_dir.path) || path_inside(out_dir.path, in.path))
      throw Error(out_dir.flag + " " + out_dir.path + " overlaps " + in.flag + " " + in.path +
                  ": writing there could destroy the input; choose another " + out_dir.flag);
  }
}

}  // namespace mixln
