// mixln/train/run_log.hpp — RUN_DIR/log.jsonl and the terminal progress line.
//
// log.jsonl gets one JSON object per step ({"step", "loss", "lr", "tok_s", "grad_norm"}) and
// per evaluation ({"step", "val_loss", "val_ppl", "tokens"}). On resume, lines after the
// checkpoint's step are dropped, so the log reads as one uninterrupted run.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../error.hpp"
#include "../io/atomic_file.hpp"

namespace mixln {

class RunLog {
 public:
  // keep_through_step < 0: start a new log; otherwise keep entries with step ≤ it.
  RunLog(const std::string& path, long long keep_through_step) : path_(path) {
    std::string kept;
    if (keep_through_step >= 0 && std::filesystem::exists(path)) {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        try {
          if (nlohmann::json::parse(line).value("step", 0ll) <= keep_through_step) kept += line + "\n";
        } catch (const nlohmann::json::exception&) {
          break;  // a torn last line of a killed run
        }
      }
    }
    write_file_atomic(path, kept);
    f_ = std::fopen(path.c_str(), "a");
    if (!f_) throw file_error(path, "cannot append");
  }
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  ~RunLog() {
    if (f_) std::fclose(f_);
  }
  void write(const nlohmann::ordered_json& j) {
    const std::string s = j.dump() + "\n";
    std::fwrite(s.data(), 1, s.size(), f_);
    std::fflush(f_);
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

inline std::string format_duration(double s) {
  char buf[32];
  const long long t = (long long)(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%llds", t);
  return buf;
}

// One status line: redrawn in place on a terminal, printed every `every` steps otherwise.
class Progress {
 public:
  // rate_unit: what the rate counts per second ("tok", or "img" for a vision model).
  Progress(long long total, bool quiet, const char* rate_unit = "tok")
      : total_(total), quiet_(quiet), tty_(::isatty(2)), unit_(rate_unit) {
    every_ = std::max(1ll, total / 20);
  }
  void step(long long s, double loss, double lr, double rate, double eta_s) {
    if (quiet_) return;
    char buf[160];
    std::snprintf(buf, sizeof buf, "step %lld/%lld | loss %.4f | lr %.2e | %.0f %s/s | ETA %s", s,
                  total_, loss, lr, rate, unit_, format_duration(eta_s).c_str());
    if (tty_) {
      std::fprintf(stderr, "\r%-100s", buf);
      std::fflush(stderr);
    } else if (s % every_ == 0 || s == total_) {
      std::printf("%s\n", buf);
      std::fflush(stdout);
    }
  }
  void message(const std::string& m) {
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r%-100s\r", "");
    std::printf("%s\n", m.c_str());
    std::fflush(stdout);
  }
  void done() {
    if (!quiet_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  long long total_, every_;
  bool quiet_, tty_;
  const char* unit_;
};

}  // namespace mixln
