"""Regenerate the committed protobuf/gRPC code in meshd/v1/ from proto/meshd/v1/*.proto.

    python proto/gen.py            # write meshd/v1/*_pb2.py, *_pb2.pyi, *_pb2_grpc.py
    python proto/gen.py --check    # exit 1 (listing the files) when the committed code is stale

Uses grpc_tools.protoc (grpcio-tools pinned to the grpcio floor in pyproject.toml). The proto path
mirrors the import path (proto/meshd/v1 -> meshd.v1), so the generated imports need no fixing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
PACKAGE = "meshd/v1"


def protos() -> list[Path]:
    """Every .proto file of the package, sorted."""
    return sorted((PROTO / PACKAGE).glob("*.proto"))


def generate(out: Path) -> list[Path]:
    """Run protoc into `out`; returns the generated files (relative to `out`)."""
    from grpc_tools import protoc

    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p.relative_to(PROTO)) for p in protos()]
    args = ["protoc", f"-I{PROTO}", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p.relative_to(out) for p in (out / PACKAGE).glob("*_pb2*.py*"))


def stale() -> list[str]:
    """Generated files that differ from (or are missing in) the committed package."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        made = generate(out)
        bad = [str(rel) for rel in made
               if not (ROOT / rel).exists() or (ROOT / rel).read_bytes() != (out / rel).read_bytes()]
        names = {str(rel) for rel in made}
        extra = [str(p.relative_to(ROOT)) for p in (ROOT / PACKAGE).glob("*_pb2*.py*")
                 if str(p.relative_to(ROOT)) not in names]
        return bad + extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    a = ap.parse_args()
    if a.check:
        bad = stale()
        if bad:
            print("stale generated code (run python proto/gen.py):", *bad, sep="\n  ")
            sys.exit(1)
        print("generated code is current")
        return
    for rel in generate(ROOT):
        print(f"wrote {rel}")


if __name__ == "__main__":
    main()
