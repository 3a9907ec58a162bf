"""Every way to lint, test, document and benchmark bwcolor: `nox -l` lists the sessions."""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "venv"

# The CPU wheel of torch; an unpinned "torch" would pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"


def _install(session, backend, target):
    if backend == "torch":
        session.install(TORCH)
    session.install("-e", target)
    return {"KERAS_BACKEND": backend}


@nox.session
@nox.parametrize("backend", ["jax", "torch"])
def tests(session, backend):
    """The test suite on one Keras backend."""
    env = _install(session, backend, ".[test,app,onnx,video]")
    session.run("pytest", "--slow", *session.posargs, env=env)


@nox.session
def lint(session):
    """ruff: style, imports, common bugs."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "scripts", "noxfile.py")


@nox.session
def examples(session):
    """Run every gallery example script (each finishes in under a minute on 2 cores)."""
    session.install("-e", ".[plot,video]")
    import glob

    for script in sorted(glob.glob("examples/plot_*.py")):
        session.run("python", script, env={"MPLBACKEND": "Agg"})


@nox.session
def docs(session):
    """Build the HTML docs with the examples gallery executed; warnings are errors. Then check
    that every public function, class and method has its own entry, and the model card renders."""
    session.install("-e", ".[docs]")
    session.run("python", "scripts/docs_numbers.py")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
    session.run("python", "scripts/check_docs_anchors.py", "docs/_build/html")


@nox.session
@nox.parametrize("backend", ["jax", "torch"])
def bench(session, backend):
    """Benchmarks (print JSON lines): training speed, data pipeline, colorize latency."""
    env = _install(session, backend, ".")
    session.run("python", "benchmarks/train_speed.py", "--size", "128", "256", env=env)
    session.run("python", "benchmarks/data_pipeline.py", env=env)
    session.run("python", "benchmarks/colorize_latency.py", env=env)


@nox.session
@nox.parametrize("plot", ["without", "with"])
def cold_start(session, plot):
    """Seconds to the first colorized photo, from fresh processes, JAX cache cold and warm; with
    and without matplotlib installed (Keras imports pyplot whenever it is there)."""
    session.install("-e", ".[plot]" if plot == "with" else ".")
    session.run("python", "benchmarks/cold_start.py", env={"KERAS_BACKEND": "jax"})
