// mixln/io/atomic_file.hpp — write a file completely or not at all.
//
// Bytes go to `<path>.tmp-<pid>` in the same directory, are flushed to disk, and the
// temporary is renamed over `path`. A crash or error leaves any previous file untouched.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "../error.hpp"

namespace mixln {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path)
      : path_(std::move(path)), tmp_(path_ + ".tmp-" + std::to_string(::getpid())) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw file_error(path_, std::string("cannot write: ") + std::strerror(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }

  void write(const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw file_error(path_, std::string("write failed: ") + std::strerror(errno));
      }
      p += w;
      n -= std::size_t(w);
    }
  }
  void write(std::string_view s) { write(s.data(), s.size()); }

  // Flushes and renames into place; without commit() the destructor discards the temporary.
  void commit() {
    if (::fsync(fd_) != 0)
      throw file_error(path_, std::string("fsync failed: ") + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int e = errno;
      ::unlink(tmp_.c_str());
      throw file_error(path_, std::string("cannot rename into place: ") + std::strerror(e));
    }
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

// Writes `text` to `path` atomically.
inline void write_file_atomic(const std::string& path, std::string_view text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

}  // namespace mixln
