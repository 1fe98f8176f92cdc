"""The configuration profiles that ship inside the package.

The repository's ``conf/`` folder is the package's ``vista/resources/conf`` (the wheel
carries a copy), so an installed vista has its local profile (``local.yaml``), the
sample lake's source systems (``sources/sample.yaml``) and the cluster example
(``cluster.yaml``) without a checkout. ``vista demo`` falls back to the local profile;
``vista config --init`` writes the profiles out for editing.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from vista.errors import ConfigError, ConfigProblem

# Where `vista config --init` writes, and where vista looks for a config in the folder it
# is started from.
LOCAL_PROFILE = "conf/local.yaml"


_EXTRACTED: list[Path] = []  # the shipped tree written out once per process (zipped vista)


def _shipped_root() -> Path:
    """The shipped ``conf/`` tree as a folder on disk.

    Installed from a wheel it is a folder of the package. Imported from a zip (the wheel
    given to ``spark-submit --py-files``) it is not a file path, and a profile's
    ``include:`` needs one: the tree is then copied once into a temporary folder.
    """
    shipped = resources.files("vista") / "resources" / "conf"
    if isinstance(shipped, Path):
        return shipped
    if not _EXTRACTED:
        folder = Path(tempfile.mkdtemp(prefix="vista-conf-")) / "resources" / "conf"
        _copy_tree(shipped, folder)
        _EXTRACTED.append(folder)
    return _EXTRACTED[0]


def _copy_tree(source: Traversable, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.is_dir():
            _copy_tree(entry, dest / entry.name)
        else:
            (dest / entry.name).write_bytes(entry.read_bytes())


def packaged_profile() -> Path:
    """The local profile inside the installed package (read-only; copy it to edit)."""
    path = _shipped_root() / "local.yaml"
    if not path.is_file():  # pragma: no cover - a broken installation
        raise ConfigError([ConfigProblem("", "vista's packaged local profile is missing; "
                                         "reinstall vista.")])
    return path


def init_profiles(target: str | Path = ".", *, force: bool = False) -> list[Path]:
    """Write the shipped profiles under ``<target>/conf/`` for editing.

    Args:
        target: Folder to write into (``conf/`` is created there).
        force: Replace files that already exist.

    Returns:
        The files written.

    Raises:
        ConfigError: A file exists and ``force`` is false (nothing is written then).
    """
    root = _shipped_root()
    shipped = sorted(p.relative_to(root) for p in root.rglob("*.yaml"))
    dest = Path(target) / "conf"
    existing = [dest / name for name in shipped if (dest / name).exists()]
    if existing and not force:
        raise ConfigError([ConfigProblem(str(dest), f"{', '.join(str(p) for p in existing)} "
                                         "already exist(s); edit them, or pass --force to "
                                         "overwrite them with vista's shipped profiles.")])
    written = []
    for name in shipped:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, dest / name)
        written.append(dest / name)
    return written


NO_CONFIG = ("none found: pass --conf FILE, set VISTA_CONF, or run `vista config "
             "--init` here to write conf/local.yaml (`vista demo` needs none).")

