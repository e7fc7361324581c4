// mixln/dist/mpi_comm.hpp — the Communicator over MPI, with a timeout on every collective.
//
// Collectives are started non-blocking (MPI_Iallreduce, MPI_Ibarrier) and polled: if one
// does not complete within `timeout_s`, this rank prints one line naming the collective and
// the likely cause (another rank died) and aborts the job, instead of hanging. Only compiled
// where MPI is (CMake target mixln::mpi defines MIXLN_WITH_MPI).
#pragma once

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <climits>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>

#include "../error.hpp"
#include "communicator.hpp"

namespace mixln {

class MpiComm : public Communicator {
 public:
  MpiComm(int* argc, char*** argv, double timeout_s) : timeout_s_(timeout_s) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      if (MPI_Init(argc, argv) != MPI_SUCCESS) throw Error("MPI_Init failed");
      owns_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // When a rank dies, the launcher terminates the others with SIGTERM: say why, in one line.
    std::snprintf(term_message(), 160,
                  "error: rank %d: stopped by the MPI launcher (another rank failed, or the job was cancelled)\n",
                  rank_);
    std::signal(SIGTERM, [](int) {
      const char* m = term_message();
      std::size_t n = 0;
      while (m[n]) ++n;
      [[maybe_unused]] auto w = ::write(2, m, n);
      std::_Exit(1);
    });
  }
  ~MpiComm() override {
    if (owns_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi (" + std::to_string(size_) + " ranks)"; }

  void allreduce_sum(float* data, std::size_t n) override { allreduce(data, n, MPI_FLOAT); }
  void allreduce_sum(double* data, std::size_t n) override { allreduce(data, n, MPI_DOUBLE); }
  void barrier() override {
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    wait(req, "barrier");
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

  // ZeRO-1's collectives on host memory, with slices as shard_of() cuts them.
  void reduce_scatter_sum(float* data, std::size_t n) override {
    const auto [counts, displs] = slices(n);
    const auto [lo, hi] = shard(n);
    std::vector<float> mine(hi - lo);
    MPI_Request req;
    if (MPI_Ireduce_scatter(data, mine.data(), counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
      throw Error("MPI_Ireduce_scatter failed on rank " + std::to_string(rank_));
    wait(req, "reduce-scatter");
    std::copy(mine.begin(), mine.end(), data + lo);
  }
  void all_gather(float* data, std::size_t n) override {
    const auto [counts, displs] = slices(n);
    MPI_Request req;
    if (MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), displs.data(), MPI_FLOAT,
                        MPI_COMM_WORLD, &req) != MPI_SUCCESS)
      throw Error("MPI_Iallgatherv failed on rank " + std::to_string(rank_));
    wait(req, "all-gather");
  }
  void gather_to_root(const float* slice, std::size_t n, float* full) override {
    const auto [counts, displs] = slices(n);
    MPI_Request req;
    if (MPI_Igatherv(slice, counts[std::size_t(rank_)], MPI_FLOAT, full, counts.data(), displs.data(), MPI_FLOAT, 0,
                     MPI_COMM_WORLD, &req) != MPI_SUCCESS)
      throw Error("MPI_Igatherv failed on rank " + std::to_string(rank_));
    wait(req, "gather");
  }

 protected:
  template <class T>
  void allreduce(T* data, std::size_t n, MPI_Datatype type) {
    constexpr std::size_t kChunk = std::size_t(1) << 30;  // MPI counts are int
    for (std::size_t off = 0; off < n; off += kChunk) {
      const int count = int(std::min(kChunk, n - off));
      MPI_Request req;
      if (MPI_Iallreduce(MPI_IN_PLACE, data + off, count, type, MPI_SUM, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        throw Error("MPI_Iallreduce failed on rank " + std::to_string(rank_));
      wait(req, "allreduce");
    }
  }

  // Counts and displacements of every rank's slice of n (MPI counts are int).
  std::pair<std::vector<int>, std::vector<int>> slices(std::size_t n) const {
    std::vector<int> counts(static_cast<std::size_t>(size_)), displs(static_cast<std::size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      const auto [lo, hi] = shard_of(n, r, size_);
      if (hi > std::size_t(std::numeric_limits<int>::max()))
        throw Error("--zero 1 under MPI: " + std::to_string(n) + " parameters are beyond MPI's int counts");
      counts[std::size_t(r)] = int(hi - lo);
      displs[std::size_t(r)] = int(lo);
    }
    return {counts, displs};
  }

  void wait(MPI_Request& req, const char* what) {
    const auto t0 = std::chrono::steady_clock::now();
    auto pause = std::chrono::microseconds(1);
    for (;;) {
      int done = 0;
      if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        throw Error(std::string("MPI ") + what + " failed on rank " + std::to_string(rank_));
      if (done) return;
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (waited > timeout_s_) {
        std::fprintf(stderr,
                     "error: rank %d: an MPI %s did not complete within %g s; another rank has probably "
                     "died. Aborting the job (see --comm-timeout)\n",
                     rank_, what, timeout_s_);
        std::fflush(stderr);
        abort(3);
      }
      std::this_thread::sleep_for(pause);
      if (pause < std::chrono::microseconds(1000)) pause *= 2;
    }
  }

  static char* term_message() {
    static char buf[160];
    return buf;
  }

  int rank_ = 0, size_ = 1;
  double timeout_s_;
  bool owns_ = false;
};

}  // namespace mixln
