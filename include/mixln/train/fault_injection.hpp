// mixln/train/fault_injection.hpp — faults on request, for the distributed tests:
// MIXLN_FAULT_KILL=RANK:STEP makes that rank die (SIGKILL) during that step, after the gradient
// reduction; MIXLN_FAULT_STOP=RANK:STEP makes it hang (SIGSTOP), so that the others' collective
// times out (tests/cli_mpi.sh).
#pragma once

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace mixln {

struct InjectedFault {
  int rank = -1;
  long long step = -1;
  int signal = 0;

  // Read from the environment; none (rank -1) when neither variable is set.
  static InjectedFault from_environment() {
    for (auto [var, sig] : {std::pair{"MIXLN_FAULT_KILL", SIGKILL}, std::pair{"MIXLN_FAULT_STOP", SIGSTOP}})
      if (const char* v = std::getenv(var)) {
        InjectedFault f;
        if (std::sscanf(v, "%d:%lld", &f.rank, &f.step) == 2) {
          f.signal = sig;
          return f;
        }
      }
    return {};
  }
  // Raises the signal if this is the rank and the (1-based) step.
  void at(int this_rank, long long this_step) const {
    if (rank == this_rank && step == this_step) std::raise(signal);
  }
};

}  // namespace mixln
