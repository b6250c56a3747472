"""Trains a sweep's runs as Ray tasks, for `npm run sweep -- --ray ADDRESS`.

The sweep (bin/sweep.js) keeps the bookkeeping: which runs, their folders,
what is resumed, the progress. It starts this script and speaks JSON lines
with it. On standard input it sends

  {"op": "train", "id": 3, "args": [...], "threads": 1, "staging": "/root/x/.seed-1.arriving"}
  {"op": "stop"}   the running trainers stop after their step and save; queued runs are dropped
  {"op": "kill"}   the running trainers end without saving

and the end of its input cancels whatever still runs. On standard output this
script answers {"event": "ready", ...} once connected, then per run
"started" (its node), "line" (each line the trainer writes) and "ended" (its
exit status, its whole output, and whether its folder came back) or
"cancelled". Ray's own messages go to standard error.

Each run is a task that declares `threads` CPUs and runs the trainer on
whichever node Ray picks, writing into a temporary folder of that node. The
saved folder comes back as a tar archive through Ray's object store and is
unpacked into the staging folder the sweep named, so the nodes share no disk;
they need only the project, built, at the same path.
"""

import argparse
import ctypes
import io
import json
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading

import ray
from ray.exceptions import RayError, TaskCancelledError
from ray.util.queue import Queue
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

# How the trainer learns its node, to record it in run.json (lib/runs/environment.ts: RAY_NODE_VARIABLES).
NODE_ID_VARIABLE = "CRNN_RAY_NODE_ID"
NODE_IP_VARIABLE = "CRNN_RAY_NODE_IP"

# Seconds between two looks at the tasks and their output.
POLL_SECONDS = 0.2

# Seconds to wait for the head to answer a TCP connection.
CONNECT_SECONDS = 10

# Seconds cancelled tasks get to end their trainers before their workers are killed.
CANCEL_GRACE_SECONDS = 15

PR_SET_PDEATHSIG = 1


