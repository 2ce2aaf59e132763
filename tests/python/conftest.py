"""Tests marked `torch` need torch and Stable-Baselines3 (several GB of wheels): they run only
with MESASCOPE_TORCH_TESTS=1 (scripts/test-python then installs both)."""

import os
import sys

import pytest

# test_audit reuses test_envs' planner helpers.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MESASCOPE_TORCH_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs torch and Stable-Baselines3: run MESASCOPE_TORCH_TESTS=1 scripts/test-python")
    for item in items:
        if "torch" in item.keywords:
            item.add_marker(skip)
