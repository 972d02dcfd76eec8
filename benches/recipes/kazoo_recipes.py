# kazoo's side of benches/recipes (run by the bench with python3 -c SCRIPT MODE ...).
# cycle HOSTS PATH N: N uncontended Lock acquire+release cycles -> {"us_per_cycle"}.
# handoff HOSTS PATH N: two clients in two threads hand a Lock to each other N times; each
#   hand-off is timed from just before the holder's release() to the return of the waiter's
#   acquire() -> {"latencies_us": [...]}.
# counter HOSTS PATH SECS: one client adding 1 to a Counter, one add at a time: prints
#   "ready", waits for a line on stdin, adds for SECS seconds -> {"count"}.
import json
import sys
import threading
import time

import kazoo
from kazoo.client import KazooClient


def client(hosts):
    zk = KazooClient(hosts=hosts, timeout=30)
    zk.start(timeout=30)
    return zk


def out(obj):
    obj["kazoo"] = getattr(kazoo, "__version__", "?")
    print(json.dumps(obj), flush=True)


def cycle(hosts, path, n):
    zk = client(hosts)
    lock = zk.Lock(path, "bench")
    lock.acquire()
    lock.release()
    t0 = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    secs = time.perf_counter() - t0
    zk.stop()
    zk.close()
    out({"us_per_cycle": secs * 1e6 / n})


def handoff(hosts, path, n):
    clients = [client(hosts), client(hosts)]
    locks = [c.Lock(path, "bench-%d" % i) for i, c in enumerate(clients)]
    lat = []
    errors = []
    locks[0].acquire()
    holder = 0
    for _ in range(n):
        waiter = 1 - holder
        zk_w, lock_w = clients[waiter], locks[waiter]
        done = threading.Event()
        acquired = []

        def wait_for_it():
            try:
                lock_w.acquire(timeout=30)
                acquired.append(time.perf_counter())
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            done.set()

        before = set(zk_w._data_watchers)
        t = threading.Thread(target=wait_for_it)
        t.start()
        # The waiter is waiting once kazoo registered its watch on the predecessor.
        deadline = time.time() + 30
        while set(zk_w._data_watchers) == before and time.time() < deadline:
            time.sleep(0.0002)
        t0 = time.perf_counter()
        locks[holder].release()
        done.wait(60)
        t.join()
        if not acquired:
            break
        lat.append((acquired[0] - t0) * 1e6)
        holder = waiter
    locks[holder].release()
    for c in clients:
        c.stop()
        c.close()
    out({"latencies_us": lat, "errors": errors})


def counter(hosts, path, secs):
    zk = client(hosts)
    c = zk.Counter(path)
    c += 0
    print("ready", flush=True)
    sys.stdin.readline()
    end = time.perf_counter() + secs
    count = 0
    while time.perf_counter() < end:
        c += 1
        count += 1
    zk.stop()
    zk.close()
    out({"count": count})


mode, hosts, path, arg = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if mode == "cycle":
    cycle(hosts, path, int(arg))
elif mode == "handoff":
    handoff(hosts, path, int(arg))
elif mode == "counter":
    counter(hosts, path, float(arg))
else:
    sys.exit("unknown mode " + mode)
