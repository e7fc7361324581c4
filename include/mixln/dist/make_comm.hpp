// mixln/dist/make_comm.hpp — the communicator a process should use: MPI when an MPI launcher
// started it (and MPI was compiled in), else the single-process LocalComm.
#pragma once

#include <cstdlib>
#include <memory>

#include "../error.hpp"
#include "communicator.hpp"
#if defined(MIXLN_WITH_MPI)
#include "mpi_comm.hpp"
#endif

namespace mixln {

inline std::unique_ptr<Communicator> make_host_communicator(double timeout_s) {
  if (!launched_by_mpi()) return std::make_unique<LocalComm>();
#if defined(MIXLN_WITH_MPI)
  return std::make_unique<MpiComm>(nullptr, nullptr, timeout_s);
#else
  (void)timeout_s;
  throw Error("started by an MPI launcher, but this trainer was built without MPI "
              "(install libopenmpi-dev and reconfigure)");
#endif
}

// This process's rank from the launcher's environment (0 when not launched by MPI).
inline int launcher_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

}  // namespace mixln
