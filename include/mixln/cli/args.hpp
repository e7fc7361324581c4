// mixln/cli/args.hpp — the trainer's command-line parser.
//
// `prog <subcommand> [--flag value | --flag=value | --switch]...`. Each subcommand declares
// its options; anything else is an error that names the flag. Values are checked when read,
// each against the range the caller gives: integers are parsed in 64 bits and a value outside
// its range (an `int` flag above 2147483647, say) is an error, never cut; reals must be finite
// and in range (`--lr nan`, `--lr 1e39` → "error: --lr: ..."). This parser stays hand-written:
// it is one screen long, every message names the flag, and CLI11 (in Debian) would add a
// dependency without removing a class of bug these checks leave.
#pragma once

#include <cfloat>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../error.hpp"

namespace mixln::cli {

// 1e-08, 3.4e+38: short enough for a message.
inline std::string short_real(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

struct Option {
  std::string name;  // without the leading --
  bool takes_value = true;
  std::string help;
  bool repeatable = false;  // --text a b c: takes every value up to the next flag
};

class Args {
 public:
  Args(const std::string& command, const std::vector<Option>& options, int argc, char** argv,
       int first)
      : command_(command) {
    for (auto& o : options) spec_[o.name] = o;
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0 || a.size() == 2)
        throw Error("unexpected argument '" + a + "' for '" + command + "' (flags start with --)");
      std::string key = a.substr(2), value;
      bool has_inline = false;
      if (auto eq = key.find('='); eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
        has_inline = true;
      }
      auto it = spec_.find(key);
      if (it == spec_.end())
        throw Error("unknown flag --" + key + " for '" + command + "' (see '" + command +
                    " --help')");
      if (values_.count(key) && !it->second.repeatable)
        throw Error("--" + key + " is given twice");
      if (!it->second.takes_value) {
        if (has_inline) throw Error("--" + key + " takes no value");
        values_[key].push_back("1");
        continue;
      }
      if (has_inline) {
        values_[key].push_back(value);
        continue;
      }
      if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)
        throw Error("--" + key + " needs a value");
      values_[key].push_back(argv[++i]);
      if (it->second.repeatable)
        while (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
          values_[key].push_back(argv[++i]);
    }
  }

  bool has(const std::string& k) const { return values_.count(k) > 0; }
  bool flag(const std::string& k) const { return has(k); }

  std::string str(const std::string& k, const std::string& def) const {
    return has(k) ? values_.at(k).front() : def;
  }
  std::string required(const std::string& k) const {
    if (!has(k)) throw Error("'" + command_ + "' needs --" + k);
    return values_.at(k).front();
  }
  std::vector<std::string> list(const std::string& k) const {
    return has(k) ? values_.at(k) : std::vector<std::string>{};
  }

  // A 64-bit integer in [min, max].
  long long integer(const std::string& k, long long def, long long min = LLONG_MIN,
                    long long max = LLONG_MAX) const {
    if (!has(k)) return def;
    const std::string& s = values_.at(k).front();
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range)
      throw Error("--" + k + ": " + s + " does not fit in 64 bits");
    if (ec != std::errc() || p != s.data() + s.size())
      throw Error("--" + k + ": '" + s + "' is not an integer");
    if (v < min) throw Error("--" + k + ": " + s + " is below the minimum " + std::to_string(min));
    if (v > max) throw Error("--" + k + ": " + s + " is above the maximum " + std::to_string(max));
    return v;
  }
  // An integer in [min, max] that must fit an int (sizes, counts of steps within a run).
  int int32(const std::string& k, long long def, long long min = INT_MIN, long long max = INT_MAX) const {
    return int(integer(k, def, min, max < INT_MAX ? max : INT_MAX));
  }
  long long required_integer(const std::string& k, long long min = LLONG_MIN, long long max = LLONG_MAX) const {
    required(k);
    return integer(k, 0, min, max);
  }
  // A 64-bit seed: any non-negative integer.
  std::uint64_t seed(const std::string& k, std::uint64_t def = 0) const {
    return std::uint64_t(integer(k, (long long)def, 0));
  }

  // A finite real in [lo, hi] (or (lo, hi] with open_lo): NaN, ±inf and out-of-range values
  // are errors that name the flag.
  double real(const std::string& k, double def, double lo = -DBL_MAX, double hi = DBL_MAX,
              bool open_lo = false) const {
    if (!has(k)) return def;
    const std::string& s = values_.at(k).front();
    double v = 0;
    try {
      std::size_t pos = 0;
      v = std::stod(s, &pos);
      if (pos != s.size()) throw std::invalid_argument(s);
    } catch (const std::out_of_range&) {
      throw Error("--" + k + ": " + s + " is out of the range of a double");
    } catch (const std::exception&) {
      throw Error("--" + k + ": '" + s + "' is not a number");
    }
    if (!std::isfinite(v)) throw Error("--" + k + ": '" + s + "' is not a finite number");
    if (v < lo || v > hi || (open_lo && v == lo))
      throw Error("--" + k + ": " + s + " is outside " + (open_lo ? "(" : "[") + short_real(lo) + ", " +
                  short_real(hi) + "]");
    return v;
  }
  // A finite real in [lo, hi] that must also be finite as a float (learning rates, Adam's
  // constants, which the optimizer holds in single precision).
  float real_float(const std::string& k, double def, double lo = -FLT_MAX, double hi = FLT_MAX,
                   bool open_lo = false) const {
    return float(real(k, def, lo < -FLT_MAX ? -FLT_MAX : lo, hi > FLT_MAX ? FLT_MAX : hi, open_lo));
  }

 private:
  std::string command_;
  std::map<std::string, Option> spec_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace mixln::cli
