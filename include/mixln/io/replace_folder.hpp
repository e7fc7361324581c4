// mixln/io/replace_folder.hpp — a folder written beside its destination (`OUT.tmp-PID`) and put
// in place as a whole, so that a failure leaves the previous folder as it was (mixln-prepare,
// mixln-prepare-images).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

#include "../error.hpp"

namespace mixln {

// Removes `dir/PREFIX<pid>` entries whose process is gone (a killed mixln-prepare's folders).
inline void remove_dead_siblings(const std::filesystem::path& dir, const std::string& prefix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(prefix, 0) != 0) continue;
    const std::string pid = n.substr(prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(pid_t(std::stol(pid)), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
}

// Puts the finished folder `ready` in place of `out` as a whole: by an atomic exchange of the
// two names where the file system has one (renameat2 RENAME_EXCHANGE), else by two renames;
// the previous folder is then removed.
inline void replace_folder(const std::string& ready, const std::string& out) {
  namespace fs = std::filesystem;
  if (!fs::exists(out)) {
    fs::rename(ready, out);
    return;
  }
  if (::renameat2(AT_FDCWD, ready.c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(ready);  // now the previous folder
    return;
  }
  const std::string old = out + ".old-" + std::to_string(::getpid());
  fs::rename(out, old);
  fs::rename(ready, out);
  fs::remove_all(old);
}

// Refuses an `out` that is a file, or a folder holding a file `is_mine` does not recognise: the
// tool (named in the message) replaces its folder as a whole and must not delete the user's files.
template <class IsMine>
void refuse_foreign_files(const std::string& out, IsMine&& is_mine, const std::string& tool) {
  namespace fs = std::filesystem;
  if (!fs::exists(out)) return;
  if (!fs::is_directory(out)) throw file_error(out, "exists and is not a folder");
  for (auto& e : fs::directory_iterator(out))
    if (!is_mine(e.path().filename().string()))
      throw file_error(out, "holds " + e.path().filename().string() + ", which " + tool +
                                " did not write; it replaces its --out folder as a whole, so give a new or "
                                "empty folder");
}

// A folder written beside `out` (`OUT.tmp-PID`, in out's parent, created if missing) and put in
// its place as a whole by commit(); destroyed uncommitted (an exception), it removes itself and
// `out` stays as it was. A killed writer's leftover `OUT.tmp-PID` is removed by the next one.
class StagedFolder {
 public:
  explicit StagedFolder(const std::string& out) {
    namespace fs = std::filesystem;
    fs::path out_path = fs::absolute(fs::path(out)).lexically_normal();
    if (!out_path.has_filename()) out_path = out_path.parent_path();  // "DIR/" names DIR
    const fs::path parent = out_path.parent_path();
    fs::create_directories(parent);
    const std::string stem = out_path.filename().string();
    remove_dead_siblings(parent, stem + ".tmp-");
    out_ = out_path.string();
    work_ = (parent / (stem + ".tmp-" + std::to_string(::getpid()))).string();
    fs::remove_all(work_);
    fs::create_directories(work_);
  }
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;
  ~StagedFolder() {
    std::error_code ec;
    if (!committed_) std::filesystem::remove_all(work_, ec);
  }
  const std::string& path() const { return work_; }  // where to write
  void commit() {
    replace_folder(work_, out_);
    committed_ = true;
  }

 private:
  std::string out_, work_;
  bool committed_ = false;
};

}  // namespace mixln
