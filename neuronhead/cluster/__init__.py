"""How to reach Ray: an in-process local instance by default, or a cluster at ``--address``."""

from neuronhead.cluster.connect import ensure_ray, pool_sizing

__all__ = ["ensure_ray", "pool_sizing"]
