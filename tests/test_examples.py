"""The teaching examples run, and what they print is true (checked independently)."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _plots_to_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMJAC_EXAMPLES_OUT", str(tmp_path))


def _run(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"]()


def test_quickstart_runs():
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")


def test_linear_approximation_error_is_second_order():
    result = _run("02_linear_approximation.py")
    assert abs(result["slope_linear"] - 2.0) < 0.1
    assert abs(result["slope_constant"] - 1.0) < 0.1
    # independent check of the claim: halving h quarters the linear model's error
    steps, errors = np.array(result["steps"]), np.array(result["linear"])
    ratios = errors[:-1] / errors[1:]
    np.testing.assert_allclose(ratios, (steps[:-1] / steps[1:]) ** 2, rtol=0.05)
