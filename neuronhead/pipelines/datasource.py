"""A Ray Data datasource with one read task per pending shard."""

from __future__ import annotations

from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from neuronhead.data import SourcePlan
from neuronhead.pipelines.shards import Shard, read_shard

_BYTES_PER_ROW = 200  # a tweet, its id and label: only a hint for Ray's memory planning


class ShardDatasource(Datasource):
    """Each read task reads one shard's rows and returns them packed as a single row."""

    def __init__(self, plan: SourcePlan, shards: list[Shard]) -> None:
        super().__init__()
        self.plan = plan
        self.shards = shards

    def estimate_inmemory_data_size(self) -> int:
        return sum(s.count for s in self.shards) * _BYTES_PER_ROW

    def get_read_tasks(self, parallelism: int, per_task_row_limit=None, data_context=None) -> list[ReadTask]:
        plan = self.plan
        return [
            ReadTask(
                lambda s=shard: [read_shard(plan, s)],
                BlockMetadata(
                    num_rows=1,
                    size_bytes=shard.count * _BYTES_PER_ROW,
                    exec_stats=None,
                    input_files=(plan.files[shard.file_index].path,),
                ),
            )
            for shard in self.shards
        ]
