"""Shared fixtures: isolated run/cache folders and tiny synthetic data sets.

Tests never touch the network or ../shared: every image they use is generated here (or by
the test itself) at a tiny size so that the whole suite fits the CI budget on 2 cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Rich wraps at 80 columns when not on a terminal; tests that read tables and long tmp paths
# out of the output want whole lines. Set before artkit creates its consoles.
os.environ["COLUMNS"] = "250"

# Tiny but learnable sizes; one generation per test session.
TINY = {"multiclass": (120, 64), "multilabel": (120, 64), "painting-sculpture": (60, 64),
        "detection": (12, 160)}


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs and caches of each test go to its own temporary folder."""
    monkeypatch.setenv("ARTKIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("ARTKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _synth(tmp_path_factory: pytest.TempPathFactory, task: str) -> Path:
    from artkit.data.synth import generate

    n, size = TINY[task]
    out = tmp_path_factory.mktemp(f"synth-{task}")
    return generate(out, task=task, n=n, seed=0, size=size)


@pytest.fixture(scope="session")
def synth_multiclass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, "multiclass")


@pytest.fixture(scope="session")
def synth_multilabel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, "multilabel")


@pytest.fixture(scope="session")
def synth_painting_sculpture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, "painting-sculpture")


@pytest.fixture(scope="session")
def synth_detection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory, "detection")
