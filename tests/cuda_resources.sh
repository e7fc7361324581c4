#!/usr/bin/env bash
# tests/cuda_resources.sh [--arch "80 90"] FILE... — the resources of every CUDA kernel compiled
# into FILEs (static libraries, object files, executables, cubins), per architecture, checked
# without a GPU. CTest's `cuda_resources` runs it over libmixln_cuda.a and test_cuda (which
# instantiates the model-dependent kernels of cuda/kernels.cuh).
#
# A kernel fails when, on any architecture:
#   STACK  > 0  its stack frame (EIATTR_FRAME_SIZE / EIATTR_MAX_STACK_SIZE): register spills, a
#               local array indexed at run time, or a call that is not inlined — local memory,
#               i.e. device-memory traffic in a kernel that should keep everything in registers
#   LOCAL  > 0  a .nv.local.<kernel> section (local memory declared outright)
#   SHARED > 48 KiB of static shared memory (.nv.shared.<kernel>): more than a block may have
#               without an opt-in. Dynamic shared memory (extern __shared__) is sized at launch
#               and not in the binary: above 48 KiB it needs
#               cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
#               which this check cannot see.
# It also fails when it finds no kernel at all, or no kernel for one of the architectures asked
# for (--arch, default "80 90"), so that it cannot pass over binaries without device code.
# Each failure is one line: arch, kernel (demangled), what is wrong. Last line: a summary.
#
# It reads the binaries itself, the numbers `cuobjdump --dump-resource-usage` prints (REG,
# STACK, SHARED, LOCAL), because the CUDA of our CPU machines (pip's nvcc wheels) has no
# cuobjdump: ELF section .nv_fatbin (ar members too) → fatbin entries of kind ELF (cubins, per
# sm_XX; zstd- or LZ4-compressed payloads through libzstd / liblz4) → per kernel (a FUNC symbol
# marked as a CUDA entry) its .nv.info attributes (EIATTR_REGCOUNT 0x2f, EIATTR_FRAME_SIZE 0x11,
# EIATTR_MAX_STACK_SIZE 0x23) and the sizes of its .nv.shared.* / .nv.local.* sections.
# Kernel names are never listed here: new source files (src/cuda/attention.cu) are covered as
# soon as they are compiled into the binaries.
# Options: --arch "LIST" the architectures that must be present; --max-shared BYTES (49152; ptxas
# itself refuses more static shared memory than that, so a lower value is how the rule is tested);
# --allow-stack BYTES REGEX: kernels whose demangled name matches REGEX may have a stack frame of
# up to BYTES (for code we do not own, e.g. CUB's; each such kernel is printed as "allowed");
# --verbose: a line per kernel.
set -euo pipefail
command -v python3 >/dev/null || { echo "cuda_resources: python3 is needed" >&2; exit 2; }
exec python3 - "$@" <<'PY'
import ctypes, re, struct, subprocess, sys

SHARED_LIMIT = 48 * 1024
EIATTR_FRAME_SIZE, EIATTR_MAX_STACK_SIZE, EIATTR_REGCOUNT = 0x11, 0x23, 0x2F
FATBIN_MAGIC = 0xBA55ED50
STO_CUDA_ENTRY = 0x10

args, want, verbose, allow = [], ["80", "90"], False, []
argv = sys.argv[1:]
while argv:
    a = argv.pop(0)
    if a == "--arch":
        want = [w for w in argv.pop(0).replace(";", " ").replace(",", " ").split() if w]
    elif a == "--verbose":
        verbose = True
    elif a == "--max-shared":
        SHARED_LIMIT = int(argv.pop(0))
    elif a == "--allow-stack":
        allow.append((int(argv.pop(0)), re.compile(argv.pop(0))))
    else:
        args.append(a)
if not args:
    sys.exit("usage: cuda_resources.sh [--arch \"80 90\"] [--max-shared BYTES] [--allow-stack BYTES REGEX]... [--verbose] FILE...")


