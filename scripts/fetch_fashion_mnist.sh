#!/usr/bin/env bash
# scripts/fetch_fashion_mnist.sh [DIR] — Fashion-MNIST (Debian's dataset-fashion-mnist, installed
# by scripts/setup.sh images) as image shards in DIR (default data/fashion-mnist): its 60,000
# training images for train, its 10,000 test images for val (the fixed validation split), the
# ten class names in label order. Needs mixln-prepare-images (BIN, default build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/fashion-mnist}
bin=${BIN:-build/bin}
src=/usr/share/datasets/fashion-mnist
if [[ ! -f $src/train-images-idx3-ubyte.gz ]]; then
  scripts/setup.sh images
fi
[[ -f $src/train-images-idx3-ubyte.gz ]] || { echo "error: $src holds no Fashion-MNIST after scripts/setup.sh images" >&2; exit 1; }
[[ -x $bin/mixln-prepare-images ]] ||
  { echo "error: no $bin/mixln-prepare-images (cmake --preset dev && cmake --build build --target mixln-prepare-images)" >&2; exit 1; }
"$bin/mixln-prepare-images" --train-images "$src/train-images-idx3-ubyte.gz" --train-labels "$src/train-labels-idx1-ubyte.gz" \
  --val-images "$src/t10k-images-idx3-ubyte.gz" --val-labels "$src/t10k-labels-idx1-ubyte.gz" --out "$out" \
  --names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
