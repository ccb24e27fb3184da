"""Figures for the examples: PNG files through matplotlib when it is installed, nothing when not.

matplotlib is optional and imported only when a function here is called (``import symjac``
never imports it). A script makes a figure in a few lines::

    made = plotting.subplots(figsize=(5, 4))
    if made is None:
        return None                        # matplotlib is not installed: no plot
    fig, ax = made
    ax.semilogy(residuals, "o-")
    return [plotting.save(fig, "residuals.png", Path(__file__).parent / "output")]

Files go to ``$SYMJAC_EXAMPLES_OUT`` when it is set (the tests point it at a temporary
directory), else to the directory the caller passes. Spy plots of a Jacobian's sparsity come
from :meth:`symjac.SparsityPattern.plot`, which draws into an axes made here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ENV_VAR = "SYMJAC_EXAMPLES_OUT"


def pyplot() -> ModuleType | None:
    """``matplotlib.pyplot``, or None when matplotlib is not installed.

    If pyplot has not been imported yet, the non-interactive Agg backend is selected first,
    so figures never open windows and scripts run on machines without a display; a backend
    already chosen by the caller (say, in a notebook) is left alone.

    >>> plt = pyplot()
    >>> plt is None or hasattr(plt, "subplots")
    True
    """
    try:
        import matplotlib
    except ImportError:
        return None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def subplots(*args: Any, **kwargs: Any) -> tuple[Figure, Any] | None:
    """``pyplot.subplots(*args, **kwargs)`` → ``(figure, axes)``, or None without matplotlib.

    >>> made = subplots(1, 2, figsize=(4, 2))
    >>> made is None or len(made[1]) == 2
    True
    >>> if made is not None:
    ...     pyplot().close(made[0])
    """
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(*args, **kwargs)
    return fig, axes


def output_dir(default: str | os.PathLike[str] | None = None) -> Path:
    """Where figures go: ``$SYMJAC_EXAMPLES_OUT`` if set, else ``default``, else the cwd.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {ENV_VAR: "/tmp/plots"}):
    ...     print(output_dir("examples/output").as_posix())
    /tmp/plots
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(default) if default is not None else Path.cwd()


def save(
    fig: Figure, name: str, default: str | os.PathLike[str] | None = None, *, dpi: int = 100
) -> Path:
    """Lay out, write ``name`` (a PNG for ``*.png``) into :func:`output_dir`, close; the path.

    The directory is created if needed; the figure is closed, so a script that makes many
    figures does not accumulate them.

    >>> import tempfile
    >>> made = subplots(figsize=(2, 2))
    >>> if made is not None:
    ...     fig, ax = made
    ...     _ = ax.plot([0, 1], [1, 0])
    ...     path = save(fig, "line.png", tempfile.mkdtemp())
    ...     assert path.read_bytes().startswith(b"\\x89PNG\\r\\n\\x1a\\n")
    """
    import matplotlib.pyplot as plt

    directory = output_dir(default)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def describe(paths: list[Path] | None) -> str:
    """One line for a script to print: the files written, or why there are none.

    >>> describe([Path("out/a.png"), Path("out/b.png")])
    'plots written: out/a.png, out/b.png'
    >>> describe(None)
    'plots skipped: matplotlib is not installed'
    """
    if paths is None:
        return "plots skipped: matplotlib is not installed"
    return "plots written: " + ", ".join(p.as_posix() for p in paths)
