"""From a champion in the registry to models serving at the edge: the package copied where agents can
read it, the signed deployment manifest, and the canary decision (promote or roll back)."""
