"""Opt-in tests: those marked `torch` need torch and Stable-Baselines3 (several GB of wheels)
and run only with MESASCOPE_TORCH_TESTS=1; those marked `ray` need Ray and run only with
MESASCOPE_RAY_TESTS=1 (scripts/test-python then installs what they need)."""

import os
import sys

import pytest

# test_audit reuses test_envs' planner helpers.
sys.path.insert(0, os.path.dirname(__file__))

OPT_IN = {
    "torch": ("MESASCOPE_TORCH_TESTS", "needs torch and Stable-Baselines3: run MESASCOPE_TORCH_TESTS=1 scripts/test-python"),
    "ray": ("MESASCOPE_RAY_TESTS", "needs Ray: run MESASCOPE_RAY_TESTS=1 scripts/test-python"),
}


def pytest_collection_modifyitems(config, items):
    for marker, (variable, reason) in OPT_IN.items():
        if os.environ.get(variable) == "1":
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
