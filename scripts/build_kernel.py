"""Compile the backtest's hot modules with Cython, beside their sources, and record what was built.

Usage: python scripts/build_kernel.py [--jobs N]

The modules are ``riskmgr.backtest.kernel.KERNEL_MODULES``, compiled from their unchanged ``.py`` sources with
their annotations ignored (``annotation_typing=False``: Python's own semantics, so the same results). The C files
go to ``build/kernel/``; the extension modules go beside the sources; ``riskmgr/backtest/kernel.json`` records the
Cython version and the SHA-256 of every source, and is written last, after every module built. On any failure
the partial build is removed (the package then runs plain Python, with the same results) and the exit status is 1.
``make run`` goes on without the kernel; ``make test`` and ``make bench`` stop.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# imports the package's __init__ and kernel only, never a module this script compiles or removes
from riskmgr.backtest.kernel import FOLDER, KERNEL_MODULES, MANIFEST, PACKAGE, SUFFIX, source_digest  # noqa: E402

BUILD = ROOT / "build" / "kernel"
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True, "embedsignature": False}


def remove_build() -> None:
    """Remove the manifest first (so nothing trusts a half build), then every extension file of the folder."""
    MANIFEST.unlink(missing_ok=True)
    for built in FOLDER.glob(f"*{SUFFIX}"):
        built.unlink()


def compile_modules(jobs: int) -> str:
    """Build every kernel module in place; return Cython's version."""
    import Cython
    from Cython.Build import cythonize
    from setuptools import Extension
    from setuptools.dist import Distribution

    extensions = [Extension(f"{PACKAGE}.{name}", [str((FOLDER / f"{name}.py").relative_to(ROOT))])
                  for name in KERNEL_MODULES]
    BUILD.mkdir(parents=True, exist_ok=True)
    modules = cythonize(extensions, compiler_directives=DIRECTIVES, build_dir=str(BUILD.relative_to(ROOT)),
                        nthreads=jobs, quiet=True)
    with tempfile.TemporaryDirectory(prefix="riskmgr-kernel-") as temp:
        dist = Distribution({"name": "riskmgr-kernel", "ext_modules": modules, "packages": [], "py_modules": []})
        dist.script_args = ["build_ext", "--build-temp", temp, "--build-lib", temp, "--parallel", str(jobs)]
        dist.parse_command_line()
        dist.run_commands()
        for name in KERNEL_MODULES:
            install_file(Path(temp) / PACKAGE.replace(".", "/") / f"{name}{SUFFIX}", FOLDER / f"{name}{SUFFIX}")
    return str(Cython.__version__)


def install_file(built: Path, target: Path) -> None:
    """Put a file in place under a new inode (copy beside it, then rename): a process that has the old extension
    file loaded keeps its mapping intact (overwriting a loaded shared object in place can crash that process), and
    a reader never sees half a file."""
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(built, partial)
    os.replace(partial, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel compilations (default: CPUs)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be 1 or more, got {args.jobs}")
    os.chdir(ROOT)
    remove_build()
    digests = {name: source_digest(FOLDER, name) for name in KERNEL_MODULES}
    try:
        cython = compile_modules(args.jobs)
    except (Exception, SystemExit) as exc:  # a build that fails for any reason leaves plain Python
        remove_build()
        print(f"build_kernel: the compiled backtest kernel was not built ({exc.__class__.__name__}: {exc}); "
              "backtests run in plain Python, with the same results, slower", file=sys.stderr)
        return 1
    if {name: source_digest(FOLDER, name) for name in KERNEL_MODULES} != digests:
        remove_build()
        print("build_kernel: a source changed during the build; run it again", file=sys.stderr)
        return 1
    partial = MANIFEST.with_name(f".{MANIFEST.name}.partial")
    partial.write_text(json.dumps({"cython": cython, "suffix": SUFFIX, "modules": digests}, indent=2) + "\n",
                       encoding="utf-8")
    os.replace(partial, MANIFEST)  # whole or not at all
    print(f"build_kernel: {len(KERNEL_MODULES)} modules compiled with Cython {cython} "
          f"({', '.join(KERNEL_MODULES)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
