// mixln/io/run_lock.hpp — one writer per run folder, and no leftovers of dead writers.
//
// A trainer holds an exclusive flock(2) on RUN_DIR/.lock while it writes the folder; a second
// trainer started on the same folder gets a clear error instead of interleaving checkpoints.
// The kernel drops the lock when its holder dies, however it dies, so a lock never goes stale.
// Holding the lock, the trainer removes what killed writers left behind: checkpoint folders
// being written (.ckpt-tmp-PID, .ckpt-old-PID) and files being written (NAME.tmp-PID).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../error.hpp"

namespace mixln {

class RunLock {
 public:
  RunLock() = default;
  // Creates `dir` if needed and locks it; throws naming the holder if another process has it.
  explicit RunLock(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw file_error(dir, "cannot create the run folder: " + ec.message());
    path_ = (fs::path(dir) / ".lock").string();
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw file_error(path_, std::string("cannot open the run's lock: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      std::string holder;
      std::ifstream(path_) >> holder;
      ::close(fd_);
      fd_ = -1;
      if (e == EWOULDBLOCK)
        throw file_error(dir, "is being written by another trainer" +
                                  (holder.empty() ? std::string() : " (pid " + holder + ")") +
                                  "; wait for it to end, or choose another --out");
      throw file_error(path_, std::string("cannot lock: ") + std::strerror(e));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
      // the pid is a courtesy for the message above; the lock itself is what counts
    }
  }
  RunLock(RunLock&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) { o.fd_ = -1; }
  RunLock& operator=(RunLock&& o) noexcept {
    std::swap(path_, o.path_);
    std::swap(fd_, o.fd_);
    return *this;
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  bool held() const { return fd_ >= 0; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Whether `name` is what a writer leaves while it works: ".ckpt-tmp-PID", ".ckpt-old-PID" or
// "NAME.tmp-PID" (io/atomic_file.hpp).
inline bool is_temporary_name(const std::string& name) {
  auto digits_after = [&](std::size_t pos) {
    if (pos >= name.size()) return false;
    for (std::size_t i = pos; i < name.size(); ++i)
      if (name[i] < '0' || name[i] > '9') return false;
    return true;
  };
  for (const char* prefix : {".ckpt-tmp-", ".ckpt-old-"})
    if (name.rfind(prefix, 0) == 0 && digits_after(std::strlen(prefix))) return true;
  const std::size_t t = name.rfind(".tmp-");
  return t != std::string::npos && t > 0 && digits_after(t + 5);
}

// Removes the temporaries of dead writers from `dir` (call it holding the run's lock: then
// every writer of the folder is dead). Returns their names.
inline std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return removed;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (!is_temporary_name(n)) continue;
    fs::remove_all(e.path(), ec);
    if (ec) throw file_error(e.path().string(), "cannot remove a dead writer's temporary: " + ec.message());
    removed.push_back(n);
  }
  return removed;
}

}  // namespace mixln
