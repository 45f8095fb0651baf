"""kill -9 while PutRecordBatch calls are in flight from several writers: after the restart every record
whose call was acknowledged is delivered (at least once; duplicates only as documented), and the stream
keeps working."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.conftest import NimbusProcess
from tests.integration.firehose.test_firehose import ENV, create, flush, objects


def test_kill9_with_calls_in_flight_loses_no_acknowledged_record(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data", env=ENV).start()
    try:
        fh, s3 = server.client("firehose"), server.client("s3")
        s3.create_bucket(Bucket="inflight")
        # a small size hint: objects are being written (and checkpoints taken) while the writers run
        create(fh, "inflight", name="inflight", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900})
        acked: list[bytes] = []
        lock = threading.Lock()
        started = threading.Event()

        def writer(w: int) -> None:
            client = server.client("firehose")
            b = 0
            while True:
                batch = [f"{w}-{b:05d}-{i:03d}-{'x' * 200}\n".encode() for i in range(200)]
                try:
                    resp = client.put_record_batch(DeliveryStreamName="inflight", Records=[{"Data": r} for r in batch])
                except Exception:  # noqa: BLE001 - the server died under us
                    return
                if resp["FailedPutCount"] == 0:
                    with lock:
                        acked.extend(batch)
                started.set()
                b += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        assert started.wait(30)
        deadline = time.monotonic() + 30
        while len(acked) < 20_000 and time.monotonic() < deadline:  # several objects' worth delivered already
            time.sleep(0.05)
        server.kill9()
        for t in threads:
            t.join(30)
        assert len(acked) >= 20_000
        server.start()
        flush(server, "inflight")
        got = b"".join(objects(server.client("s3"), "inflight").values()).splitlines(keepends=True)
        delivered = set(got)
        missing = [r for r in acked if r not in delivered]
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:3]}"
        # the stream keeps working after the crash
        fh = server.client("firehose")
        assert fh.put_record_batch(DeliveryStreamName="inflight", Records=[{"Data": b"after\n"}])["FailedPutCount"] == 0
        flush(server, "inflight")
        assert b"after\n" in b"".join(objects(server.client("s3"), "inflight").values()).splitlines(keepends=True)
    finally:
        server.stop()
