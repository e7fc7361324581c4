// mixln/cli/backend_cli.hpp — what a backend adds to the command line.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "../dist/make_comm.hpp"
#include "args.hpp"

namespace mixln::cli {

// Flags a backend adds to every subcommand, and what it does with them before one runs
// (cli/cuda.hpp specialises this for the CUDA backend).
template <class Backend>
struct BackendCli {
  static std::vector<Option> options() { return {}; }
  static void configure(const std::string& /*subcommand*/, const Args& /*args*/) {}
  // The communicator for data-parallel training on this backend.
  static std::unique_ptr<Communicator> communicator(double timeout_s) { return make_host_communicator(timeout_s); }
  // Extra memory the backend needs for a step of R = B·T rows, for `info`.
  static std::size_t scratch_bytes(std::size_t /*R*/, std::size_t /*C*/, std::size_t /*I*/, std::size_t /*V*/,
                                   std::size_t /*H*/, std::size_t /*T*/) {
    return 0;
  }
};

}  // namespace mixln::cli
