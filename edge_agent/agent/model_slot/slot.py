"""The model slot: which model this agent serves, which one it should, and why it refused one. A fetch
thread brings the desired package into the cache; the scoring stage loads it beside the serving model
and swaps; anything that does not verify or cannot serve is refused while the current model serves on."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.agent.backoff import jittered_backoff
from edge_agent.agent.model_slot.deployment import Deployment, DeploymentRefused, read_deployment
from edge_agent.agent.model_slot.package_cache import PackageCache
from edge_agent.agent.stats import Stats
from edge_agent.agent.upload.targets import LandingTarget
from edge_agent.features import PackageError

__all__ = ["Activation", "ModelSlot"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Activation:
    """Load `folder` as `deployment.version` beside the serving model, then swap to it."""

    deployment: Deployment
    folder: Path
    keep_shadow: bool


class ModelSlot:
    def __init__(
        self,
        *,
        agent: str,
        line: str,
        cache: PackageCache,
        landing: LandingTarget,
        stats: Stats,
        retry_min_s: float,
        retry_max_s: float,
    ) -> None:
        self.agent = agent
        self.line = line
        self.cache = cache
        self.landing = landing
        self.stats = stats
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.request_activation: Callable[[Activation], None] = lambda activation: None
        self.request_drop_shadow: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.active: Deployment | None = None
        self.shadow_version: str | None = None
        self.loaded_ms: int | None = None
        self.desired: Deployment | None = None
        self.last_published_ms: int | None = None
        self.last_refusal: dict[str, Any] | None = None
        self._fetching: str | None = None

    # --- start: the cache first, so a restart scores at once without the network ---

    def cached_activation(self) -> Activation | None:
        """The deployment served before the restart, when its package still verifies."""
        current = self.cache.current()
        desired = self.cache.desired()
        for manifest in (desired, current):
            published = _published_ms(manifest)
            if published is not None:
                self.last_published_ms = max(self.last_published_ms or 0, published)
        if current is None:
            return None
        deployment = _deployment_of(current)
        if deployment is None or not self.cache.has(deployment.version):
            log.error("the cached current model cannot be used; waiting for a deployment")
            return None
        if desired is not None:
            wanted = _deployment_of(desired)
            if wanted is not None and wanted.applies_to(self.agent) and wanted.version != deployment.version:
                self.desired = wanted
        return Activation(deployment, self.cache.folder(deployment.version), keep_shadow=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model-slot", daemon=True)
        self._thread.start()
        if self.desired is not None:
            self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)

    # --- called by the scoring stage, in capture order ---

    def on_deployment(self, raw: bytes, public_key: str, key_id: str | None) -> None:
        try:
            deployment = read_deployment(
                raw, line=self.line, public_key_b64=public_key, key_id=key_id,
                last_published_ms=self.last_published_ms,
            )  # fmt: skip
        except DeploymentRefused as refused:
            self.refused(refused.version, refused.reason)
            return
        self.last_published_ms = deployment.published_ms
        self.cache.save_desired(deployment.manifest)
        if not deployment.applies_to(self.agent):
            log.info(
                "deployment %s (%s) is for %s, not us",
                deployment.version,
                deployment.stage,
                deployment.agents,
            )
            return
        active = self.active
        if active is not None and active.version == deployment.version:
            self._restage(deployment)
            return
        with self._lock:
            self.desired = deployment
        self._wake.set()

    def _restage(self, deployment: Deployment) -> None:
        """The version we serve, at another stage: a canary promoted to the fleet drops its shadow."""
        self.active = deployment
        self.desired = None
        self.cache.save_current(deployment.manifest)
        if deployment.stage != "canary" and self.shadow_version is not None:
            self.request_drop_shadow()

    def activated(self, activation: Activation) -> None:
        deployment = activation.deployment
        previous = self.active
        self.active = deployment
        self.shadow_version = previous.version if activation.keep_shadow and previous is not None else None
        self.loaded_ms = int(time.time() * 1000)
        with self._lock:
            if self.desired is not None and self.desired.version == deployment.version:
                self.desired = None
        self.cache.save_current(deployment.manifest)
        self.stats.event("model_swaps")
        log.info("serving model %s (%s)", deployment.version, deployment.stage)

    def shadow_dropped(self) -> None:
        self.shadow_version = None

    def refused(self, version: str, reason: str) -> None:
        self.last_refusal = {"version": version, "reason": reason[:2000], "at_ms": int(time.time() * 1000)}
        self.stats.event("model_refusals")
        log.error("model %s refused: %s", version or "?", reason)
        with self._lock:
            if self.desired is not None and self.desired.version == version:
                self.desired = None

    # --- the fetch thread ---

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                deployment = self.desired
            if deployment is None or self._stop.is_set():
                continue
            try:
                self._fetching = deployment.version
                folder = self.cache.fetch(deployment, self.landing)
            except PackageError as exc:
                self.refused(deployment.version, str(exc))
                continue
            except Exception as exc:  # the landing zone cannot be read now: retry, the old model serves
                delay = jittered_backoff(failures, self.retry_min_s, self.retry_max_s)
                failures += 1
                self.stats.event("model_fetch_failures")
                log.warning(
                    "fetching model %s failed (%r); retrying in %.1f s", deployment.version, exc, delay
                )
                self._stop.wait(delay)
                self._wake.set()
                continue
            finally:
                self._fetching = None
            failures = 0
            with self._lock:
                still_wanted = self.desired is not None and self.desired.version == deployment.version
            if still_wanted:
                self.request_activation(
                    Activation(deployment, folder, keep_shadow=deployment.stage == "canary")
                )

    # --- what the heartbeat says ---

    @property
    def ready(self) -> bool:
        return self.active is not None

    def state(self) -> dict[str, Any]:
        active, desired = self.active, self.desired
        wanted = desired or active
        state: dict[str, Any] = {
            "version": active.version if active else "",
            "ready": active is not None,
            "desired_version": wanted.version if wanted is not None else "",
            "stage": active.stage if active else None,
            "last_refusal": self.last_refusal,
        }
        if self.loaded_ms is not None:
            state["loaded_ms"] = self.loaded_ms
        if self.shadow_version is not None:
            state["shadow_version"] = self.shadow_version
        return state


def _published_ms(manifest: dict[str, Any] | None) -> int | None:
    rollout = (manifest or {}).get("rollout")
    value = rollout.get("published_ms") if isinstance(rollout, dict) else None
    return value if isinstance(value, int) else None


def _deployment_of(manifest: dict[str, Any]) -> Deployment | None:
    """A deployment read back from the cache (it was verified when it was accepted)."""
    found = manifest.get("rollout")
    rollout: dict[str, Any] = found if isinstance(found, dict) else {}
    try:
        return Deployment(
            manifest=manifest,
            version=str(manifest["model_version"]),
            stage=str(rollout.get("stage", "fleet")),
            agents=tuple(str(a) for a in rollout.get("agents") or ()),
            published_ms=int(rollout.get("published_ms", 0)),
            package_uri=str(manifest.get("package_uri", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        log.error("a cached deployment is not readable: %r", exc)
        return None
