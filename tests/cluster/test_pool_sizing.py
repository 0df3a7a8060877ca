"""Actor pools are sized per node: every worker node gets model actors, and each node keeps a CPU for
the read and tokenize tasks (a pool that takes every CPU of a node would hang the job)."""

from __future__ import annotations

from neuronhead.cluster.sizing import pool_sizing


def test_one_node_keeps_a_cpu_for_the_reads():
    assert pool_sizing(nodes=[{"CPU": 2.0}]) == pool_sizing(resources={"CPU": 2.0})
    s = pool_sizing(nodes=[{"CPU": 2.0}])
    assert (s.size, s.num_cpus, s.num_gpus, s.torch_threads) == (1, 1.0, 0.0, 2)
    s = pool_sizing(nodes=[{"CPU": 16.0}])
    assert (s.size, s.torch_threads) == (4, 4)
    assert pool_sizing(4, nodes=[{"CPU": 2.0}]).size == 1  # asked for more than the node can feed


def test_a_cluster_gets_actors_on_every_worker_node_and_none_for_a_zero_cpu_head():
    head = {"CPU": 0.0, "memory": 1e9}
    s = pool_sizing(nodes=[head, {"CPU": 3.0}, {"CPU": 3.0}])
    assert (s.size, s.num_cpus, s.torch_threads) == (2, 1.0, 3)
    s = pool_sizing(nodes=[head, {"CPU": 16.0}, {"CPU": 16.0}, {"CPU": 16.0}])
    assert (s.size, s.torch_threads) == (12, 4)
    # a head with no CPUs next to one worker is a one-node pool
    assert pool_sizing(nodes=[head, {"CPU": 2.0}]) == pool_sizing(nodes=[{"CPU": 2.0}])


def test_gpu_nodes_get_one_actor_per_gpu():
    s = pool_sizing(nodes=[{"CPU": 8.0, "GPU": 1.0}, {"CPU": 8.0, "GPU": 2.0}])
    assert (s.size, s.num_gpus, s.num_cpus) == (3, 1.0, 1.0)
