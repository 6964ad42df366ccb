"""Randomness that does not depend on how a batch is split across replicas (tf.distribute).

Each replica of a MirroredStrategy / MultiWorkerMirroredStrategy holds the same seed generator states, so a plain
draw would give every replica the same noise. Here every replica draws the noise of the whole global batch (the
same numbers one replica would draw) and keeps its own rows: a 2-replica run sees exactly the dropout masks and z
noise of the 1-replica run. Batches must split evenly (the trainer checks it). Outside tf.distribute, and on other
backends, this is a plain draw.
"""
from __future__ import annotations

from collections.abc import Callable

import keras


def replica_context():
    """(replica index, number of replicas) of the running tf.distribute replica, or (0, 1)."""
    if keras.backend.backend() != "tensorflow":
        return 0, 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def replica_rows(draw: Callable, shape: tuple):
    """``draw(shape)`` as this replica's rows of ``draw((replicas * shape[0],) + shape[1:])``."""
    index, replicas = replica_context()
    if replicas == 1:
        return draw(shape)
    rows = shape[0]
    full = draw((rows * replicas,) + tuple(shape[1:]))
    start = index * rows
    return full[start:start + rows]
