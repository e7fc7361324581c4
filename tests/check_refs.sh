#!/usr/bin/env bash
# tests/check_refs.sh [SOURCE_DIR] — fails when a pointer in the repository goes nowhere.
#
# Scans every tracked text file (`git ls-files`; every file under SOURCE_DIR when it is not a
# git checkout) for three kinds of problem, prints one line per problem (`file:line: ...`) and
# a summary line, and exits 1 if there is any:
#
#   (a) a repository path cited in a comment, a doc or a string (`include/mixln/dsl/branch.hpp`,
#       `dsl/branch.hpp`, `cpu/attention.hpp`, `examples/configs.hpp`, `scripts/demo.sh`,
#       `tests/test_dsl.cpp`, `docs/usage.md`, `../cpu/gemm.hpp`, ...) that names no file or
#       folder. A path is looked up relative to the repository root, to include/ and
#       include/mixln/, and to the citing file's folder. Also a markdown link or image
#       `[text](target)` whose target does not exist beside the document.
#   (b) a `docs/design.md §N` (or `§N.M`) citation whose section has no heading
#       `## N. ...` / `### N.M ...` in docs/design.md. Every `§N` is read as a section of
#       docs/design.md, the one document with numbered sections (`docs/design.md §2, §8`).
#   (c) any mention of the design brief by its upper-case file name: the project's design
#       reference is docs/design.md, and nothing may point anywhere else.
#
# CTest runs it as `check_refs` (tests/CMakeLists.txt); it needs bash and python3 (and git for
# the list of tracked files).
# CHECK_REFS_VERBOSE=1 also prints, on stderr, every path token it checks or skips.
set -euo pipefail

src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$src"
if ! command -v python3 >/dev/null; then
  echo "check_refs: skipped: python3 not found"
  exit 77
fi

if [[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "$(pwd -P)" ]]; then
  list_files() { git ls-files -z; }
else
  # not a git checkout (a source archive): every file, less build outputs and run/data folders
  list_files() {
    find . \( -path ./.git -o -path './build*' -o -path ./runs -o -path ./data \) -prune -o -type f -print0 |
      sed -z 's|^\./||'
  }
fi

check=$(cat <<'PY'
import os, re, sys

# ---- what is scanned ------------------------------------------------------------------------
# Binary and data files hold no citations; a file with a NUL byte in its first 8 KiB is binary.
SKIP_EXT = (".png", ".jpg", ".safetensors", ".bin", ".csv", ".pdf")

# ---- (a) which tokens are repository paths --------------------------------------------------
# A candidate is a run of path characters ending in one of these extensions (and not followed by
# more of a name: `log.jsonl` and `mixlnConfig.cmake.in` are not `.json` / `.cmake` paths).
EXT = r"(?:hpp|cuh|cu|cpp|h|md|sh|py|cmake|txt|json)"
TOKEN = re.compile(r"[A-Za-z0-9_./+-]*[A-Za-z0-9_+-]\." + EXT + r"(?![A-Za-z0-9_]|\.[A-Za-z0-9])")

# Not repository paths, though they look like some (an explicit list, so that a new exception is
# a decision written here, not a looser pattern):
IGNORE_PREFIXES = (
    "build/", "build-",            # build outputs: build/bin/tiny_mixln, build-docs/...
    "runs/",                       # a user's run folders in examples (runs/mix/log.jsonl)
    "data/",                       # a user's data folders (data/brown-4096/train.bin.json)
    "out/", "tmp/",                # scratch folders in examples and scripts
    "peft_pretraining/",           # the Mix-LN authors' code (peft_pretraining/modeling_llama.py)
    "dev/cuda/",                   # llm.c's kernel development folder
    "transformers/",               # Hugging Face transformers' sources
)
# A token is checked only when it starts with a folder name of this repository (any depth:
# include, dsl, cpu, golden, ...) or `mixln/` (as in <mixln/mixln.hpp>), after any leading
# `./` / `../`. So `RUN_DIR/config.json`, `DIR/train.bin.json` or `HF_DIR/config.json` (names
# of a user's folders) and paths of other projects (`llmc/attention.cuh`) are not checked.
# Absolute paths (`/tmp/x.json`, `//github.com/...` of a URL) are never repository paths.

files = [f for f in sys.stdin.read().split("\0") if f]
dirs = set()
for f in files:
    parts = f.split("/")[:-1]
    for i in range(len(parts)):
        dirs.add(parts[i])
dirs.add("mixln")
top = {f.split("/", 1)[0] for f in files if "/" in f}

def exists(p):
    return os.path.exists(p)

def resolve(token, citing_dir):
    """True if token names a file or folder of the repository."""
    cands = [token, os.path.join("include", token), os.path.join("include", "mixln", token),
             os.path.join(citing_dir, token)]
    return any(exists(os.path.normpath(c)) for c in cands)

problems = []
MDLINK = re.compile(r"\]\(([^()\s]+)\)")

def problem(f, n, msg):
    problems.append(f"{f}:{n}: {msg}")

# ---- (b) the sections of docs/design.md -----------------------------------------------------
DESIGN = "docs/design.md"
sections = set()
if exists(DESIGN):
    for line in open(DESIGN, encoding="utf-8", errors="replace"):
        m = re.match(r"#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", line)
        if m:
            sections.add(m.group(1))
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)")