def ended_with_parent():
    """A function for Popen's preexec_fn: the kernel kills the trainer when the task's worker ends (Linux).

    prctl is looked up before the fork: the child of a process with threads may only call what is ready.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@ray.remote
def train_run(project, node_binary, run_id, args, threads, events):
    """Trains one run on this node; returns its exit status, output, node and folder (a tar archive, or None)."""
    node = {
        "id": ray.get_runtime_context().get_node_id(),
        "ip": ray.util.get_node_ip_address(),
        "hostname": socket.gethostname(),
    }
    trainer = os.path.join(project, "dist", "bin", "train.js")
    executable = node_binary if os.access(node_binary, os.X_OK) else shutil.which("node")
    missing = (f"no trainer at {trainer}" if not os.path.isfile(trainer)
               else None if executable else "no node executable")
    if missing:
        return {"code": 1, "signal": None, "node": node, "command": [], "folder": None,
                "log": f"error: {missing} on node {node['ip']} ({node['hostname']}); every node needs "
                       f"the project built (npm ci) at {project}\n"}
    with tempfile.TemporaryDirectory(prefix="crnn-ray-run-") as work:
        out = os.path.join(work, "run")
        command = [executable, trainer, *args, "--out", out]
        env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads),
                   **{NODE_ID_VARIABLE: node["id"], NODE_IP_VARIABLE: node["ip"]})
        trainer_process = subprocess.Popen(command, cwd=project, env=env, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           preexec_fn=ended_with_parent())
        log = []

        def forward_output():
            for raw in trainer_process.stdout:
                line = raw.decode("utf-8", "replace")
                log.append(line)
                events.put({"event": "line", "id": run_id, "line": line.rstrip("\n")})

        reader = threading.Thread(target=forward_output, daemon=True)
        try:
            events.put({"event": "started", "id": run_id, "node": node, "pid": trainer_process.pid})
            reader.start()
            # Waits in short spells: Ray's cancel raises KeyboardInterrupt between two of them.
            while True:
                try:
                    code = trainer_process.wait(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    pass
            reader.join()
        except BaseException:
            # Cancelled (KeyboardInterrupt) or failed here: the trainer must not outlive its task.
            trainer_process.kill()
            trainer_process.wait()
            raise
        folder = None
        if os.path.isfile(os.path.join(out, "run.json")):
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w") as tar:
                tar.add(out, arcname=".")
            folder = archive.getvalue()
        return {"code": code if code >= 0 else None,
                "signal": signal.Signals(-code).name if code < 0 else None,
                "node": node, "command": command, "log": "".join(log), "folder": folder}


@ray.remote(num_cpus=0)
def signal_trainer(pid, signal_number):
    """Sends a signal to a trainer on this node (the task is placed on the trainer's node)."""
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass


def emit(message):
    """Writes one message to the sweep; a sweep that is gone ends this script."""
    try:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os._exit(1)


def read_commands(commands):
    """Puts each line of standard input on `commands`, then None at its end."""
    for line in sys.stdin:
        if line.strip():
            commands.put(json.loads(line))
    commands.put(None)


def unpack(folder, staging):
    """Unpacks a run folder's tar archive into the (new) staging folder."""
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    with tarfile.open(fileobj=io.BytesIO(folder), mode="r") as tar:
        tar.extractall(staging, filter="data")


class Sweep:
    """The runs in the cluster: submitted, started, ended."""

    def __init__(self, project, node_binary):
        self.project = project
        self.node_binary = node_binary
        self.events = Queue(actor_options={"num_cpus": 0})
        self.tasks = {}  # task reference -> run id
        self.staging = {}  # run id -> staging folder
        self.started = {}  # run id -> (node id, trainer pid)

    def handle(self, command):
        if command["op"] == "train":
            self.train(command)
        elif command["op"] == "stop":
            self.stop()
        elif command["op"] == "kill":
            self.kill()
        else:
            raise ValueError(f"unknown op {command['op']!r}")

    def train(self, command):
        run_id = command["id"]
        task = train_run.options(num_cpus=command["threads"]).remote(
            self.project, self.node_binary, run_id, command["args"], command["threads"], self.events)
        self.tasks[task] = run_id
        self.staging[run_id] = command["staging"]

    def stop(self):
        """Running trainers get SIGTERM (they save and end); runs not started yet are dropped."""
        self.forward_events()  # the runs that started since the last look
        for task, run_id in self.tasks.items():
            if run_id in self.started:
                node_id, pid = self.started[run_id]
                strategy = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
                signal_trainer.options(scheduling_strategy=strategy).remote(pid, signal.SIGTERM)
            else:
                ray.cancel(task)

    def kill(self):
        """Running trainers end without saving (their tasks are cancelled), and so do runs not started yet."""
        for task in self.tasks:
            ray.cancel(task)

    def abandon(self):
        """The sweep is gone: cancels every task, giving them a moment to end their trainers and clean up."""
        if not self.tasks:
            return
        self.kill()
        _, left = ray.wait(list(self.tasks), num_returns=len(self.tasks), timeout=CANCEL_GRACE_SECONDS)
        for task in left:
            ray.cancel(task, force=True)

    def forward_events(self):
        """Passes on what the tasks reported since the last look."""
        count = self.events.qsize()
        if count == 0:
            return
        for event in self.events.get_nowait_batch(count):
            if event["event"] == "started":
                self.started[event["id"]] = (event["node"]["id"], event.pop("pid"))
            emit(event)

    def collect(self, timeout):
        """Waits up to `timeout` seconds for tasks to end, then reports those that did."""
        if not self.tasks:
            return
        done, _ = ray.wait(list(self.tasks), num_returns=len(self.tasks), timeout=timeout)
        self.forward_events()  # a run's lines before its end
        for task in done:
            run_id = self.tasks.pop(task)
            staging = self.staging.pop(run_id)
            self.started.pop(run_id, None)
            try:
                result = ray.get(task)
            except TaskCancelledError:
                emit({"event": "cancelled", "id": run_id})
                continue
            except RayError as err:
                emit({"event": "ended", "id": run_id, "code": None, "signal": None, "node": None,
                      "command": [], "folder": False, "log": f"error: the Ray task failed: {err}\n"})
                continue
            folder = result.pop("folder")
            if folder is not None:
                unpack(folder, staging)
            emit({"event": "ended", "id": run_id, "folder": folder is not None, **result})


def unreachable_reason(address):
    """Why nothing answers at HOST:PORT, or None (also for `auto`, which Ray looks up itself).

    Ray would retry an address where nothing listens for minutes; a TCP connection tells at once.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return None
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as err:
        return f"nothing answers there ({err})"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", required=True, help="the Ray cluster: HOST:PORT of its head, or auto")
    parser.add_argument("--project", required=True, help="the project's folder, the same on every node")
    parser.add_argument("--node-binary", default="node", help="the node executable, where the nodes have it")
    options = parser.parse_args()
    unreachable = unreachable_reason(options.address)
    if unreachable:
        emit({"event": "error", "message": f"cannot connect to the Ray cluster at {options.address}: {unreachable}"})
        return 1
    try:
        ray.init(address=options.address, log_to_driver=False, configure_logging=True, logging_level=logging.WARNING)
    except Exception as err:  # Ray raises ConnectionError, ValueError or its own errors here
        emit({"event": "error", "message": f"cannot connect to the Ray cluster at {options.address}: {err}"})
        return 1
    nodes = [node for node in ray.nodes() if node["Alive"]]
    emit({"event": "ready", "nodes": len(nodes),
          "nodeCpus": [int(node["Resources"].get("CPU", 0)) for node in nodes]})
    sweep = Sweep(options.project, options.node_binary)
    commands = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
    while True:
        try:
            # While tasks run, their ends and output are looked at between commands.
            command = commands.get(block=not sweep.tasks, timeout=POLL_SECONDS)
        except queue.Empty:
            sweep.collect(POLL_SECONDS)
            sweep.forward_events()
            continue
        if command is None:  # the sweep closed its end, or is gone
            sweep.abandon()
            break
        sweep.handle(command)
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
