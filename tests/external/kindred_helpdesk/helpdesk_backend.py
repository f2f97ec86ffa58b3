"""A minimal PEP 517 backend: builds a pure-Python wheel of ``kindred_helpdesk.py``.

Enough for ``pip install`` of this one-module example; real connector packages use
setuptools, hatchling or flit and declare the same entry point in their pyproject.toml."""

from __future__ import annotations

import base64
import hashlib
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).parent


def _project() -> dict[str, object]:
    data = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))
    project: dict[str, object] = data["project"]
    return project


def _dist_info() -> tuple[str, dict[str, bytes]]:
    project = _project()
    name = str(project["name"]).replace("-", "_")
    version = str(project["version"])
    info = f"{name}-{version}.dist-info"
    metadata = (
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {version}\n"
        f"Summary: {project['description']}\nRequires-Python: {project['requires-python']}\n"
    )
    entry_points = ""
    for group, points in dict(project.get("entry-points", {})).items():  # type: ignore[call-overload]
        entry_points += f"[{group}]\n"
        entry_points += "".join(f"{k} = {v}\n" for k, v in points.items())
    files = {
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: helpdesk_backend\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": entry_points.encode(),
    }
    return info, files


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    info, files = _dist_info()
    files = {"kindred_helpdesk.py": (HERE / "kindred_helpdesk.py").read_bytes(), **files}
    project = _project()
    filename = f"{str(project['name']).replace('-', '_')}-{project['version']}-py3-none-any.whl"
    record = "".join(_record_line(p, d) for p, d in files.items()) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(Path(wheel_directory) / filename, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{info}/RECORD", record)
    return filename


def get_requires_for_build_wheel(config_settings: dict[str, object] | None = None) -> list[str]:
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: dict[str, object] | None = None
) -> str:
    info, files = _dist_info()
    for path, data in files.items():
        target = Path(metadata_directory) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return info
