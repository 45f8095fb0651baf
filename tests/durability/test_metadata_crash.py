"""kill -9 a process writing to SqliteMetadataStore: acknowledged puts and transactions survive, whole."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from tests.durability.crashkit import Killer

from nimbus.storage.sqlite import SqliteMetadataStore

CHILD = r'''
import sys, threading
from pathlib import Path
from nimbus.storage.sqlite import SqliteMetadataStore

store = SqliteMetadataStore(Path(sys.argv[1]))
round_ = int(sys.argv[2])
lock = threading.Lock()

def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

def worker(w):
    for i in range(10**9):
        key = f"{round_}/{w}/{i}"
        if i % 3 == 0:
            with store.transaction():  # a pair that must appear together or not at all
                store.put("pairs", key + "/a", {"i": i, "pad": "x" * (i % 500)})
                store.put("pairs", key + "/b", {"i": i})
                store.delete("docs", f"{round_}/{w}/{i - 3}")
            say(f"TX {key} {i - 3}")
        else:
            store.put("docs", key, {"w": w, "i": i, "f": i / 7, "l": [i, None, True]})
            say(f"PUT {key}")
        store.put("counters", f"{round_}/{w}", {"last": i})
        say(f"CTR {round_}/{w} {i}")

say("READY")
threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
for t in threads: t.start()
for t in threads: t.join()
'''


def test_acknowledged_writes_survive_kill_9(killer: Killer, tmp_path: Path) -> None:
    db = tmp_path / "metadata.db"
    rng = random.Random(7)
    puts: set[str] = set()
    pairs: set[str] = set()
    deleted: set[str] = set()
    counters: dict[str, int] = {}
    for round_ in range(4):
        for line in killer.run(CHILD, [str(db), str(round_)], kill_after_s=rng.uniform(0.1, 0.6)):
            kind, *rest = line.split()
            if kind == "PUT":
                puts.add(rest[0])
            elif kind == "TX":
                pairs.add(rest[0])
                w_prefix = rest[0].rsplit("/", 1)[0]
                deleted.add(f"{w_prefix}/{rest[1]}")
            elif kind == "CTR":
                counters[rest[0]] = max(counters.get(rest[0], -1), int(rest[1]))
        assert puts and pairs
        store = SqliteMetadataStore(db)
        try:
            for key in puts - deleted:
                w, i = map(int, key.split("/")[1:])
                assert store.get("docs", key) == {"w": w, "i": i, "f": i / 7, "l": [i, None, True]}
            for key in deleted:
                assert store.get("docs", key) is None
            for key in pairs:
                assert store.get("pairs", key + "/b") == {"i": int(key.rsplit("/", 1)[1])}
            a = {k[:-2] for k, _ in store.list("pairs") if k.endswith("/a")}
            b = {k[:-2] for k, _ in store.list("pairs") if k.endswith("/b")}
            assert a == b  # transactions are all-or-nothing, acknowledged or not
            for key, last in counters.items():
                doc = store.get("counters", key)
                assert doc is not None and doc["last"] >= last
        finally:
            store.close()
