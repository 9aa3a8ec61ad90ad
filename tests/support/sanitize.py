"""A compiled model built as a standalone executable under ASan+UBSan and run on the host."""
from __future__ import annotations

import subprocess

import numpy as np

from firmnet import cbuild

SANITIZE_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "%(prefix)s.h"
/* Test driver: reads each input from argv files, writes each output to argv files. */
int main(int argc, char **argv) {
%(decls)s
    int k = 1;
    (void)argc;
%(reads)s
    int status = %(prefix)s_invoke(%(args)s);
    if (status != 0) { fprintf(stderr, "status %%d\n", status); return 3; }
%(writes)s
    return 0;
}
"""


def run_sanitized(compiled, inputs, tmp_path) -> list[np.ndarray]:
    """Build the generated sources as a standalone executable under ASan+UBSan and run it."""
    g, prefix, out = compiled.lowered_graph, compiled.name_prefix, compiled.out_dir
    from firmnet.dtypes import c_type
    decls, reads, writes, args = [], [], [], []
    for i, name in enumerate(g.inputs):
        t = g.types[name]
        decls.append(f"    static {c_type(t.dtype)} in{i}[{t.size}];")
        reads.append(f"    {{ FILE *f = fopen(argv[k++], \"rb\"); if (!f || fread(in{i}, 1, sizeof in{i}, f) "
                     f"!= sizeof in{i}) return 4; fclose(f); }}")
        args.append(f"in{i}")
    for i, name in enumerate(g.outputs):
        t = g.types[name]
        decls.append(f"    static {c_type(t.dtype)} out{i}[{t.size}];")
        writes.append(f"    {{ FILE *f = fopen(argv[k++], \"wb\"); if (!f) return 5; "
                      f"fwrite(out{i}, 1, sizeof out{i}, f); fclose(f); }}")
        args.append(f"out{i}")
    main = tmp_path / "sanitize_main.c"
    main.write_text(SANITIZE_MAIN % {"prefix": prefix, "decls": "\n".join(decls), "reads": "\n".join(reads),
                                     "writes": "\n".join(writes), "args": ", ".join(args)})
    exe = tmp_path / "model_sanitized"
    sources = [out / f"{prefix}.c", *sorted((out / "runtime" / "src").glob("*.c"))]
    flags = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
             "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    cmd = [cbuild.compiler(), *flags, f"-I{out}", f"-I{out / 'runtime' / 'include'}", *map(str, sources)]
    build = subprocess.run(cmd + [str(main), "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, f"sanitizer build failed:\n{build.stderr[-3000:]}"
    files = []
    for i, x in enumerate(inputs):
        p = tmp_path / f"in{i}.bin"
        np.ascontiguousarray(x, dtype=g.types[g.inputs[i]].dtype).tofile(p)
        files.append(str(p))
    out_files = [str(tmp_path / f"out{i}.bin") for i in range(len(g.outputs))]
    res = subprocess.run([str(exe), *files, *out_files], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"sanitized run failed ({res.returncode}):\n{res.stderr[-3000:]}"
    assert "runtime error" not in res.stderr, res.stderr[-3000:]
    return [np.fromfile(f, dtype=g.types[n].dtype).reshape(g.types[n].shape) for f, n in zip(out_files, g.outputs)]
