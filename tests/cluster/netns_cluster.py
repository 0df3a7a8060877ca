"""A Ray cluster of separate hosts on one machine: network namespaces joined by a bridge.

Every node is a namespace of its own (network, PID and mount with its own /proc) holding one
``ray start --block``; a "switch" namespace holds the bridge, and a "client" namespace is the outside
world from which jobs are submitted. The subnet exists only inside these namespaces: none of them has a
route anywhere else, and nothing is added to the namespace that runs the harness. Killing a node kills
its PID namespace's init, so the kernel ends every process of that node (raylet, workers, actors) at
once, like a machine that lost power; its network namespace and veth go with it.

Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), ``unshare``, ``nsenter`` and ``ip``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
SUBNET = "10.213.7"  # a private test subnet; it exists only inside the harness's namespaces
LEFTOVER_ENV = {"RAY_CLIENT_MODE", "PYTHONBREAKPOINT", "RAY_ADDRESS"}  # ray.init leaves these behind
# The test suite points HTTP proxies at a closed port so stray requests fail at once; the cluster's own
# requests (job and state clients → the head) must go direct. Nothing here has a route elsewhere anyway.
PROXY_ENV = {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"}


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _ns_members(kind: str, ns: str) -> list[int]:
    alive = []
    for link in Path("/proc").glob(f"[0-9]*/ns/{kind}"):
        try:
            if os.readlink(link) == ns:
                alive.append(int(link.parent.parent.name))
        except OSError:
            continue
    return alive


class HarnessError(RuntimeError):
    pass


@dataclass
class Namespace:
    """``unshare`` holding ``sleep infinity`` as the init of fresh network (and PID/mount) namespaces."""

    name: str
    pid_ns: bool = True
    holder: subprocess.Popen | None = None
    pid: int = 0  # the init inside; /proc/PID/ns/* are this namespace's

    def start(self) -> Namespace:
        flags = ["--net"] + (["--pid", "--mount-proc", "--fork", "--kill-child"] if self.pid_ns else [])
        self.holder = subprocess.Popen(["unshare", *flags, "sleep", "infinity"])
        deadline = time.time() + 10
        while not self.pid:
            kids = children(self.holder.pid) if self.pid_ns else [self.holder.pid]
            if kids and os.readlink(f"/proc/{kids[0]}/ns/net") != os.readlink("/proc/self/ns/net"):
                self.pid = kids[0]
            elif self.holder.poll() is not None or time.time() > deadline:
                raise HarnessError(f"namespace {self.name}: unshare failed (root is needed)")
            else:
                time.sleep(0.05)
        self.net_ns = os.readlink(f"/proc/{self.pid}/ns/net")
        return self

    def enter(self, *, pid: bool | None = None) -> list[str]:
        """The ``nsenter`` prefix that runs a command inside this namespace."""
        pid = self.pid_ns if pid is None else pid
        return ["nsenter", "-t", str(self.pid), "-n"] + (["-p", "-m"] if pid else []) + ["--"]

    def sh(self, *cmd: str) -> str:
        done = subprocess.run(self.enter() + list(cmd), capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise HarnessError(f"{self.name}: {' '.join(cmd)}: {done.stderr.strip()}")
        return done.stdout

    def kill(self) -> None:
        """SIGKILL the init: the kernel then kills every process of the PID namespace."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self.holder:
            self.holder.kill()
            self.holder.wait(timeout=30)

    def alive(self) -> list[int]:
        return _ns_members("net", self.net_ns) if self.pid else []


@dataclass
class Node:
    name: str
    ip: str
    ns: Namespace
    ray: subprocess.Popen | None = None
    log: Path | None = None
    node_id: str = ""


