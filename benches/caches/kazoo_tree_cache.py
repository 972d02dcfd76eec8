# The peer of benches/caches: kazoo's TreeCache loading one tree.
#
# Run by the bench as `python3 -c SCRIPT HOSTS PATH NODES`: connects, then times
# TreeCache(client, PATH).start() until its listener hears INITIALIZED, and prints one JSON
# object on stdout: {"secs", "nodes" (NODE_ADDED events before INITIALIZED),
# "rss_growth_bytes" (VmRSS after minus before, from /proc/self/status; null if unreadable),
# "kazoo"}. Exits non-zero (message on stderr) when INITIALIZED does not come.
import json
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.recipe.cache import TreeCache, TreeEvent
import kazoo.version


def rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def main():
    hosts, path, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = KazooClient(hosts=hosts, timeout=40.0)
    client.start(timeout=30)
    initialized = threading.Event()
    added = [0]

    def listener(event):
        if event.event_type == TreeEvent.NODE_ADDED and not initialized.is_set():
            added[0] += 1
        elif event.event_type == TreeEvent.INITIALIZED:
            initialized.set()

    before = rss_bytes()
    t0 = time.perf_counter()
    cache = TreeCache(client, path)
    cache.listen(listener)
    cache.start()
    if not initialized.wait(timeout=float(sys.argv[4]) if len(sys.argv) > 4 else 3600.0):
        sys.stderr.write("kazoo: no INITIALIZED in time\n")
        sys.exit(3)
    secs = time.perf_counter() - t0
    after = rss_bytes()
    growth = after - before if before is not None and after is not None else None
    print(json.dumps({
        "secs": secs,
        "nodes": added[0],
        "want": want,
        "rss_growth_bytes": growth,
        "kazoo": kazoo.version.__version__,
    }))
    sys.stdout.flush()
    cache.close()
    client.stop()
    client.close()


main()
