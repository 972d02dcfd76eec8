# A kazoo contender for tests/recipe_coordination_faults.rs, exec'd in the kazoo agent's
# namespace (zk, emit, spawn). `contend` runs rounds with kazoo's OWN recipe class until
# stop[0]: acquire (with a timeout where kazoo has one, a short one for a fifth of them), append "enter ID" to the shared
# log, hold a few ms, append "leave ID" only if our node is still there, release.
import os
import random
import time

import kazoo.exceptions

stop = [False]


def contend(kind, path, ident, logpath, timeout, hold, max_leases, seed):
    rnd = random.Random(seed)
    fd = os.open(logpath, os.O_WRONLY | os.O_APPEND)

    def log(what):
        os.write(fd, ("%s %s\n" % (what, ident)).encode())

    if kind == "lock":
        r = zk.Lock(path, ident)
    elif kind == "election":
        r = zk.Election(path, ident)
    else:
        r = zk.Semaphore(path, ident, max_leases=max_leases)

    def holds():
        if kind == "semaphore":
            return zk.exists(r.create_path) is not None
        lock = r.lock if kind == "election" else r
        return lock.node is not None and zk.exists(lock.path + "/" + lock.node) is not None

    def work():
        log("enter")
        time.sleep(hold * (0.5 + rnd.random()))
        if holds():
            log("leave")

    rounds = timeouts = 0
    late = 0.0
    while not stop[0]:
        if kind == "election":
            r.run(work)
            rounds += 1
            continue
        t = timeout if rnd.random() > 0.2 else 0.01 + 0.09 * rnd.random()
        t0 = time.time()
        try:
            got = r.acquire(timeout=t)
        except kazoo.exceptions.LockTimeout:
            got = False
        late = max(late, time.time() - t0 - t)
        if not got:
            timeouts += 1
            continue
        try:
            work()
        finally:
            r.release()
        rounds += 1
    os.close(fd)
    emit({"done": ident, "rounds": rounds, "timeouts": timeouts, "late": late})
