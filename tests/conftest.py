"""Shared fixtures: real sample photos on disk, a deterministic hypothesis profile, a JAX cache."""

import os

# Test modules import keras directly; pick bwcolor's default backend before any of them does.
os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="also run the tests marked slow (CI, the README's command and nox do)")


def pytest_collection_modifyitems(config, items):
    # Plain `python -m pytest` is the fast tier (minutes on 2 cores); --slow runs everything.
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow tier: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _jax_compilation_cache(tmp_path_factory):
    """Reuse XLA compiles across tests: the same model and shapes recur in many of them."""
    from bwcolor import _backend

    _backend.enable_compilation_cache(tmp_path_factory.mktemp("jax_cache"))


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    """The six real sample photos as JPEGs, short side 80 px."""
    from bwcolor.data import write_sample_folder

    folder = tmp_path_factory.mktemp("photos")
    write_sample_folder(folder, short_side=80)
    return folder


@pytest.fixture(scope="session")
def photos():
    from bwcolor.data import sample_photos

    return sample_photos()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def training_datasets(monkeypatch):
    """Every training ColorizationDataset built during the test (by fit), to check its settings."""
    import bwcolor.data

    seen = []

    class Recording(bwcolor.data.ColorizationDataset):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.training:
                seen.append(self)

    monkeypatch.setattr(bwcolor.data, "ColorizationDataset", Recording)
    return seen


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A small untrained preset saved to a folder (one per test module): for tests about files
    and messages, not colors."""
    from bwcolor import Colorizer

    folder = tmp_path_factory.mktemp("models") / "tiny"
    Colorizer("default", image_size=32, loss="mse",
              architecture_config=dict(widths=(8, 8), blocks=(1, 1))).save(folder)
    return folder
