// mixln/precision.hpp — the precision of GEMM inputs, as a value: `--precision fp32|tf32|bf16`.
//
// One enum, one name, one parser. A precision is chosen once (the trainers' `--precision`, or
// the engine's constructor) and flows down as a value: Engine → BranchIO::precision → the
// backend ops that multiply matrices (linear_*, attention_*), as `--lr` flows into AdamW. There
// is no process-wide precision. Each backend lists the precisions it supports
// (`Backend::precisions`, its default first); the others are refused with one line.
//   fp32  full-precision GEMMs (the scalar's own: fp64 on cpu::Backend<double>)
//   tf32  TF32 tensor-core GEMMs with fp32 accumulation (CUDA)
//   bf16  both GEMM inputs rounded to bf16 (nearest even), fp32 accumulation (docs/design.md)
#pragma once

#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>

#include "error.hpp"

namespace mixln {

enum class Precision { fp32, tf32, bf16 };

constexpr const char* precision_name(Precision p) {
  return p == Precision::bf16 ? "bf16" : p == Precision::tf32 ? "tf32" : "fp32";
}

namespace detail {
// "fp32 or bf16" style lists: "neither fp32 nor bf16", "none of fp32, tf32, bf16".
template <class List>
std::string precision_choices(const List& allowed) {
  std::string names;
  int n = 0;
  for (Precision p : allowed)
    names += std::string(n++ ? (std::size(allowed) == 2 ? " nor " : ", ") : "") + precision_name(p);
  return (n == 2 ? "neither " : n == 1 ? "not " : "none of ") + names;
}
template <class List>
Precision parse_precision_among(std::string_view s, const List& allowed) {
  for (Precision p : allowed)
    if (s == precision_name(p)) return p;
  throw Error("--precision: '" + std::string(s) + "' is " + precision_choices(allowed));
}
}  // namespace detail

// "bf16" → Precision::bf16; any other name is an Error naming the flag.
inline Precision parse_precision(std::string_view s) {
  return detail::parse_precision_among(s, std::initializer_list<Precision>{Precision::fp32, Precision::tf32,
                                                                          Precision::bf16});
}
// The same among the precisions Backend supports: "--precision: 'tf32' is neither fp32 nor bf16".
template <class Backend>
Precision parse_precision(std::string_view s) {
  return detail::parse_precision_among(s, Backend::precisions);
}

// p, if Backend supports it; otherwise an Error that names what it supports.
template <class Backend>
Precision check_precision(Precision p) {
  std::string supported;
  for (Precision q : Backend::precisions) {
    if (q == p) return p;
    supported += std::string(supported.empty() ? "" : ", ") + precision_name(q);
  }
  throw Error(std::string("--precision ") + precision_name(p) + ": the " + Backend::name + " backend supports " +
              supported);
}

}  // namespace mixln
