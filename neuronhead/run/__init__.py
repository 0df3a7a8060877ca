"""The main job (``neuronhead run``: ``run.job.run`` with a ``run.config.RunConfig``), its report, and
the commands that start from raw data (``run.from_data``).

Nothing is imported here, so the command line can read ``RunConfig``'s fields to build ``run``'s flags
without importing torch.
"""
