"""A virtualenv with an unmodified LiteLLM proxy, as a gateway would install it.

LiteLLM never goes into the project's own .venv: it lives in a virtualenv of its own, found at
``$LITELLM_VENV`` or ``${XDG_CACHE_HOME:-~/.cache}/alerting-console/litellm-<version>``, and
built there (``python -m venv`` + ``pip install "litellm[proxy]==<version>"``, about two
minutes, the only step that needs the network) when it is missing. A file lock keeps two test
runs from building it at once; a build that was cut short is recognised and started again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

LITELLM_VERSION = "1.106.2"
REQUIREMENT = f"litellm[proxy]=={LITELLM_VERSION}"
# Written once LiteLLM has been imported in the venv, so later runs need not import it again
# (importing it takes several seconds).
STAMP = ".alerting-console-verified"
# Present while we build it, so that a build cut short is recognised and started again.
BUILDING = ".alerting-console-building"
# Importing LiteLLM fetches its model cost map from GitHub unless told not to.
OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def venv_path() -> Path:
    if configured := os.environ.get("LITELLM_VENV"):
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "alerting-console" / f"litellm-{LITELLM_VERSION}"


def litellm_venv() -> Path:
    """The virtualenv, verified; built first if it is missing."""
    path = venv_path()
    if _ready(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.parent / f".{path.name}.lock"):
        if _ready(path):  # another run built it while we waited for the lock
            return path
        if (path / BUILDING).exists():  # an interrupted build of ours
            shutil.rmtree(path)
        if not path.exists():
            _build(path)
        _verify(path)
    return path


def litellm_command(venv: Path) -> Path:
    return venv / "bin" / "litellm"


def _ready(path: Path) -> bool:
    stamp = path / STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == LITELLM_VERSION
        and litellm_command(path).is_file()
        and _installed_version(path) == LITELLM_VERSION
    )


def _installed_version(path: Path) -> str | None:
    python = path / "bin" / "python"
    if not python.is_file():
        return None
    found = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() if found.returncode == 0 else None


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(path: Path) -> None:
    path.mkdir()
    (path / BUILDING).touch()
    _run([sys.executable, "-m", "venv", str(path)], f"create the virtualenv {path}")
    _run(
        [path / "bin" / "python", "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", REQUIREMENT],
        f"pip install {REQUIREMENT!r} into {path} (the first time, it needs the network)",
    )  # fmt: skip
    (path / BUILDING).unlink()


def _verify(path: Path) -> None:
    version = _installed_version(path)
    if version != LITELLM_VERSION:
        raise RuntimeError(
            f"{path} holds litellm {version or '(none)'}, not {LITELLM_VERSION}: remove it, or "
            "point LITELLM_VENV at another directory"
        )
    _run(
        [path / "bin" / "python", "-c", "import litellm, litellm.proxy.proxy_server"],
        f"import litellm in {path}",
        env={**os.environ, **OFFLINE},
    )
    (path / STAMP).write_text(LITELLM_VERSION + "\n")


def _run(args: list[str | Path], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"could not {what}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
