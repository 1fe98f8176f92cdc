"""Load YAML config into typed models, with includes and environment overrides.

Every problem in a file is collected and raised together as one ``ConfigError``, each
with its key path, so a user fixes a bad file in one pass.

Environment overrides: ``VISTA__<SECTION>__<KEY>[__<KEY>...]=value`` sets the key at
that path (case-insensitive; a number selects a list item), e.g.
``VISTA__LAKE__ROOT=s3://bucket/lake`` or ``VISTA__SPARK__SHUFFLE_PARTITIONS=64``.
Values are parsed as YAML scalars, so ``true``, ``8`` and ``[a, b]`` keep their types.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from vista.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:  # pragma: no cover
    from vista.config.root import VistaConfig

ENV_PREFIX = "VISTA__"


def key_path(loc: tuple[Any, ...]) -> str:
    """Render a pydantic error location as ``a.b[2].c``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _read_yaml(path: Path, problems: list[ConfigProblem], seen: set[Path]) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        problems.append(ConfigProblem("include", f"include cycle through {path.name}"))
        return {}
    seen = seen | {path}
    if not path.is_file():
        problems.append(ConfigProblem("", f"config file {path.name!s} not found"))
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problems.append(ConfigProblem("", f"{path.name} is not valid YAML{where}: {exc}"))
        return {}
    if data is None:
        # an empty file is a mistake (a wrong path, a failed template), not "use the defaults"
        problems.append(ConfigProblem("", f"{path.name} is empty (or holds only comments); "
                                          f"expected a mapping of sections such as lake:, "
                                          f"ingest:; run without --conf for the defaults"))
        return {}
    if not isinstance(data, dict):
        problems.append(ConfigProblem("", f"{path.name} must hold a mapping of sections "
                                          f"(lake:, ingest:, ...), found {type(data).__name__}"))
        return {}
    merged: dict[str, Any] = {}
    for inc in _includes(data, path, problems):
        merged = deep_merge(merged, _read_yaml(path.parent / inc, problems, seen))
    return deep_merge(merged, data)


def _includes(data: dict[str, Any], path: Path, problems: list[ConfigProblem]) -> list[str]:
    """The files ``data``'s ``include:`` names (popped); a problem for each bad entry.

    An ``include:`` that names nothing (null, an empty list or an empty string) is a
    problem: the file meant to bring in sections that are not there.
    """
    if "include" not in data:
        return []
    includes = data.pop("include")
    if isinstance(includes, str):
        includes = [includes]
    if not includes or not isinstance(includes, list):
        problems.append(ConfigProblem("include", f"{path.name}: include names no file; expected "
                                                 f"a path or a list of paths (found "
                                                 f"{includes!r})"))
        return []
    out = []
    for i, inc in enumerate(includes):
        if not isinstance(inc, str) or not inc.strip():
            problems.append(ConfigProblem(f"include[{i}]",
                                          f"expected a file path string, found {inc!r}"))
        else:
            out.append(inc)
    return out


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base``: mappings merge recursively, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_env_overrides(
    data: dict[str, Any], env: Mapping[str, str], problems: list[ConfigProblem]
) -> dict[str, Any]:
    """Apply ``VISTA__A__B=value`` overrides to the raw config mapping."""
    out = copy.deepcopy(data)
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not parts:
            continue
        try:
            value = yaml.safe_load(env[name])
        except yaml.YAMLError:
            value = env[name]
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    problems.append(ConfigProblem(
                        key_path(tuple(parts[:i])) + f"[{part}]",
                        f"environment variable {name} points to a list item that does not exist"))
                    break
                idx = int(part)
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
                    if not isinstance(node, (dict, list)):
                        problems.append(ConfigProblem(
                            ".".join(parts[: i + 1]),
                            f"environment variable {name} goes below a key that is not a section"))
                        break
    return out


def _local(path: str) -> Path | None:
    """The local folder a location names (a ``file:`` URI too); ``None`` for a URI of any
    other scheme (read by :func:`vista.lake.resolve_location`, like the run reads it)."""
    from vista.lake import resolve_location

    if not path or not path.strip():
        return None
    local = resolve_location(os.path.expanduser(path)).local
    return None if local is None else Path(local)


def _check_writable_dir(key: str, value: Any, problems: list[ConfigProblem]) -> None:
    if not isinstance(value, str):
        return
    path = _local(value)
    if path is None:
        return
    if path.exists() and not path.is_dir():
        problems.append(ConfigProblem(key, f"'{value}' exists and is not a directory"))
        return
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        problems.append(ConfigProblem(key, f"'{value}' cannot be created or written (no write "
                                           f"permission on its nearest existing parent)"))


def check_paths(data: Mapping[str, Any], problems: list[ConfigProblem]) -> None:
    """Report local paths the run will write to but cannot use."""
    sections = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    _check_writable_dir("lake.root", sections.get("lake", {}).get("root"), problems)
    _check_writable_dir("spark.checkpoint_dir",
                        sections.get("spark", {}).get("checkpoint_dir"), problems)
    uri = sections.get("mlflow", {}).get("tracking_uri")
    if isinstance(uri, str) and uri.startswith("sqlite:///"):
        _check_writable_dir("mlflow.tracking_uri",
                            str(Path(uri[len("sqlite:///"):]).parent), problems)


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> VistaConfig:
    """Load a vista config file (or the built-in defaults) into a typed ``VistaConfig``.

    Args:
        path: A YAML file; ``None`` uses the defaults only.
        env: Environment for ``VISTA__...`` overrides (defaults to ``os.environ``).

    Returns:
        The validated, frozen config.

    Raises:
        ConfigError: With every problem found, each with its key path.

    Example:
        >>> cfg = load_config(None, env={"VISTA__LAKE__ENGINE": "delta-rs"})
        >>> cfg.lake.engine
        'delta-rs'
    """
    from vista.config.root import VistaConfig

    problems: list[ConfigProblem] = []
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_yaml(Path(path), problems, set())
    raw = apply_env_overrides(raw, os.environ if env is None else env, problems)
    check_paths(raw, problems)
    cfg = None
    try:
        cfg = VistaConfig.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; `vista config` lists every key)"
            elif err["type"] == "missing":
                msg = "required key is missing"
            elif "input" in err and err["type"] not in ("model_type",):
                msg = f"{msg} (found {err['input']!r})"[:300]
            problems.append(ConfigProblem(key_path(err["loc"]), msg))
    if problems:
        raise ConfigError(problems, source=str(path) if path else None)
    assert cfg is not None
    return cfg

