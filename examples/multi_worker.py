"""Multi-worker training with tf.distribute.MultiWorkerMirroredStrategy.

Run one process per worker, each with its own TF_CONFIG (the same cluster, its own
task index). On one machine, two workers on loopback:

    python examples/multi_worker.py --workers 2 --output /tmp/mw   # launches both

or start them yourself:

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:20001", "127.0.0.1:20002"]},
                "task": {"type": "worker", "index": 0}}' python examples/multi_worker.py --worker
    (and index 1 in a second shell)

Each worker builds the model inside `strategy.scope()` and calls `fit` on the same
dataset; the strategy splits every global batch between workers and sums the gradients
(the loss divides by the non-pad token count summed over all replicas). Only the chief
(worker 0) writes the model, checkpoints and logs into `--output`; the other workers
write to a temporary folder that they delete (every worker must take part in saving,
because saving is a collective operation).
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile


def free_ports(count):
    """Ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(workers, output, epochs):
    """Starts `workers` processes on loopback and waits for them."""
    ports = free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = []
    for index in range(workers):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", "--output", output,
             "--epochs", str(epochs)], env=env))
    codes = [p.wait(timeout=900) for p in processes]
    if any(codes):
        raise SystemExit(f"a worker failed: exit codes {codes}")
    print(f"all {workers} workers finished; the chief wrote {output}")


def work(output, epochs):
    """One worker: build under the strategy, fit, save (chief to `output`)."""
    import numpy as np
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras

    import keras_seq2seq as ks

    task = json.loads(os.environ["TF_CONFIG"])["task"]
    is_chief = task["index"] == 0
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    source = rng.integers(4, 12, (1024, 6)).astype("int32")
    target = source[:, ::-1]
    decoder_input = np.concatenate([np.full((1024, 1), 2), target], 1).astype("int32")
    labels = np.concatenate([target, np.full((1024, 1), 3)], 1).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices(((source, decoder_input), labels))
    dataset = dataset.batch(64, drop_remainder=True)
    with strategy.scope():
        model = ks.Seq2Seq(12, 12, embedding_dim=16, units=32, cell_type="gru",
                           teacher_forcing=0.5, teacher_forcing_granularity="token")
        model.compile(optimizer=keras.optimizers.Adam(5e-3))
    target_dir = output if is_chief else tempfile.mkdtemp()
    os.makedirs(target_dir, exist_ok=True)
    history = model.fit(dataset, epochs=epochs, verbose=2 if is_chief else 0,
                        callbacks=[keras.callbacks.BackupAndRestore(
                            os.path.join(target_dir, "backup"))])
    model.save(os.path.join(target_dir, "model.keras"))
    if is_chief:
        with open(os.path.join(output, "history.json"), "w") as f:
            json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)
        print(f"chief: {strategy.num_replicas_in_sync} replicas, final loss "
              f"{history.history['loss'][-1]:.4f}")
    else:
        shutil.rmtree(target_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker", action="store_true",
                        help="run as one worker (reads TF_CONFIG)")
    parser.add_argument("--output", default="multi_worker_output")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if args.worker:
        work(args.output, args.epochs)
    else:
        launch(args.workers, args.output, args.epochs)


if __name__ == "__main__":
    main()
