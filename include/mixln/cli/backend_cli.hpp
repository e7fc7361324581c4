// mixln/cli/backend_cli.hpp — what a backend adds to the command line.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../cpu/backend.hpp"
#include "../dist/make_comm.hpp"
#include "../error.hpp"
#include "../precision.hpp"
#include "args.hpp"
#include "engine_select.hpp"

namespace mixln::cli {

// What a host-memory backend adds by default: no flags, MPI through the host.
struct HostBackendCli {
  static std::vector<Option> options() { return {}; }
  static void configure(const std::string& /*subcommand*/, const Args& /*args*/) {}
  // The communicator for data-parallel training on this backend.
  static std::unique_ptr<Communicator> communicator(double timeout_s) { return make_host_communicator(timeout_s); }
  // Extra memory the backend needs for a step of R = B·T rows in a precision, for `info`.
  static std::size_t scratch_bytes(Precision, std::size_t /*R*/, std::size_t /*C*/, std::size_t /*I*/, std::size_t /*V*/,
                                   std::size_t /*H*/, std::size_t /*T*/) {
    return 0;
  }
};

// Flags a backend adds to every subcommand, and what it does with them before one runs
// (below for the fp32 CPU trainers; cli/cuda.hpp for the CUDA backend).
template <class Backend>
struct BackendCli : HostBackendCli {};

// The CPU trainers: `--precision fp32|bf16` (GEMM inputs; fp32 by default). bf16 runs on oneDNN
// where the CPU has bf16 instructions and the program was built with it, and is emulated (with
// a note on stderr: slower than fp32) elsewhere.
template <>
struct BackendCli<cpu::Backend<float>> : HostBackendCli {
  static std::vector<Option> options() {
    return {{"precision", true, "GEMM inputs: fp32, or bf16 (rounded, fp32 accumulation, as on the GPU) (fp32)"}};
  }
  static void configure(const std::string& subcommand, const Args& a) {
    const Precision p = precision_arg<cpu::Backend<float>>(a);  // an unknown --precision stops here
    if (subcommand != "info" && p == Precision::bf16 && !cpu::bf16_gemm_native())
      std::fprintf(stderr, "note: --precision bf16: %s\n", cpu::bf16_gemm_description().c_str());
  }
  // bf16: the rounded copies of GEMM inputs (cpu/gemm_bf16.hpp; bf16 bits natively, rounded
  // floats when emulated). Natively a bf16 activation is read where it is, so only fp32 inputs
  // are copied: the stream's gradient and h ([R, C]; [R, 3C] for an attention norm's q/k/v
  // gradient), the largest weight; emulated, every input is. Per thread, attention's dense
  // q/k/v/dO of one head and a block of P, and the fp32 dQ/dK/dV of one head.
  static std::size_t scratch_bytes(Precision p, std::size_t R, std::size_t C, std::size_t I, std::size_t V,
                                   std::size_t H, std::size_t T) {
    if (p != Precision::bf16) return 0;
    const bool native = cpu::bf16_gemm_native();
    const std::size_t es = native ? 2 : 4;
    const std::size_t dy = native ? R * 3 * C : R * std::max({V, 2 * I, 3 * C}),
                      a = native ? R * C : R * std::max(C, I),
                      other = std::max({V * C, 2 * I * C, native ? R * C : R * std::max(C, I)});
    const std::size_t D = C / H;
    const std::size_t per_thread = es * (4 * T * D + std::size_t(cpu::kQueryBlock) * T) + 4 * 3 * T * D;
    return es * (dy + a + other) + std::size_t(omp_get_max_threads()) * per_thread;
  }
};

}  // namespace mixln::cli