@dataclass
class NetnsCluster:
    """A head, ``workers`` worker nodes and a client, on ``SUBNET``.0/24 behind one bridge.

    ``worker_cpus`` are the logical CPUs each worker declares; the head declares none, so work runs on
    the workers only (as on a real cluster whose head only coordinates).
    """

    root: Path
    workers: int = 2
    worker_cpus: int = 3
    head_port: int = 6379
    dashboard_port: int = 8265
    nodes: dict[str, Node] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def head_ip(self) -> str:
        return f"{SUBNET}.10"

    @property
    def address(self) -> str:
        return f"http://{self.head_ip}:{self.dashboard_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every Ray command, nodes and clients alike (token auth with one token)."""
        return {
            **{k: v for k, v in os.environ.items() if k not in LEFTOVER_ENV | PROXY_ENV},
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_worker_niceness": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            # every host here has the same hostname, which resolves to 127.0.1.1: torch.distributed's
            # Gloo would then offer peers a loopback address. Name the interface (as on hosts whose
            # hostname does not resolve to their cluster address).
            "GLOO_SOCKET_IFNAME": "eth0",
            # notice a lost node in seconds, not the default ~30 s
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_timeout_ms": "2000",
            "RAY_health_check_failure_threshold": "3",
        }

    def start(self, timeout: float = 240) -> NetnsCluster:
        for tool in ("unshare", "nsenter", "ip"):
            if not shutil.which(tool):
                raise HarnessError(f"{tool} is needed to build the test cluster")
        self.root.mkdir(parents=True, exist_ok=True)
        self.switch = Namespace("switch", pid_ns=False).start()
        self.switch.sh("ip", "link", "add", "nhbr", "type", "bridge")
        self.switch.sh("ip", "link", "set", "nhbr", "up")
        self.client = self._plug(Namespace("client", pid_ns=False).start(), f"{SUBNET}.100")
        names = ["head"] + [f"worker{i}" for i in range(1, self.workers + 1)]
        for i, name in enumerate(names):
            ip = f"{SUBNET}.{10 + i}"
            self.nodes[name] = Node(name, ip, self._plug(Namespace(name).start(), ip))
        self._ray_start(self.nodes["head"], head=True)
        self._wait(lambda: self._alive_nodes() >= 1, timeout, "the head")
        for name in names[1:]:
            self._ray_start(self.nodes[name], head=False)
        self._wait(lambda: self._alive_nodes() == len(names), timeout, "the workers")
        for node in self.list("nodes"):
            for n in self.nodes.values():
                if node["node_ip"] == n.ip and node["state"] == "ALIVE":
                    n.node_id = node["node_id"]
        self.assert_isolated()
        return self

    def assert_isolated(self) -> None:
        """Every namespace routes only the test subnet and loopback: no traffic can leave them."""

        def ours(route: str) -> bool:
            words = route.split()
            dest = words[1] if words[0] in ("local", "broadcast", "multicast") else words[0]
            # IPv6 shows only link-local, loopback and multicast scopes: none of them routes off the link
            return dest.startswith((SUBNET + ".", "127.", "fe80::", "::1", "ff00::"))

        for ns in [self.switch, self.client] + [n.ns for n in self.nodes.values()]:
            routes = [r for r in ns.sh("ip", "route", "show", "table", "all").splitlines() if r.strip()]
            foreign = [r for r in routes if not ours(r)]
            if foreign:
                raise HarnessError(f"namespace {ns.name} has routes off the test subnet: {foreign}")

    def _plug(self, ns: Namespace, ip: str) -> Namespace:
        """A veth pair: ``eth0`` with ``ip`` inside ``ns``, its peer on the switch's bridge."""
        port = f"nh-{ns.name[:8]}"
        self.switch.sh(
            "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", str(ns.pid)
        )
        self.switch.sh("ip", "link", "set", port, "master", "nhbr", "up")
        ns.sh("ip", "link", "set", "lo", "up")
        ns.sh("ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        ns.sh("ip", "link", "set", "eth0", "up")
        return ns

    def _ray_start(self, node: Node, head: bool) -> None:
        temp = Path("/tmp") / f"nhc-{os.getpid()}-{node.name}"  # Ray's socket paths must stay short
        cmd = [str(BIN / "ray"), "start", "--block", f"--node-ip-address={node.ip}", f"--temp-dir={temp}"]
        cmd += ["--object-store-memory=300000000", "--disable-usage-stats"]
        if head:
            cmd += [
                "--head", f"--port={self.head_port}", "--num-cpus=0", "--include-dashboard=true",
                f"--dashboard-host={node.ip}", f"--dashboard-port={self.dashboard_port}",
            ]  # fmt: skip
        else:
            cmd += [f"--address={self.head_ip}:{self.head_port}", f"--num-cpus={self.worker_cpus}"]
            cmd += [f"--resources={json.dumps({node.name: 1})}"]
        node.log = self.root / f"{node.name}.log"
        with open(node.log, "w") as log:
            node.ray = subprocess.Popen(
                node.ns.enter() + cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.time() + timeout
        last = ""
        while True:
            try:
                if ready():
                    return
            except (HarnessError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                last = str(e)[-1500:]
            dead = [n for n in self.nodes.values() if n.ray and n.ray.poll() is not None]
            if dead or time.time() > deadline:
                logs = "\n".join(
                    f"--- {n.name}\n{n.log.read_text()[-1500:]}" for n in self.nodes.values() if n.log
                )
                raise HarnessError(f"{what} did not come up ({last}):\n{logs}")
            time.sleep(1)

    def client_run(self, cmd: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess:
        """Run ``cmd`` in the client namespace: outside every node, reaching the head over the bridge."""
        return subprocess.run(
            self.client.enter() + cmd, env=self.env, capture_output=True, text=True, timeout=timeout, **kw
        )

    def client_popen(self, cmd: list[str], log: Path, **kw) -> subprocess.Popen:
        with open(log, "w") as fh:
            return subprocess.Popen(
                self.client.enter() + cmd, env=self.env, stdout=fh, stderr=subprocess.STDOUT, **kw
            )

    def list(self, what: str, *filters: str, detail: bool = True) -> list[dict]:
        """``ray list WHAT`` through the state API, from the client namespace."""
        cmd = [
            str(BIN / "ray"),
            "list",
            what,
            "--address",
            self.address,
            "--format",
            "json",
            "--limit",
            "10000",
        ]
        cmd += ["--detail"] if detail else []
        for f in filters:
            cmd += ["--filter", f]
        done = self.client_run(cmd, timeout=120)
        if done.returncode:
            raise HarnessError(f"ray list {what}: {done.stderr[-2000:]}")
        return json.loads(done.stdout)

    def _alive_nodes(self) -> int:
        return sum(n["state"] == "ALIVE" for n in self.list("nodes"))

    def _replaced(self, old: Node) -> str:
        """The new Ray node id at ``old``'s address once the old id is no longer alive, else ''."""
        alive = [n for n in self.list("nodes") if n["state"] == "ALIVE"]
        if len(alive) != len(self.nodes) or any(n["node_id"] == old.node_id for n in alive):
            return ""
        return next((n["node_id"] for n in alive if n["node_ip"] == old.ip), "")

    def node_of(self, node_id: str | None) -> str:
        """Which of this cluster's nodes (head, worker1, …) has Ray node id ``node_id``."""
        if node_id is None:
            return "not placed"  # an actor still pending (or never placed) has no node
        for n in self.nodes.values():
            if n.node_id == node_id:
                return n.name
        return f"unknown node {node_id[:8]}"

    def kill_node(self, name: str) -> None:
        """Power off a node: every process in its namespaces dies at once (SIGKILL from the kernel)."""
        node = self.nodes[name]
        node.ns.kill()
        deadline = time.time() + 30
        while node.ns.alive() and time.time() < deadline:
            time.sleep(0.2)
        if node.ns.alive():
            raise HarnessError(f"processes of {name} outlived it: {node.ns.alive()}")

    def restart_node(self, name: str, private: Path | None = None, timeout: float = 240) -> None:
        """Bring worker ``name`` back as a fresh host with the same address (a replacement machine).

        ``private``: mount an empty tmpfs over this path on that host only, so it does not share the
        storage every other node sees there (for the shared-storage check).
        """
        old = self.nodes[name]
        if old.ns.alive():
            self.kill_node(name)
        deadline = time.time() + 30
        while f"nh-{name[:8]}" in self.switch.sh("ip", "-o", "link") and time.time() < deadline:
            time.sleep(0.2)  # the old veth goes when its namespace does
        node = Node(name, old.ip, self._plug(Namespace(name).start(), old.ip))
        if private is not None:
            node.ns.sh("mount", "-t", "tmpfs", "-o", "size=64m", "nh-private", str(private))
        self.nodes[name] = node
        self._ray_start(node, head=False)
        # The old host can still read ALIVE for a while after its processes died (Ray notices a lost
        # node only at its next health check), so wait for a new id at this address and the old one gone.
        self._wait(lambda: self._replaced(old), timeout, f"{name} again")
        node.node_id = self._replaced(old)

    def stop(self) -> None:
        """Kill every namespace; what is left afterwards is an error."""
        spaces = [n.ns for n in self.nodes.values()] + [
            getattr(self, "client", None),
            getattr(self, "switch", None),
        ]
        for ns in spaces:
            if ns:
                ns.kill()
        for n in self.nodes.values():
            if n.ray:
                n.ray.kill()
                n.ray.wait(timeout=30)
        deadline = time.time() + 30
        left = []
        while time.time() < deadline:
            left = [pid for ns in spaces if ns for pid in ns.alive()]
            if not left:
                break
            time.sleep(0.5)
        for n in self.nodes.values():
            shutil.rmtree(Path("/tmp") / f"nhc-{os.getpid()}-{n.name}", ignore_errors=True)
        if left:
            raise HarnessError(f"processes of the test cluster outlived it: {left}")
