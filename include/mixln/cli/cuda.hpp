// mixln/cli/cuda.hpp — the trainer command line on the CUDA backend.
//
//   int main(int argc, char** argv) { return mixln::cli::main<Net, mixln::cuda::Backend>(argc, argv); }
//
// adds `--precision bf16|tf32|fp32` (GEMM inputs; bf16 by default) and `--cuda-graph on|off`
// (micro-steps replayed as CUDA graphs; on by default) to every subcommand, and
// refuses to compute without a GPU with one clear line. `info` needs no GPU.
#pragma once

#include <string>
#include <vector>

#include "../cuda/backend.hpp"
#include "../dist/communicator.hpp"
#include "../dist/make_comm.hpp"
#include "main.hpp"
#if defined(MIXLN_WITH_MPI) && defined(MIXLN_WITH_NCCL)
#include "../dist/nccl_comm.hpp"
#endif

namespace mixln::cli {

template <>
struct BackendCli<cuda::Backend> {
  static std::vector<Option> options() {
    return {{"precision", true, "GEMM inputs on the GPU: bf16 (fp32 accumulation), tf32 or fp32 (bf16)"},
            {"cuda-graph", true, "on|off: each micro-step captured once as a CUDA graph and replayed (on)"}};
  }
  static void configure(const std::string& subcommand, const Args& a) {
    precision_arg<cuda::Backend>(a);  // an unknown --precision stops here, even for `info`
    const std::string graphs = a.str("cuda-graph", "on");
    if (graphs != "on" && graphs != "off") throw Error("--cuda-graph must be on or off, not '" + graphs + "'");
    if (subcommand == "info") return;
    cuda::set_graphs_enabled(graphs == "on");
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (!probe.usable())
      throw Error(probe.describe() + (probe.absent() ? "; run the CPU trainer (the same name without _cuda) instead" : ""));
    // Under an MPI launcher each rank takes the GPU of its rank on the node, before MPI_Init and
    // NCCL (or CUDA-aware MPI) touch a device; without the launcher saying, its global rank.
    if (launched_by_mpi()) {
      const int local = launcher_local_rank();
      cuda::set_device((local >= 0 ? local : launcher_rank()) % probe.count);
    }
  }
  // Under mpirun: NCCL for the gradients when it was compiled in, else MPI through the host.
  static std::unique_ptr<Communicator> communicator(double timeout_s) {
#if defined(MIXLN_WITH_MPI) && defined(MIXLN_WITH_NCCL)
    if (launched_by_mpi()) return std::make_unique<NcclComm>(timeout_s);
#endif
    return make_host_communicator(timeout_s);
  }
  static std::size_t scratch_bytes(Precision p, std::size_t R, std::size_t C, std::size_t I, std::size_t V,
                                   std::size_t H, std::size_t T) {
    return p == Precision::bf16 ? bf16_staging_bytes(R, C, I, V, H, T) : 0;
  }
};

}  // namespace mixln::cli