# ---- (c) the brief's name, spelled so that this file does not mention it --------------------
BRIEF = "DESIGN" + ".md"

for f in files:
    if f.endswith(SKIP_EXT) or not os.path.isfile(f):
        continue
    with open(f, "rb") as fh:
        data = fh.read()
    if b"\0" in data[:8192]:
        continue
    text = data.decode("utf-8", errors="replace")
    citing_dir = os.path.dirname(f)
    for n, line in enumerate(text.splitlines(), 1):
        # (c)
        if BRIEF in line:
            problem(f, n, f"cites {BRIEF}: the design reference is docs/design.md (§N)")
        # (b)
        if "§" in line:  # docs/design.md is the one document with numbered sections
            for m in SECTION.finditer(line):
                s = m.group(1)
                if s not in sections:
                    problem(f, n, f"docs/design.md has no section §{s}")
        # (a) markdown links and images, [text](target): relative to the document's folder
        if f.endswith(".md"):
            for m in MDLINK.finditer(line):
                target = m.group(1).split("#", 1)[0]
                if not target or re.match(r"[a-z]+:", target) or target.startswith("/"):
                    continue  # an anchor, a URL, an absolute path
                if not exists(os.path.normpath(os.path.join(citing_dir, target))):
                    problem(f, n, f"link {m.group(1)}: no such file or folder")
        # (a) path tokens
        for m in TOKEN.finditer(line):
            tok, start = m.group(0), m.start()
            while tok[:1] in ("-", "+"):  # ${VAR:-path}, --flag=-path
                tok, start = tok[1:], start + 1
            before = line[start - 1] if start > 0 else ""
            if before and before in "$})":
                # $VAR/path, ${VAR}/path, $(cmd)/path: the base is a folder only known when the
                # line runs (the source folder, a build or scratch folder); what follows it is
                # checked when it starts with a top-level folder of the repository.
                tok = tok.split("/", 1)[1] if before == "$" and "/" in tok else tok.lstrip("/")
                if tok.split("/", 1)[0] not in top:
                    continue
            elif before == "{":
                # ${VAR:-path}, ${VAR-path}: the default value
                tok = re.sub(r"^[A-Za-z0-9_]*:?[-=+]", "", tok)
            elif tok.startswith("/"):
                continue  # absolute path or URL
            if "/" not in tok:
                continue  # a bare file name: not a path
            base = citing_dir
            while tok.startswith("./"):
                tok = tok[2:]
            rel = tok
            while rel.startswith("../"):
                rel = rel[3:]
            if rel != tok:
                # ../x: relative to the citing folder; never outside the repository
                target = os.path.normpath(os.path.join(citing_dir, tok))
                if before not in "$})" and (target.startswith("..") or os.path.isabs(target)):
                    problem(f, n, f"{tok}: points outside the repository")
                    continue
                if before not in "$})":
                    if not exists(target) and not resolve(rel, citing_dir):
                        problem(f, n, f"{tok}: no such file or folder")
                    continue
                tok = rel
            if tok.startswith(IGNORE_PREFIXES):
                continue
            if tok.split("/", 1)[0] not in dirs:
                if os.environ.get("CHECK_REFS_VERBOSE"):
                    print(f"  {f}:{n}: skips {tok}", file=sys.stderr)
                continue
            if os.environ.get("CHECK_REFS_VERBOSE"):
                print(f"  {f}:{n}: checks {tok}", file=sys.stderr)
            if not resolve(tok, citing_dir):
                problem(f, n, f"{tok}: no such file or folder")

for p in problems:
    print(p)
if problems:
    print(f"check_refs: {len(problems)} problem(s) in {len(files)} files")
    sys.exit(1)
print(f"check_refs: ok ({len(files)} files, {len(sections)} sections in docs/design.md)")
PY
)
list_files | python3 -c "$check"
