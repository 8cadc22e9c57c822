"""The agent's model packages on disk (`<spool>/models/`): fetched from the landing zone, verified,
kept with the served and the desired deployment so that a restart scores at once, offline."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from edge_agent.agent.model_slot.deployment import Deployment
from edge_agent.agent.upload.targets import LandingTarget
from edge_agent.features import MANIFEST_FILE, PackageError, load_package
from edge_agent.features.manifest import listed_files
from edge_agent.files.fsutil import makedirs_durable, replace_atomically

__all__ = ["PackageCache"]

log = logging.getLogger(__name__)

_DESIRED = "desired.json"
_CURRENT = "current.json"


def _join(prefix: str, path: str) -> str:
    return f"{prefix.strip('/')}/{path}" if prefix.strip("/") else path


class PackageCache:
    """`desired.json` (the last deployment accepted), `current.json` (the one served), and verified
    package folders `<version>/` (the newest `keep`). `fetch` reads the listed files from
    `<landing>/<package_uri>/` into a temporary folder beside the deployment manifest, verifies the whole
    with `load_package` and only then renames it into place."""

    def __init__(
        self, root: Path, *, public_key: str, key_id: str | None, keep: int, max_file_bytes: int
    ) -> None:
        self.root = root
        self.public_key = public_key
        self.key_id = key_id
        self.keep = keep
        self.max_file_bytes = max_file_bytes

    def folder(self, version: str) -> Path:
        return self.root / version

    # --- deployments kept across restarts ---

    def _read(self, name: str) -> dict[str, Any] | None:
        path = self.root / name
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            log.error("ignoring %s: not readable JSON (%s)", path, exc)
            return None
        return data if isinstance(data, dict) else None

    def _write(self, name: str, manifest: dict[str, Any]) -> None:
        makedirs_durable(self.root)
        raw = json.dumps(manifest, sort_keys=True).encode()

        def write(temp: Path) -> None:
            temp.write_bytes(raw)

        replace_atomically(self.root / name, write)

    def desired(self) -> dict[str, Any] | None:
        return self._read(_DESIRED)

    def save_desired(self, manifest: dict[str, Any]) -> None:
        self._write(_DESIRED, manifest)

    def current(self) -> dict[str, Any] | None:
        return self._read(_CURRENT)

    def save_current(self, manifest: dict[str, Any]) -> None:
        self._write(_CURRENT, manifest)
        self._prune(keep={str(manifest.get("model_version"))})

    # --- packages ---

    def has(self, version: str) -> bool:
        """A verified copy of `version` is here (verified again now: the disk may have changed)."""
        folder = self.folder(version)
        if not folder.is_dir():
            return False
        try:
            load_package(folder, self.public_key, key_id=self.key_id)
        except PackageError as exc:
            log.error("cached package %s no longer verifies, fetching it again: %s", version, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return False
        return True

    def fetch(self, deployment: Deployment, landing: LandingTarget) -> Path:
        """The verified package folder of `deployment`. `PackageError` when what the landing zone holds
        does not verify or a listed file is missing there (`LandingMissing` is turned into it); any other
        exception means the landing zone could not be read (try again later)."""
        from edge_agent.agent.upload.targets import LandingMissing

        if self.has(deployment.version):
            return self.folder(deployment.version)
        listed = listed_files(deployment.manifest, "deployment manifest")
        partial = self.root / f".{deployment.version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            for path in listed:
                try:
                    body = landing.get(_join(deployment.package_uri, path), self.max_file_bytes)
                except LandingMissing as exc:
                    raise PackageError(f"package {deployment.version}: {exc}") from None
                target = partial / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
            (partial / MANIFEST_FILE).write_bytes(json.dumps(deployment.manifest, sort_keys=True).encode())
            load_package(partial, self.public_key, key_id=self.key_id)
            makedirs_durable(self.root)
            shutil.rmtree(self.folder(deployment.version), ignore_errors=True)
            partial.rename(self.folder(deployment.version))
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return self.folder(deployment.version)

    def discard(self, version: str) -> None:
        shutil.rmtree(self.folder(version), ignore_errors=True)

    def _prune(self, keep: set[str]) -> None:
        """Keep the newest `self.keep` packages (by folder time) and every version in `keep`."""
        folders = sorted(
            (p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for stale in folders[self.keep :]:
            if stale.name not in keep:
                shutil.rmtree(stale, ignore_errors=True)
