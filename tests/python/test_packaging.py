"""The source distribution carries every file the crates compile in from outside their own
directories: a wheel built from it (`pip install` of an sdist) would otherwise fail to compile."""

import fnmatch
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # before Python 3.11
    tomllib = None

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(tomllib is None, reason="reading pyproject.toml needs Python 3.11's tomllib")
def test_the_sdist_includes_every_file_compiled_in_from_outside_a_crate():
    includes = [entry["path"] for entry in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["maturin"]["include"]]
    crates = ROOT / "crates"
    outside = set()
    for source in crates.glob("*/src/**/*.rs"):
        crate = crates / source.relative_to(crates).parts[0]
        for path in re.findall(r'include_(?:str|bytes)!\("([^"]+)"\)', source.read_text()):
            target = (source.parent / path).resolve()
            if crate not in target.parents:
                outside.add(target.relative_to(ROOT).as_posix())
    assert "configs/env/maze.toml" in outside and "configs/train-default.toml" in outside
    missing = [p for p in sorted(outside) if not any(fnmatch.fnmatch(p, pattern) for pattern in includes)]
    assert not missing, f"add to [tool.maturin] include in pyproject.toml: {missing}"
