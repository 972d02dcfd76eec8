# A kazoo contender for tests/recipe_coordination_faults.rs, exec'd in the kazoo agent's
# namespace (zk, emit, spawn). `contend` runs rounds with kazoo's OWN recipe class until
# stop[0]: acquire (with a timeout where kazoo has one, a short one for a fifth of them), append "enter ID" to the shared
# log, hold a few ms, append "leave ID" only if our node is still there, release.
import os
import random
import time

import kazoo.exceptions
from kazoo.retry import KazooRetry

stop = [False]
# kazoo's own calls fail with these while the ensemble elects a leader: the contender
# retries its checks, and counts (and reports) a round that raised one.
TRANSIENT = (kazoo.exceptions.ConnectionLoss, kazoo.exceptions.OperationTimeoutError,
             kazoo.exceptions.SessionExpiredError)


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

    retry = KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5, deadline=60)

    def holds():
        if kind == "semaphore":
            node = r.create_path
        else:
            lock = r.lock if kind == "election" else r
            if lock.node is None:
                return False
            node = lock.path + "/" + lock.node
        return retry(zk.exists, node) is not None

    def work():
        log("enter")
        time.sleep(hold * (0.5 + rnd.random()))
        if holds():
            log("leave")

    late = [0.0]

    # kazoo's Election is its Lock: its rounds take `r.lock` with a timeout, as
    # `Election.run` (no timeout) was seen to wait forever once, with no node left.
    lock = r.lock if kind == "election" else r

    def one_round():
        t = timeout if rnd.random() > 0.2 else 0.01 + 0.09 * rnd.random()
        t0 = time.time()
        try:
            got = lock.acquire(timeout=t)
        except kazoo.exceptions.LockTimeout:
            got = False
        late[0] = max(late[0], time.time() - t0 - t)
        if not got:
            return False
        try:
            work()
        finally:
            retry(lock.release)
        return True

    rounds = timeouts = 0
    raised = []
    while not stop[0]:
        try:
            if one_round():
                rounds += 1
            else:
                timeouts += 1
        except TRANSIENT as e:
            raised.append("%s: %s" % (type(e).__name__, e))
    os.close(fd)
    emit({"done": ident, "rounds": rounds, "timeouts": timeouts, "late": late[0],
          "raised": raised})
