// What every fuzz target shares (tests/fuzz/README.md): mixln's parsers read files, so an input
// is written into a scratch folder first; a mixln::Error is a refusal, the expected outcome for
// most inputs; any other exception escapes the target and libFuzzer reports it as a crash, as it
// does a sanitizer's report, a leak, or an allocation beyond -malloc_limit_mb.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <mixln/error.hpp>

namespace mixln::fuzz {

// A folder of this process's own, removed at exit.
inline const std::filesystem::path& scratch() {
  struct Folder {
    std::filesystem::path path;
    Folder() : path(std::filesystem::temp_directory_path() / ("mixln_fuzz_" + std::to_string(::getpid()))) {
      std::filesystem::create_directories(path);
    }
    ~Folder() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Folder folder;
  return folder.path;
}

// Writes `size` bytes as scratch()/name (replacing it); returns its path.
inline std::string write_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path p = scratch() / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  return p.string();
}
inline std::string write_file(const std::string& name, const std::string& text) {
  return write_file(name, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

// Runs `parse`; its refusal (mixln::Error) is an answer, everything else propagates.
template <class Parse>
int accept_or_refuse(Parse&& parse) {
  try {
    parse();
  } catch (const mixln::Error&) {
  }
  return 0;
}

}  // namespace mixln::fuzz
