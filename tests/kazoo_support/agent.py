# A kazoo client the Rust tests drive line by line (tests/kazoo_support/mod.rs).
#
# argv: HOSTS [SESSION_TIMEOUT_SECS]. Reads one JSON object per line on stdin:
#   {"id": N, "exec": "python statements"}  -> runs them; the reply's value is `_` if set
#   {"id": N, "eval": "python expression"}  -> the expression's value
# and answers each with one line {"id": N, "ok": VALUE} or {"id": N, "err": "Type: message"}.
# Code runs in one namespace that holds `zk` (the started KazooClient), `emit(obj)` (prints
# {"ev": obj} from any thread), `spawn(fn, *args)` (a daemon thread) and `kazoo`'s modules.
# Bytes become str (UTF-8, replaced) in replies; other unknown values their repr().
import json
import sys
import threading
import traceback

import kazoo
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

out_lock = threading.Lock()


def _default(o):
    if isinstance(o, (bytes, bytearray)):
        return o.decode("utf-8", "replace")
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return repr(o)


def _out(obj):
    line = json.dumps(obj, default=_default)
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def emit(obj):
    _out({"ev": obj})


def spawn(fn, *args):
    def run():
        try:
            fn(*args)
        except Exception as e:  # reported as an event, never lost
            emit({"thread_error": "%s: %s" % (type(e).__name__, e),
                  "trace": traceback.format_exc()})
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


hosts = sys.argv[1]
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
zk = KazooClient(hosts=hosts, timeout=timeout,
                 connection_retry=KazooRetry(max_tries=-1, max_delay=1))
zk.start(timeout=30)

ns = {"zk": zk, "emit": emit, "spawn": spawn, "kazoo": kazoo, "threading": threading,
      "json": json}
_out({"ready": True, "session_id": zk.client_id[0]})
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    req = json.loads(line)
    rid = req.get("id")
    try:
        if "exec" in req:
            ns.pop("_", None)
            exec(req["exec"], ns)
            value = ns.get("_")
        else:
            value = eval(req["eval"], ns)
        _out({"id": rid, "ok": value})
    except Exception as e:
        _out({"id": rid, "err": "%s: %s" % (type(e).__name__, e)})
try:
    zk.stop()
    zk.close()
except Exception:
    pass