def elf_sections(d):
    """(name, type, flags, info, offset, size) of a 64-bit little-endian ELF's sections."""
    if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
        return []
    shoff = struct.unpack_from("<Q", d, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
    raw = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
    stroff = raw[shstrndx][4]
    out = []
    for name, typ, flags, _, off, size, _link, info, _, _ in raw:
        end = d.index(b"\0", stroff + name)
        out.append((d[stroff + name:end].decode(errors="replace"), typ, flags, info, off, size))
    return out


_libs = {}
def decompress(payload, size, flags):
    """An entry's payload: raw ELF, zstd (magic 28 b5 2f fd) or LZ4 block (flag 0x2000)."""
    if payload[:4] == b"\x7fELF":
        return payload
    if payload[:4] == b"\x28\xb5\x2f\xfd" or flags & 0x2000:
        zstd = payload[:4] == b"\x28\xb5\x2f\xfd"
        name = "libzstd.so.1" if zstd else "liblz4.so.1"
        if name not in _libs:
            try:
                _libs[name] = ctypes.CDLL(name)
            except OSError as e:
                raise RuntimeError("a compressed fatbin entry needs %s: %s" % (name, e))
        lib = _libs[name]
        out = ctypes.create_string_buffer(size)
        if zstd:
            lib.ZSTD_decompress.restype = ctypes.c_size_t
            n = lib.ZSTD_decompress(out, ctypes.c_size_t(size), payload, ctypes.c_size_t(len(payload)))
            lib.ZSTD_isError.restype = ctypes.c_uint
            if lib.ZSTD_isError(ctypes.c_size_t(n)):
                raise RuntimeError("zstd could not unpack a fatbin entry")
        else:
            n = lib.LZ4_decompress_safe(payload, out, len(payload), size)
            if n < 0:
                raise RuntimeError("lz4 could not unpack a fatbin entry")
        return out.raw[:n]
    return payload


def fatbin_cubins(sec):
    """(arch, cubin bytes) of every ELF entry of the fatbins concatenated in a .nv_fatbin section."""
    off = 0
    while off + 16 <= len(sec):
        magic, version, hsize, fsize = struct.unpack_from("<IHHQ", sec, off)
        if magic != FATBIN_MAGIC:
            off += 8  # padding between the fatbins of several translation units
            continue
        e, end = off + hsize, off + hsize + fsize
        while e + 64 <= end:
            kind, _, ehs, psize = struct.unpack_from("<HHIQ", sec, e)
            csize = struct.unpack_from("<I", sec, e + 16)[0]
            arch = struct.unpack_from("<I", sec, e + 28)[0]
            flags = struct.unpack_from("<Q", sec, e + 40)[0]
            dsize = struct.unpack_from("<Q", sec, e + 72)[0] if ehs >= 80 else 0
            if ehs == 0 or psize == 0:
                break
            if kind == 2:  # 1: PTX, 2: ELF (a cubin)
                payload = sec[e + ehs:e + ehs + psize]
                if csize and csize <= psize and payload[:4] != b"\x7fELF":
                    payload = payload[:csize]
                yield str(arch), decompress(payload, dsize or 8 * psize, flags)
            e += ehs + psize
        off = max(end, off + 16)
        off += (-off) % 8


def cubin_kernels(d, arch):
    """{mangled: (regs, stack, shared, local)} of the entry functions of one cubin. shared is the
    kernel's .nv.shared section less the 1 KiB that sm_90's compiler reserves at its start when
    the cubin refers to .nv.reservedSmem (ptxas -v and its 48 KiB limit leave it out too)."""
    secs = elf_sections(d)
    names = {s[0]: s for s in secs}
    symtab = next((s for s in secs if s[1] == 2), None)  # SHT_SYMTAB
    strtab = names.get(".strtab")
    if symtab is None or strtab is None:
        return {}
    syms = []
    for i in range(symtab[5] // 24):
        nm, info, other, shndx, _, _ = struct.unpack_from("<IBBHQQ", d, symtab[4] + i * 24)
        end = d.index(b"\0", strtab[4] + nm)
        syms.append((d[strtab[4] + nm:end].decode(errors="replace"), info & 0xF, other))
    reserved = 1024 if int(arch) >= 90 and any(n.startswith(".nv.reservedSmem") for n, _, _ in syms) else 0
    regs, stack = {}, {}
    info_sec = names.get(".nv.info")
    if info_sec:
        p, end = info_sec[4], info_sec[4] + info_sec[5]
        while p + 4 <= end:
            fmt, attr, val = struct.unpack_from("<BBH", d, p)
            p += 4
            if fmt == 4:  # EIFMT_SVAL: val is the payload's size
                if attr in (EIATTR_REGCOUNT, EIATTR_FRAME_SIZE, EIATTR_MAX_STACK_SIZE) and val >= 8:
                    sym, v = struct.unpack_from("<II", d, p)
                    if attr == EIATTR_REGCOUNT:
                        regs[sym] = v
                    else:
                        stack[sym] = max(stack.get(sym, 0), v)
                p += val
    out = {}
    for i, (nm, typ, other) in enumerate(syms):
        if typ != 2 or not other & STO_CUDA_ENTRY:  # STT_FUNC, a __global__ function
            continue
        text = names.get(".text." + nm)
        r = regs.get(i, (text[3] >> 24) if text else 0)
        sh = names.get(".nv.shared." + nm)
        lo = names.get(".nv.local." + nm)
        out[nm] = (r, stack.get(i, 0), max(0, sh[5] - reserved) if sh else 0, lo[5] if lo else 0)
    return out


def cubins_of(path):
    d = open(path, "rb").read()
    members = []
    if d[:8] == b"!<arch>\n":  # a static library: its members
        p = 8
        while p + 60 <= len(d):
            size = int(d[p + 48:p + 58].decode().strip() or 0)
            members.append(d[p + 60:p + 60 + size])
            p += 60 + size + (size & 1)
    else:
        members.append(d)
    for m in members:
        if m[:4] != b"\x7fELF":
            continue
        if struct.unpack_from("<H", m, 18)[0] == 190:  # EM_CUDA: a cubin itself
            flags = struct.unpack_from("<I", m, 48)[0]
            yield str((flags >> 8) & 0xFF if m[8] >= 8 else flags & 0xFF), m
            continue
        for name, _, _, _, off, size in elf_sections(m):
            if name in (".nv_fatbin", "__nv_relfatbin"):
                yield from fatbin_cubins(m[off:off + size])


kernels = {}  # (arch, mangled) -> (regs, stack, shared, local), the largest seen
files_without = []
for path in args:
    try:
        n = 0
        for arch, cubin in cubins_of(path):
            for nm, res in cubin_kernels(cubin, arch).items():
                old = kernels.get((arch, nm))
                kernels[(arch, nm)] = tuple(map(max, old, res)) if old else res
                n += 1
        if n == 0:
            files_without.append(path)
    except (OSError, RuntimeError, struct.error, ValueError) as e:
        print("cuda_resources: FAIL %s: cannot read its device code: %s" % (path, e))
        sys.exit(1)

mangled = sorted({nm for _, nm in kernels})
try:
    dem = subprocess.run(["c++filt"], input="\n".join(mangled), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    demangled = dict(zip(mangled, dem)) if len(dem) == len(mangled) else {}
except (OSError, subprocess.CalledProcessError):
    demangled = {}
def pretty(nm):
    s = demangled.get(nm, nm)
    return s if len(s) <= 240 else s[:237] + "..."

failures, allowed = [], []
for (arch, nm), (reg, stk, shm, loc) in sorted(kernels.items()):
    what = []
    limit = next((b for b, rx in allow if rx.search(demangled.get(nm, nm))), 0)
    if stk and stk <= limit:
        allowed.append("cuda_resources: allowed sm_%s %s: STACK %d bytes (--allow-stack %d)" % (arch, pretty(nm), stk, limit))
    elif stk:
        what.append("STACK %d bytes (spills, a run-time-indexed local array or a call not inlined)" % stk)
    if loc:
        what.append("LOCAL %d bytes of local memory" % loc)
    if shm > SHARED_LIMIT:
        what.append("SHARED %d bytes of static shared memory, over %d" % (shm, SHARED_LIMIT))
    if verbose:
        print("sm_%s REG:%d STACK:%d SHARED:%d LOCAL:%d %s" % (arch, reg, stk, shm, loc, pretty(nm)))
    if what:
        failures.append("cuda_resources: FAIL sm_%s %s: %s" % (arch, pretty(nm), "; ".join(what)))

archs = sorted({a for a, _ in kernels}, key=int)
for f in allowed + failures:
    print(f)
for path in files_without:
    print("cuda_resources: note: %s holds no kernel" % path)
if not kernels:
    print("cuda_resources: FAIL no CUDA kernel found in %s" % " ".join(args))
missing = [a for a in want if a not in archs]
for a in missing:
    print("cuda_resources: FAIL no kernel for sm_%s (found: %s)" % (a, ", ".join("sm_" + x for x in archs) or "none"))
per_arch = ", ".join("sm_%s %d" % (a, sum(1 for b, _ in kernels if b == a)) for a in archs)
print("cuda_resources: %d kernel(s) checked (%s) in %d file(s); max registers %d, max static shared %d bytes; "
      "%d allowed, %d failure(s). Dynamic shared memory is sized at launch: over 48 KiB it needs "
      "cudaFuncAttributeMaxDynamicSharedMemorySize, not checked here"
      % (len(kernels), per_arch or "none", len(args), max((r[0] for r in kernels.values()), default=0),
         max((r[2] for r in kernels.values()), default=0), len(allowed), len(failures)))
sys.exit(1 if failures or missing or not kernels else 0)
PY
