"""Regenerate the Python gRPC modules in sdk/kfp_viz/pb/ from the .proto files in proto/,
and the kernels' TFMA messages (kernels/tfma_metrics_pb2.py) from the trimmed copy of
TFMA's proto vendored in proto/vendor/tfma/ (its source and licence noted there).

The generated modules are committed, in the SDK (the server imports them from there);
tests/unit/test_proto.py fails when they drift from proto/. grpcio-tools emits
absolute imports between generated modules (`import x_pb2`); they are rewritten
to package-relative ones so the modules live inside `kfp_viz.pb`.

Usage: python scripts/gen_proto.py [OUTPUT_DIR]   (default: sdk/kfp_viz/pb; the TFMA
messages go to kernels/ whatever OUTPUT_DIR)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
DEFAULT_OUT = ROOT / "sdk" / "kfp_viz" / "pb"
VENDORED_TFMA = PROTO_DIR / "vendor" / "tfma"
KERNELS_OUT = ROOT / "kernels"


def generate(out_dir: Path) -> list[Path]:
    """Compile every proto/*.proto into out_dir; return the files written."""
    protos = sorted(PROTO_DIR.glob("*.proto"))
    _protoc(PROTO_DIR, protos, out_dir, services=True)
    written = []
    for proto in protos:
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            path = out_dir / f"{proto.stem}{suffix}"
            _make_imports_relative(path, [p.stem for p in protos])
            written.append(path)
    return written


def generate_vendored(out_dir: Path) -> list[Path]:
    """Compile the vendored TFMA messages (no services) into out_dir; return the files written."""
    protos = sorted(VENDORED_TFMA.glob("*.proto"))
    _protoc(VENDORED_TFMA, protos, out_dir, services=False)
    return [out_dir / f"{p.stem}{suffix}" for p in protos for suffix in ("_pb2.py", "_pb2.pyi")]


def _protoc(include_dir: Path, protos: list[Path], out_dir: Path, services: bool) -> None:
    import grpc_tools
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    outputs = [f"--python_out={out_dir}", f"--pyi_out={out_dir}"]
    if services:
        outputs.append(f"--grpc_python_out={out_dir}")
    args = ["protoc", f"-I{include_dir}", f"-I{well_known}", *outputs, *map(str, protos)]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def _make_imports_relative(path: Path, stems: list[str]) -> None:
    text = path.read_text()
    for stem in stems:
        text = re.sub(rf"^import {stem}_pb2 as ", f"from . import {stem}_pb2 as ", text, flags=re.M)
    path.write_text(text)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    for written in [*generate(target), *generate_vendored(KERNELS_OUT)]:
        print(written.relative_to(ROOT) if written.is_relative_to(ROOT) else written)
