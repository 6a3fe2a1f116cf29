"""Replicas behind HAProxy (deploy/haproxy/run-local.sh 3): load spread over every replica,
sessions pinned to theirs, a replica drained by SIGTERM mid-load without failing a stateless
call, and a killed one taken out by the health check. Loopback only; counts and waits bounded.

Run by scripts/test.sh: python3 tests-external/haproxy_test.py BINARY (stdlib only)."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from common import check, finish  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/debug/wasm-sandbox"))
# Every replica reads the same tokens file; the test's clients share one client name, whose
# quotas are raised so that eight of them at once stay within them.
TOKEN, TOKEN_LINE = subprocess.run([BINARY, "token", "replicas-test"], capture_output=True, text=True,
                                   check=True).stdout.split("\n")[:2]
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2025-06-18", "Authorization": f"Bearer {TOKEN}"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """An MCP client over one keep-alive connection to HAProxy that starts a new session when
    its session is gone (404), as the MCP spec tells clients to."""

    def __init__(self, port):
        self.port = port
        self.connection = None
        self.session = None
        self.next_id = 10
        self.reinitialized = 0
        self.gone = []

    def post(self, body):
        for _ in range(3):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                headers = dict(HEADERS)
                if self.session:
                    headers["Mcp-Session-Id"] = self.session
                self.connection.request("POST", "/mcp", json.dumps(body), headers)
                response = self.connection.getresponse()
                return response.status, response.getheader("Mcp-Session-Id"), response.read().decode()
            except (ConnectionError, http.client.HTTPException, OSError):
                # The replica behind this connection went away: a new connection, same session.
                self.connection = None
        raise ConnectionError("three connections failed")

    def initialize(self):
        self.session = None
        status, session, _ = self.post(INIT)
        if status != 200 or not session:
            return False
        self.session = session
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return True

    def call(self, arguments):
        """The structured result of execute_code; a new session when the old one is gone."""
        for _ in range(3):
            if self.session is None and not self.initialize():
                continue
            self.next_id += 1
            status, _, body = self.post({"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call",
                                         "params": {"name": "execute_code", "arguments": arguments}})
            if status == 404:
                self.gone.append(body)
                self.session = None
                self.reinitialized += 1
                continue
            for line in body.splitlines():
                if line.startswith("data:") and line[5:].strip():
                    message = json.loads(line[5:])
                    if message.get("id") == self.next_id:
                        return message.get("result", {}).get("structuredContent"), body
            if body.startswith("{"):
                message = json.loads(body)
                return message.get("result", {}).get("structuredContent"), body
            return None, f"{status} {body[:300]}"
        return None, "no session after three tries"


def metric(port, replica, name):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", f"/replicas/{replica}/metrics")
    text = connection.getresponse().read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + "{") or line.startswith(name + " "))


def server_states(admin_socket):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(admin_socket)
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return {line.split(",")[1]: line.split(",")[17] for line in data.decode().splitlines()
            if line.startswith("replicas,r")}


def main():
    port = free_port()
    tokens = os.path.join(tempfile.mkdtemp(prefix="haproxy-test-"), "tokens")
    with open(tokens, "w") as handle:
        handle.write(f"{TOKEN_LINE} concurrent_runs=64 calls_per_minute=100000\n")
    cluster = subprocess.Popen([os.path.join(ROOT, "deploy/haproxy/run-local.sh"), "3", str(port)],
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "WASM_SANDBOX": BINARY,
                                    "WASM_SANDBOX_ARGS": f"--max-timeout-ms 10000 --auth-tokens {tokens}"})
    replicas, admin = {}, None
    try:
        for line in cluster.stdout:
            words = line.split()
            if words[0] == "replica":
                replicas[words[1]] = int(words[2])
            elif words[0] == "haproxy":
                admin = words[2]
            elif words[0] == "ready":
                break
        check("cluster ready", len(replicas) == 3 and admin, (replicas, admin))
        exercise(port, replicas, admin)
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()
        check("run-local.sh stops its replicas",
              all(subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
                  for pid in replicas.values()), replicas)
    return finish("haproxy")


def exercise(port, replicas, admin):
    hello = {"language": "javascript", "code": "console.log('hi')"}
    failures, calls, clients = [], [0], []
    lock = threading.Lock()

    def stateless(count):
        client = Client(port)
        clients.append(client)
        for _ in range(count):
            result, detail = client.call(hello)
            with lock:
                calls[0] += 1
                if not result or result.get("status") != "ok" or result.get("stdout") != "hi\n":
                    failures.append(detail)

    # 8 clients, 600 calls: every replica serves some (each client's session is pinned).
    threads = [threading.Thread(target=stateless, args=(75,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check("600 stateless calls answered", calls[0] == 600 and not failures, failures[:3])
    served = {name: metric(port, name, "wasm_sandbox_executions_total") for name in replicas}
    check("every replica served calls", all(count > 0 for count in served.values()), served)

    # A session keeps its state across 50 calls while other clients load the cluster, and a
    # replica is drained (SIGTERM) mid-load: no stateless call fails, its sessions are told
    # to start again, the others are untouched.
    sessions = [Client(port) for _ in range(3)]
    values = [[] for _ in sessions]
    for client in sessions:
        client.initialize()
    for index, client in enumerate(sessions):
        client.call({"language": "javascript", "session_id": "s", "code": "var x = 0"})
    failures.clear()
    calls[0] = 0
    load = [threading.Thread(target=stateless, args=(60,)) for _ in range(4)]
    for thread in load:
        thread.start()
    victim = "r2"
    for step in range(50):
        if step == 20:
            os.kill(replicas[victim], signal.SIGTERM)
        for index, client in enumerate(sessions):
            if client.session is None:
                continue
            result, _ = client.call({"language": "javascript", "session_id": "s", "code": "x += 1"})
            values[index].append(result.get("value") if result else None)
    for thread in load:
        thread.join()
    check("no stateless call failed while a replica drained", calls[0] == 240 and not failures, failures[:3])
    untouched = [v for v in values if len(v) == 50 and v == [str(n) for n in range(1, 51)]]
    check("sessions on the other replicas kept their state for 50 calls", len(untouched) >= 1, values)
    # Each session either kept its whole count, or was on the drained replica and was told so
    # (a 404 naming initialize, below): none lost its state silently.
    check("every session kept its state or was told it is gone",
          all(v == [str(n) for n in range(1, 51)] or client.gone for v, client in zip(values, sessions)),
          (values, [len(client.gone) for client in sessions]))
    deadline = time.time() + 30
    while time.time() < deadline and server_states(admin).get(victim) == "UP":
        time.sleep(0.2)
    check("the drained replica is out of the pool", server_states(admin).get(victim) != "UP", server_states(admin))
    answers = [body for client in clients + sessions for body in client.gone]
    check("its sessions were told to start a new one",
          answers and all("start a new one with initialize" in body for body in answers), answers[:2])

    # A replica killed outright is taken out by the health check (inter 1s, fall 2).
    killed = "r3"
    started = time.time()
    os.kill(replicas[killed], signal.SIGKILL)
    while time.time() - started < 30 and server_states(admin).get(killed) == "UP":
        time.sleep(0.1)
    taken_out = time.time() - started
    check("a killed replica is taken out by the health check", server_states(admin).get(killed) != "UP",
          server_states(admin))
    print(f"haproxy: the killed replica was taken out after {taken_out:.1f} s (documented: within 3 s)")
    result, detail = Client(port).call(hello)
    check("the remaining replica serves", result and result.get("status") == "ok", detail)


if __name__ == "__main__":
    sys.exit(main())
