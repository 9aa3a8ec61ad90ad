"""Compile C on the host and load it into Python with cffi, cached by content.

Our own C (runtime kernels, generated model) is compiled by the system C compiler
with the strict flags the generated code promises to pass (-std=c99 -Wall -Wextra
-Werror); only cffi's small wrapper is compiled with cffi's defaults. Everything
that influences a build goes into its cache key, so a cached build is reused only
when it would be byte-for-byte the same.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cffi

from .ir import FirmnetError

STRICT_FLAGS = ("-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror")


class BuildError(FirmnetError):
    """A C compilation failed; the message holds the compiler's output."""


def cache_root() -> Path:
    """Build cache folder: $FIRMNET_CACHE, else ~/.cache/firmnet."""
    env = os.environ.get("FIRMNET_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "firmnet"


def compiler() -> str:
    return os.environ.get("CC", "cc")


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:20]


def _compiler_identity(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.stdout else cc


def compile_objects(sources: Sequence[Path], include_dirs: Sequence[Path],
                    flags: Sequence[str] = STRICT_FLAGS, defines: Sequence[str] = ()) -> list[Path]:
    """Compile each source to an object file in the cache; return the object paths."""
    cc = compiler()
    ident = _compiler_identity(cc)
    headers = sorted({h for d in include_dirs for h in Path(d).glob("*.h")})
    header_key = _digest(*(h.name + h.read_text() for h in headers))
    objects = []
    for src in sources:
        src = Path(src)
        key = _digest(ident, " ".join(flags), " ".join(defines), header_key, src.name, src.read_bytes())
        obj = cache_root() / "obj" / f"{src.stem}-{key}.o"
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            tmp = obj.with_suffix(f".{os.getpid()}.tmp.o")
            cmd = [cc, *flags, *(f"-D{d}" for d in defines), *(f"-I{d}" for d in include_dirs),
                   "-c", str(src), "-o", str(tmp)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise BuildError(f"compiling {src} failed:\n{' '.join(cmd)}\n{res.stderr}")
            os.replace(tmp, obj)
        objects.append(obj)
    return objects


def header_cdef(headers: Sequence[Path]) -> str:
    """Declarations of our headers in the form cffi's cdef accepts.

    Preprocessor lines are dropped except integer #defines, which cffi understands;
    `static inline` definitions become plain prototypes (the wrapper, which includes
    the header, calls the inline function).
    """
    lines = []
    for h in headers:
        text = "\n".join(line for line in Path(h).read_text().splitlines()
                         if not line.startswith("#") or re.match(r"#define\s+\w+\s+\d+\s*$", line))
        pos = 0
        for m in re.finditer(r"static inline\s+([^{;]*?\))\s*\{", text):
            if m.start() < pos:
                continue
            lines.append(text[pos:m.start()])
            lines.append(m.group(1) + ";")
            depth, i = 1, m.end()
            while depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            pos = i
        lines.append(text[pos:])
    return "\n".join(lines)


@contextlib.contextmanager
def _captured_stderr():
    """The C compiler that cffi runs writes its errors to file descriptor 2: keep them."""
    import tempfile
    with tempfile.NamedTemporaryFile(prefix="firmnet-cc-", suffix=".log", delete=False) as tmp:
        log = Path(tmp.name)
    saved = os.dup(2)
    try:
        with open(log, "wb") as f:
            os.dup2(f.fileno(), 2)
            try:
                yield log
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@dataclass(frozen=True)
class Extension:
    ffi: cffi.FFI
    lib: object
    path: Path


def build_extension(cdef: str, wrapper_source: str, objects: Sequence[Path],
                    include_dirs: Sequence[Path]) -> Extension:
    """Build (or reuse) a cffi extension module linking `objects`."""
    key = _digest(cdef, wrapper_source, *(Path(o).name for o in objects), sys.version)
    name = f"_fn_ext_{key}"
    build_dir = cache_root() / "ext" / key
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    module_path = build_dir / (name + suffix)
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    if not module_path.exists():
        tmp_dir = build_dir.with_name(f"{key}.{os.getpid()}.tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir(parents=True)
        # absolute: cffi compiles in its own directory, where a relative path means nothing
        ffi.set_source(name, wrapper_source, include_dirs=[str(Path(d).resolve()) for d in include_dirs],
                       extra_objects=[str(Path(o).resolve()) for o in objects])
        with _captured_stderr() as log:
            try:
                built = Path(ffi.compile(tmpdir=str(tmp_dir), verbose=False))
            except Exception as exc:  # cffi raises distutils/setuptools errors of several kinds
                failure = exc
            else:
                failure = None
        compiler_output = log.read_text(errors="replace")
        log.unlink()
        if failure is not None:
            raise BuildError(f"building the cffi extension failed: {failure}\n{compiler_output[-4000:]}")
        build_dir.mkdir(parents=True, exist_ok=True)
        os.replace(built, module_path.with_suffix(f".{os.getpid()}.tmp"))
        os.replace(module_path.with_suffix(f".{os.getpid()}.tmp"), module_path)
        shutil.rmtree(tmp_dir, ignore_errors=True)
    spec = importlib.util.spec_from_file_location(name, module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Extension(ffi=module.ffi, lib=module.lib, path=module_path)


def runtime_objects(defines: Sequence[str] = ()) -> list[Path]:
    """The whole C runtime compiled once per content (cached)."""
    from . import resources
    return compile_objects(resources.runtime_sources(), [resources.runtime_include_dir()], defines=defines)


def runtime_extension() -> Extension:
    """Every runtime kernel callable from Python: used by the kernel tests."""
    from . import resources
    headers = resources.runtime_headers()
    # fn_dsp.h holds Arm-only inline helpers (compiled out on the host), *_impl.h the code a
    # kernel's variants share: nothing to call
    cdef = header_cdef([h for h in headers if h.name != "fn_dsp.h" and not h.name.endswith("_impl.h")])
    wrapper = "".join(f'#include "{h.name}"\n' for h in headers)
    return build_extension(cdef, wrapper, runtime_objects(), [resources.runtime_include_dir()])
