#!/usr/bin/python3
"""make-852a8f0-fixture.py - re-create tests/compat/fixtures/852a8f0-overflow/ (issue 12).

The fixture is a store written by the released kcpipe of commit 852a8f0 (store format 4) that
holds what that release accepted but could not show afterwards:

  (a) the overflow pair of issue 12: province 79 amount_vnd = 2^63-1 and province 01
      amount_vnd = 5, year 2024, KC1, actual: each cell fits int64, the national sum does not;
  (b) two more events of province 79 in other months of 2024 with amounts near 2^63-1, so that
      province 79's year sum exceeds 2^64 (each cell still fits int64);
  (c) plan events: one of province 79 at 2^63-1 and one of province 01 (the national plan sum
      also leaves int64) and an ordinary one;
  (d) text that is not UTF-8, sent by a raw producer (hand-encoded protobuf over a ZeroMQ
      DEALER, since the 852a8f0 kc-send and libkcingest would not send it): an event whose
      event_id is "EV-\\xff\\xfe", an event whose note holds invalid UTF-8, and a Batch whose
      producer_id is "bad\\xff\\xfeid" (with one event);
  plus a few ordinary events, sent with the 852a8f0 kc-send from CSV files.

How (nothing of the current tree is used except this script):
  1. git -C REPO archive 852a8f0 | tar -x -C WORK/src; configure it in Release without
     sanitizers, tests or benchmarks; build kc-aggregator, kc-send, kc-query, kc-admin, kc-audit;
  2. start that kc-aggregator on an empty store WORK/store on tcp://127.0.0.1:* with
     --sth-interval-ms 0 (it signs a tree head after every group commit that grew the log) and
     --checkpoint-every 4 (so the fixture holds as-of checkpoints of the overflowing totals too);
  3. send the CSV rows with kc-send (producers office-79, office-01), then the raw Batches
     (producers raw-utf8 and bad\\xff\\xfeid); every Ack must say every event was accepted;
  4. stop the aggregator with SIGTERM (exit 0 required);
  5. check that 852a8f0 shows the bug: its kc-query --year 2024 exits 65;
  6. write the fixture: store.dump = `mdb_dump -a WORK/store` (the portable text form of every
     named database; lmdb-utils of Debian 12), audit.key (the store's signing key, needed by the
     tools that verify the signed heads), events.tsv (the manifest of every event sent, all
     accepted: the test computes the expected figures from it); the dump is checked to
     round-trip exactly (mdb_load into an empty dir, mdb_dump again, identical text) and the
     main database to hold nothing but the named databases.

A re-run makes an equivalent fixture, not a byte-identical one: receive times, the signing key
and so the signatures differ. Usage:
  tests/compat/make-852a8f0-fixture.py [--repo DIR] [--out DIR] [--work DIR] [--keep]
Needs: git, cmake, the build dependencies of kcpipe, lmdb-utils, python3-zmq (Debian).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq

COMMIT = "852a8f0"
I64MAX = 2**63 - 1

# The events sent through kc-send: (producer, event_id, province, year, month, activity, kind,
# fund, metrics, note). Every one is valid for 852a8f0 (and is accepted).
CSV_EVENTS = [
    # (a) the overflow pair
    ("office-79", "79-2024-01-KC1-001", "79", 2024, 1, "KC1", "actual", "kcdp",
     {"amount_vnd": I64MAX, "persons": 30, "events": 1}, "overflow pair: 2^63-1"),
    ("office-01", "01-2024-01-KC1-001", "01", 2024, 1, "KC1", "actual", "kcqg",
     {"amount_vnd": 5, "persons": 2, "events": 1}, "overflow pair: 5"),
    # (b) province 79's year sum beyond 2^64: other months, each cell within int64
    ("office-79", "79-2024-02-KC1-001", "79", 2024, 2, "KC1", "actual", "kcdp",
     {"amount_vnd": I64MAX, "persons": 25, "events": 1}, "near 2^63-1"),
    ("office-79", "79-2024-03-KC1-001", "79", 2024, 3, "KC1", "actual", "kcdp",
     {"amount_vnd": I64MAX - 1, "persons": 20, "events": 1}, "near 2^63-1"),
    # ordinary events
    ("office-79", "79-2024-04-KC4b-001", "79", 2024, 4, "KC4b", "actual", "kcqg",
     {"amount_vnd": 150000000, "events": 2, "facility_turns": 35}, "trade fair"),
    ("office-01", "01-2024-05-KC2-001", "01", 2024, 5, "KC2", "actual", "kcdp",
     {"amount_vnd": 80000000, "persons": 40, "events": 1}, "ordinary"),
    ("office-01", "01-2023-11-KC3b-001", "01", 2023, 11, "KC3b", "actual", "kcdp",
     {"amount_vnd": 420000000, "facilities": 3}, "another year"),
    # (c) plans: the national plan sum leaves int64 too
    ("office-79", "79-2024-01-KC1-P01", "79", 2024, 1, "KC1", "plan", "kcdp",
     {"amount_vnd": I64MAX}, "plan 2^63-1"),
    ("office-01", "01-2024-01-KC1-P01", "01", 2024, 1, "KC1", "plan", "kcqg",
     {"amount_vnd": 1000}, "plan"),
    ("office-01", "01-2024-01-KC2-P01", "01", 2024, 1, "KC2", "plan", "kcdp",
     {"amount_vnd": 90000000}, "plan"),
]

# (d) the raw Batches: (producer_id bytes, [events]); event_id and note as bytes.
RAW_BATCHES = [
    (b"raw-utf8", [
        (b"EV-\xff\xfe", "79", 2024, 6, "KC6", "actual", "other",
         {"amount_vnd": 1000000, "events": 1}, b"event_id not UTF-8"),
        (b"EV-NOTE-1", "01", 2024, 6, "KC6", "actual", "other",
         {"amount_vnd": 2000000, "events": 1}, b"ghi ch\xc3 \xff\xfe note not UTF-8"),
    ]),
    (b"bad\xff\xfeid", [
        (b"EV-BADPROD-1", "79", 2024, 7, "KC6", "actual", "other",
         {"amount_vnd": 3000000, "events": 1}, b"from a producer id not UTF-8"),
    ]),
]

METRIC_FIELDS = ["amount_vnd", "revenue_vnd", "persons", "persons_employed", "facilities",
                 "facility_turns", "products", "events", "delegates", "projects"]
KIND = {"actual": 1, "plan": 2}
FUND = {"kcqg": 1, "kcdp": 2, "other": 3}


# ---- protobuf wire encoding by hand (proto/kcpipe/v1/kcpipe.proto of 852a8f0) ----------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field, n):
    return varint(field << 3) + varint(n)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(field << 3 | 2) + varint(len(b)) + b


def enc_event(ev, producer, seq):
    event_id, prov, year, month, act, kind, fund, metrics, note = ev
    m = b"".join(f_varint(METRIC_FIELDS.index(k) + 1, v) for k, v in metrics.items())
    return (f_bytes(1, event_id) + f_bytes(2, prov) + f_varint(3, year) + f_varint(4, month) +
            f_bytes(5, act) + f_varint(6, KIND[kind]) + f_varint(7, FUND[fund]) + f_bytes(8, m) +
            f_bytes(9, note) + f_bytes(14, producer) + f_varint(15, seq))


def enc_batch(producer, events, epoch, last_seq):
    return (f_bytes(1, producer) + b"".join(f_bytes(2, e) for e in events) +
            f_varint(3, epoch) + f_varint(4, last_seq))


def dec_fields(buf):
    """[(field, value)] of one message: ints for varints, bytes for length-delimited."""
    out, i = [], 0
    while i < len(buf):
        key, i = s_dec_varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = s_dec_varint(buf, i)
        elif wt == 2:
            n, i = s_dec_varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError("unexpected wire type %d" % wt)
        out.append((field, v))
    return out


def s_dec_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


# ---- helpers ---------------------------------------------------------------------------------
def run(cmd, **kw):
    print("+ " + " ".join(str(c) for c in cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def csv_cell(v):
    return str(v)


def write_csv(path, rows):
    cols = ["event_id", "province", "year", "month", "activity", "kind", "fund"] + \
        METRIC_FIELDS + ["note"]
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for _, eid, prov, year, month, act, kind, fund, metrics, note in rows:
            cells = [eid, prov, year, month, act, kind, fund] + \
                [metrics.get(k, "") for k in METRIC_FIELDS] + [note]
            f.write(",".join(csv_cell(c) for c in cells) + "\n")


def tsv_text(b):
    """Bytes as manifest text: printable ASCII as is, anything else (and backslash) as \\xNN."""
    if isinstance(b, str):
        b = b.encode()
    return "".join(chr(c) if 0x20 <= c < 0x7F and c != 0x5C else "\\x%02x" % c for c in b)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(here)))
    ap.add_argument("--out", default=os.path.join(here, "fixtures", "852a8f0-overflow"))
    ap.add_argument("--work", default=None, help="work dir (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="kc-fixture-852a8f0.")
    os.makedirs(work, exist_ok=True)
    src, store = os.path.join(work, "src"), os.path.join(work, "store")
    agg = None
    try:
        # 1. the pristine 852a8f0 and its Release build
        if not os.path.isdir(src):
            os.makedirs(src)
            arch = subprocess.run(["git", "-C", a.repo, "archive", COMMIT], check=True,
                                  stdout=subprocess.PIPE).stdout
            run(["tar", "-x", "-C", src], input=arch)
        build = os.path.join(src, "build")
        env = {k: v for k, v in os.environ.items()
               if k not in ("CFLAGS", "LDFLAGS", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
        run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DKC_SANITIZE=OFF",
             "-DBUILD_TESTING=OFF", "-DKC_BUILD_BENCH=OFF"], env=env, stdout=subprocess.DEVNULL)
        run(["cmake", "--build", build, "-j2", "--target", "kc-aggregator", "kc-send",
             "kc-query", "kc-admin", "kc-audit"], env=env, stdout=subprocess.DEVNULL)
        b = os.path.join(build, "bin")

        # 2. the 852a8f0 aggregator on an empty store
        if os.path.exists(store):
            shutil.rmtree(store)
        ready = os.path.join(work, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        log = open(os.path.join(work, "aggregator.log"), "w")
        agg = subprocess.Popen([os.path.join(b, "kc-aggregator"), "--no-config", "--listen",
                                "tcp://127.0.0.1:*", "--store", store, "--ready-file", ready,
                                "--sth-interval-ms", "0", "--checkpoint-every", "4"],
                               stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        endpoint = None
        while time.monotonic() < deadline and endpoint is None:
            if agg.poll() is not None:
                sys.exit("kc-aggregator exited %d before it was ready" % agg.returncode)
            if os.path.exists(ready):
                with open(ready) as f:
                    line = f.readline().strip()
                if line.startswith("tcp://"):
                    endpoint = line
            time.sleep(0.05)
        if endpoint is None:
            sys.exit("kc-aggregator not ready within 30 s")

        # 3a. the CSV rows, one kc-send per producer
        for producer in ("office-79", "office-01"):
            rows = [r for r in CSV_EVENTS if r[0] == producer]
            csv = os.path.join(work, producer + ".csv")
            write_csv(csv, rows)
            out = run([os.path.join(b, "kc-send"), "--no-config", "--connect", endpoint,
                       "--producer", producer, "--spool", os.path.join(work, "spool-" + producer),
                       "--timeout", "60", "--quiet", csv], stdout=subprocess.PIPE).stdout.decode()
            want = "summary: rows=%d accepted=%d " % (len(rows), len(rows))
            if want not in out:
                sys.exit("kc-send %s: %s" % (producer, out))

        # 3b. the raw Batches, each on its own DEALER; every Ack: status OK, no result
        ctx = zmq.Context()
        epoch = time.time_ns()
        for producer, events in RAW_BATCHES:
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            payload = [enc_event(ev, producer, i + 1) for i, ev in enumerate(events)]
            sock.send(enc_batch(producer, payload, epoch, len(events)))
            if not sock.poll(30000):
                sys.exit("no Ack for the batch of %r" % producer)
            ack = dec_fields(sock.recv())
            fields = dict((f, v) for f, v in ack if f != 6)
            results = [dec_fields(v) for f, v in ack if f == 6]
            if fields.get(7, 0) != 0 or results or fields.get(4) != len(events):
                sys.exit("batch of %r not accepted whole: %r %r" % (producer, fields, results))
            sock.close()
        ctx.term()

        # 4. stop cleanly
        agg.send_signal(signal.SIGTERM)
        rc = agg.wait(30)
        agg = None
        if rc != 0:
            sys.exit("kc-aggregator exited %d on SIGTERM" % rc)

        # 5. 852a8f0 shows the bug of issue 12
        q = subprocess.run([os.path.join(b, "kc-query"), "--no-config", "--store", store,
                            "--year", "2024"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if q.returncode != 65:
            sys.exit("852a8f0 kc-query --year 2024 exited %d, expected 65 (the overflow)"
                     % q.returncode)
        print("852a8f0 kc-query --year 2024: exit 65: " + q.stderr.decode().strip(),
              file=sys.stderr)

        # 6. the fixture
        os.makedirs(a.out, exist_ok=True)
        dump = os.path.join(a.out, "store.dump")
        run(["mdb_dump", "-a", "-f", dump, store])
        with open(dump) as f:
            text = f.read()
        names = [ln[len("database="):] for ln in text.split("\n") if ln.startswith("database=")]
        s_check_main(store, names)
        again = os.path.join(work, "roundtrip")
        if os.path.exists(again):
            shutil.rmtree(again)
        os.makedirs(again)
        run(["mdb_load", "-f", dump, again])
        redump = subprocess.run(["mdb_dump", "-a", again], check=True,
                                stdout=subprocess.PIPE).stdout.decode()
        if redump != text:
            sys.exit("mdb_dump/mdb_load does not round-trip the store exactly")
        shutil.copyfile(os.path.join(store, "audit.key"), os.path.join(a.out, "audit.key"))
        with open(os.path.join(a.out, "events.tsv"), "w") as f:
            f.write("# every event in the fixture's log, all accepted by 852a8f0, in log order;\n"
                    "# tab-separated: producer event_id province year month activity kind fund\n"
                    "# metrics note; bytes outside printable ASCII (and backslash) as \\xNN\n")
            for producer in ("office-79", "office-01"):
                for r in CSV_EVENTS:
                    if r[0] == producer:
                        s_manifest(f, r[0], r[1:])
            for producer, events in RAW_BATCHES:
                for ev in events:
                    s_manifest(f, producer, ev)
        print("fixture written to %s (%d databases)" % (a.out, len(names)), file=sys.stderr)
    finally:
        if agg is not None:
            agg.kill()
            agg.wait()
        if not a.keep and not a.work:
            shutil.rmtree(work, ignore_errors=True)


def s_manifest(f, producer, ev):
    eid, prov, year, month, act, kind, fund, metrics, note = ev
    m = ",".join("%s=%d" % (k, v) for k, v in metrics.items())
    f.write("\t".join([tsv_text(producer), tsv_text(eid), prov, str(year), str(month), act, kind,
                       fund, m, tsv_text(note)]) + "\n")


def s_check_main(store, names):
    """The main database holds exactly the named databases that the dump holds."""
    out = subprocess.run(["mdb_dump", store], check=True, stdout=subprocess.PIPE).stdout.decode()
    body = out.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].split("\n")
    keys = [bytes.fromhex(body[i].strip()).decode() for i in range(0, len(body) - 1, 2)]
    if sorted(keys) != sorted(names):
        sys.exit("main database keys %r are not the dumped databases %r" % (keys, names))


if __name__ == "__main__":
    main()
