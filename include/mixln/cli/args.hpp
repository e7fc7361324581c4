// mixln/cli/args.hpp — the trainer's command-line parser.
//
// `prog <subcommand> [--flag value | --flag=value | --switch]...`. Each subcommand declares
// its options; anything else is an error that names the flag. Values are checked when read
// (`--steps abc` → "error: --steps: 'abc' is not an integer").
#pragma once

#include <charconv>
#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../error.hpp"

namespace mixln::cli {

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

  long long integer(const std::string& k, long long def, long long min = LLONG_MIN) const {
    if (!has(k)) return def;
    const std::string& s = values_.at(k).front();
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
      throw Error("--" + k + ": '" + s + "' is not an integer");
    if (v < min) throw Error("--" + k + ": " + s + " is below the minimum " + std::to_string(min));
    return v;
  }
  long long required_integer(const std::string& k, long long min = LLONG_MIN) const {
    required(k);
    return integer(k, 0, min);
  }

  double real(const std::string& k, double def) const {
    if (!has(k)) return def;
    const std::string& s = values_.at(k).front();
    try {
      std::size_t pos = 0;
      const double v = std::stod(s, &pos);
      if (pos != s.size()) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      throw Error("--" + k + ": '" + s + "' is not a number");
    }
  }

 private:
  std::string command_;
  std::map<std::string, Option> spec_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace mixln::cli
