// golden_check — compares mixln's outputs with golden data, for the command-line tests.
//
//   golden_check compare OUT.safetensors REF.safetensors RTOL
//       every tensor of REF is in OUT with the same shape and ||out − ref|| / ||ref|| ≤ RTOL
//   golden_check layer-norms REF_GRADS.safetensors NORMS.csv RTOL
//       the CSV `layer,grad_norm` matches the per-layer norms of the reference gradients
//   golden_check csv OUT.csv REF.csv RTOL
//       same header, same rows; each number within RTOL · max(1, largest |value| of its row)
//   golden_check finite F.safetensors
//       every value of every floating-point tensor is finite
//   golden_check poison IN.safetensors OUT.safetensors
//       a copy of IN (as F32) with the first value of its first tensor set to NaN
//   golden_check drop IN.safetensors OUT.safetensors NAME
//       a copy of IN (as F32) without tensor NAME
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <mixln/io/safetensors.hpp>
#include <algorithm>
#include <string>
#include <vector>

using namespace mixln;

static std::vector<double> read(const safetensors::File& f, const safetensors::TensorInfo& t) {
  std::vector<double> v(t.numel());
  f.read_float(t.name, t.shape, v.data());
  return v;
}

static int compare(const std::string& out_path, const std::string& ref_path, double rtol) {
  safetensors::File out(out_path), ref(ref_path);
  int bad = 0;
  for (auto& t : ref.tensors()) {
    const auto* o = out.find(t.name);
    if (!o || o->shape != t.shape) {
      std::printf("%s: missing or wrong shape\n", t.name.c_str());
      ++bad;
      continue;
    }
    const auto a = read(out, *o), b = read(ref, t);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    if (!(rel <= rtol)) {
      std::printf("%s: relative error %.3g > %.3g\n", t.name.c_str(), rel, rtol);
      ++bad;
    }
  }
  if (bad) return 1;
  std::printf("all %zu tensors within relative error %g\n", ref.tensors().size(), rtol);
  return 0;
}

static int layer_norms(const std::string& ref_path, const std::string& csv, double rtol) {
  safetensors::File ref(ref_path);
  std::map<int, double> sq;
  for (auto& t : ref.tensors()) {
    if (t.name.rfind("model.layers.", 0) != 0) continue;
    const int layer = std::stoi(t.name.substr(13));
    for (double v : read(ref, t)) sq[layer] += v * v;
  }
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  if (line != "layer,grad_norm") {
    std::printf("%s: header is '%s'\n", csv.c_str(), line.c_str());
    return 1;
  }
  int n = 0, bad = 0;
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    const int layer = std::stoi(line.substr(0, comma));
    const double got = std::stod(line.substr(comma + 1)), want = std::sqrt(sq[layer]);
    if (!(std::abs(got - want) <= rtol * want)) {
      std::printf("layer %d: %.6g, expected %.6g\n", layer, got, want);
      ++bad;
    }
    ++n;
  }
  if (bad || n != int(sq.size())) return 1;
  std::printf("%d layers within relative error %g\n", n, rtol);
  return 0;
}

static std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::size_t pos = 0;
    for (;;) {
      const auto c = line.find(',', pos);
      cells.push_back(line.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
    rows.push_back(cells);
  }
  return rows;
}

static int compare_csv(const std::string& out_path, const std::string& ref_path, double rtol) {
  const auto out = read_csv(out_path), ref = read_csv(ref_path);
  if (out.empty() || ref.empty() || out[0] != ref[0] || out.size() != ref.size()) {
    std::printf("%s: header or row count differs from %s\n", out_path.c_str(), ref_path.c_str());
    return 1;
  }
  int bad = 0;
  for (std::size_t r = 1; r < ref.size(); ++r) {
    if (out[r].size() != ref[r].size()) return std::printf("row %zu: column count differs\n", r), 1;
    double scale = 1;
    for (auto& c : ref[r]) scale = std::max(scale, std::abs(std::stod(c)));
    for (std::size_t c = 0; c < ref[r].size(); ++c) {
      const double a = std::stod(out[r][c]), b = std::stod(ref[r][c]);
      if (!(std::abs(a - b) <= rtol * scale)) {
        std::printf("row %zu, %s: %.9g, expected %.9g\n", r, ref[0][c].c_str(), a, b);
        ++bad;
      }
    }
  }
  if (bad) return 1;
  std::printf("all %zu rows within %g\n", ref.size() - 1, rtol);
  return 0;
}

static int finite(const std::string& path) {
  safetensors::File f(path);
  for (auto& t : f.tensors()) {
    if (t.dtype != safetensors::DType::F32 && t.dtype != safetensors::DType::BF16 &&
        t.dtype != safetensors::DType::F16)
      continue;
    for (double v : read(f, t))
      if (!std::isfinite(v)) {
        std::printf("%s: tensor '%s' holds non-finite values\n", path.c_str(), t.name.c_str());
        return 1;
      }
  }
  std::printf("all %zu tensors finite\n", f.tensors().size());
  return 0;
}

static int drop(const std::string& in_path, const std::string& out_path, const std::string& name) {
  safetensors::File in(in_path);
  safetensors::Writer w;
  w.metadata("format", "pt");
  for (auto& t : in.tensors())
    if (t.name != name) w.add(t.name, t.shape, read(in, t).data());
  w.write(out_path);
  return 0;
}

static int poison(const std::string& in_path, const std::string& out_path) {
  safetensors::File in(in_path);
  safetensors::Writer w;
  bool first = true;
  for (auto& t : in.tensors()) {
    std::vector<double> v = read(in, t);
    if (first && !v.empty()) v[0] = std::nan(""), first = false;
    w.add(t.name, t.shape, v.data());
  }
  w.write(out_path);
  return 0;
}

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "compare" && argc == 5) return compare(argv[2], argv[3], std::stod(argv[4]));
    if (cmd == "layer-norms" && argc == 5) return layer_norms(argv[2], argv[3], std::stod(argv[4]));
    if (cmd == "csv" && argc == 5) return compare_csv(argv[2], argv[3], std::stod(argv[4]));
    if (cmd == "finite" && argc == 3) return finite(argv[2]);
    if (cmd == "poison" && argc == 4) return poison(argv[2], argv[3]);
    if (cmd == "drop" && argc == 5) return drop(argv[2], argv[3], argv[4]);
    std::fprintf(stderr, "usage: golden_check compare OUT REF RTOL | layer-norms REF CSV RTOL | csv OUT REF RTOL | "
                         "finite F | poison IN OUT | drop IN OUT NAME\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
