#!/usr/bin/python3
"""tests/conformance: a third-party producer against a real kc-aggregator.

The client (kcconf.py) is written from docs/PROTOCOL.md and the comments of
proto/kcpipe/v1/kcpipe.proto, with protoc-generated bindings, python3-zmq and a hand-written
protobuf wire writer for the bytes the bindings refuse to build. Each test class runs its own
kc-aggregator (a fresh temporary store, 127.0.0.1, ports chosen by the aggregator and read from
its --ready-file), stopped by pid (SIGTERM, exit 0 required) at the end of the class. Tests of
one class use their own producer ids and their own years, so they do not see each other's
figures; a test that needs a store of its own (CURVE, disk full) is a class of its own.

After each scenario every view must still answer: kc-query in every shape, /v1/totals,
/v1/producers, /v1/head, /v1/status, and /metrics must pass `promtool check metrics`
(kcconf.check_views). Run through ctest (tests/conformance/CMakeLists.txt), one class per ctest
entry:  /usr/bin/python3 conformance_test.py WireTest
"""

import hashlib
import json
import os
import shutil
import struct
import tempfile
import unittest

import zmq

import kcconf as kc
from kcconf import event, raw_event, raw_batch

INT64_MAX = (1 << 63) - 1


class AggTest(unittest.TestCase):
    """One kc-aggregator for the class; per test a producer id and a year of its own."""

    extra = ()  # more kc-aggregator options
    fsize = None  # RLIMIT_FSIZE of the aggregator (bytes)
    first_year = 2001

    @classmethod
    def setUpClass(cls):
        cls.pb = kc.bindings()
        os.makedirs(kc.WORK_DIR, exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix=f"{cls.__name__}-", dir=kc.WORK_DIR)
        cls.ctx = zmq.Context()
        cls.next_year = cls.first_year
        cls.agg = kc.Aggregator(cls.tmp, extra=cls.prepare(), fsize=cls.fsize)
        cls.agg.start()

    @classmethod
    def prepare(cls):
        """Files the aggregator needs before it starts; returns its options."""
        return list(cls.extra)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.agg.stop()
        finally:
            cls.agg.kill()
            cls.ctx.destroy(linger=0)
            if not os.environ.get("KC_CONF_KEEP"):
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.pid = ("conf-" + self._testMethodName)[:64]
        self.year = type(self).next_year
        type(self).next_year += 1
        self.seq = 0  # this test's producer's last seq

    # -- building events --
    def ev(self, eid, amount=1000, province="79", activity="KC3b", month=1, year=None, seq=None,
           producer=None, metrics=None, **extra):
        """A valid record (with the bindings); takes the next seq unless seq is given."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        return event(event_id=eid, province=province, year=year or self.year, month=month,
                     activity=activity,
                     metrics={"amount_vnd": amount} if metrics is None else metrics,
                     producer_id=producer or self.pid, seq=seq, **extra)

    def raw(self, seq=None, **f):
        """An event written by hand; fields default to a valid record's; None drops a field."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        base = dict(event_id=f"raw-{seq}", province="79", year=self.year, month=1,
                    activity="KC3b", metrics={"amount_vnd": 1}, producer_id=self.pid, seq=seq)
        base.update(f)
        return raw_event(**{k: v for k, v in base.items() if v is not None})

    def producer(self, pid=None, curve=None, endpoint=None):
        p = kc.Producer(self.ctx, endpoint or self.agg.endpoint, pid or self.pid, curve=curve)
        self.addCleanup(p.close)
        return p

    # -- checking Acks --
    def assertAck(self, ack, status=None, acked=None, committed=None, resend_from=0,
                  results=(), epoch=None, producer_id=None):
        """An Ack as PROTOCOL.md "Ack" describes it. acked: (from, to), or None: nothing
        acknowledged (both absent). results: [(seq or None, reason)], in that order. epoch:
        the Batch's producer_epoch (STATUS_OK: echoed, 0 if the Batch had none)."""
        pb = self.pb
        status = pb.STATUS_OK if status is None else status
        self.assertTrue(ack.HasField("status"), f"status absent:\n{ack}")
        self.assertEqual(pb.Status.Name(ack.status), pb.Status.Name(status), f"\n{ack}")
        ok = status == pb.STATUS_OK
        if acked is None:
            self.assertFalse(ack.HasField("acked_from") or ack.HasField("acked_to"), f"\n{ack}")
        else:
            self.assertTrue(ack.HasField("acked_from") and ack.HasField("acked_to"), f"\n{ack}")
            self.assertEqual((ack.acked_from, ack.acked_to), acked, f"\n{ack}")
        # committed_seq: present exactly when the Batch was processed
        self.assertEqual(ack.HasField("committed_seq"), ok, f"\n{ack}")
        if committed is not None:
            self.assertEqual(ack.committed_seq, committed, f"\n{ack}")
        # resend_from: present (non-zero) only at a gap
        self.assertEqual(ack.HasField("resend_from"), bool(resend_from), f"\n{ack}")
        self.assertEqual(ack.resend_from, resend_from, f"\n{ack}")
        got = [(r.seq if r.HasField("seq") else None, pb.Reason.Name(r.reason))
               for r in ack.results]
        want = [(s, pb.Reason.Name(r)) for s, r in results]
        self.assertEqual(got, want, f"\n{ack}")
        for i, r in enumerate(ack.results):
            self.assertTrue(r.HasField("reason") and r.reason != pb.REASON_OK, f"\n{ack}")
            self.assertTrue(r.text, f"a Result without text:\n{ack}")
            self.assertLessEqual(len(r.text.encode()), 255, f"\n{ack}")
            self.assertLessEqual(len(r.event_id.encode()), 64, f"\n{ack}")
            if r.HasField("seq"):
                self.assertTrue(ack.acked_from <= r.seq <= ack.acked_to, f"\n{ack}")
            else:
                self.assertEqual(i, len(ack.results) - 1, f"a Result without seq is last:\n{ack}")
        # error: on every refusal, and on STATUS_OK only at a gap
        self.assertEqual(ack.HasField("error"), not ok or bool(resend_from), f"\n{ack}")
        if not ok:
            self.assertTrue(ack.error, f"\n{ack}")
        # producer_id: echoed when the Batch decoded and its producer id passed
        if status in (pb.STATUS_UNDECODABLE, pb.STATUS_BAD_PRODUCER):
            self.assertFalse(ack.HasField("producer_id"), f"\n{ack}")
        else:
            self.assertEqual(ack.producer_id, producer_id or self.pid, f"\n{ack}")
        # producer_epoch: the Batch's with STATUS_OK; absent when refused; 0 when unavailable
        if ok:
            self.assertTrue(ack.HasField("producer_epoch"), f"\n{ack}")
            if epoch is not None:
                self.assertEqual(ack.producer_epoch, epoch, f"\n{ack}")
        elif status == pb.STATUS_UNAVAILABLE:
            self.assertEqual(ack.producer_epoch, 0, f"\n{ack}")
        else:
            self.assertFalse(ack.HasField("producer_epoch"), f"\n{ack}")
        return ack

    def reason_name(self, reason):
        return self.pb.Reason.Name(reason)[len("REASON_"):].lower()

    def amount(self, year=None, *args):
        """amount_vnd of kc-query --year Y --format json (kind actual, every fund)."""
        return self.agg.totals(year or self.year, *args)["totals"]["amount_vnd"]

    def views(self, *years):
        return kc.check_views(self.agg, years or (self.year,))


# ---- the exchange ----------------------------------------------------------------------------

class WireTest(AggTest):
    """Batches and Acks: valid, pipelined, duplicates, conflicts, resends, gaps, epochs and
    fencing, refused Batches (statuses), multi-frame and oversized messages."""

    def test_writer_matches_bindings(self):
        """The hand-written wire writer encodes a valid Event and Batch exactly as protoc's
        bindings do, so the bytes it writes elsewhere differ only where a test wants them to."""
        f = dict(event_id="EV-1", province="79", year=2024, month=3, activity="KC1",
                 kind=self.pb.KIND_PLAN, fund=self.pb.FUND_KCDP, note="ghi chú",
                 metrics={"amount_vnd": 12345, "persons": 20, "persons_employed": 7},
                 op=self.pb.OP_CORRECTION, corrects="EV-0", producer_id="p", seq=300,
                 submitted_by="office-79/lan")
        self.assertEqual(raw_event(**f), event(**f))
        e = [event(**f)]
        self.assertEqual(raw_batch("p", e, 5, 9), kc.batch("p", e, 5, 9))
        self.assertEqual(raw_event(metrics={"amount_vnd": -1}),
                         event(metrics={"amount_vnd": -1}))

    def test_valid_batch(self):
        p = self.producer()
        ack = p.call([self.ev("V-1", 100), self.ev("V-2", 200), self.ev("V-3", 300)])
        self.assertAck(ack, acked=(1, 3), committed=3, epoch=0)
        totals = self.views()
        self.assertEqual(totals[self.year]["totals"]["amount_vnd"], 600)
        self.assertEqual(totals[self.year]["events"], 3)
        label = f'producer="{self.pid}"'
        kc.wait_metrics(self.agg, "kcpipe_producer_committed_seq", lambda m: m.get(label) == 3)
        code, prods = self.agg.get_json("/v1/producers")
        self.assertEqual(code, 200)
        mine = [x for x in prods["producers"] if x["producer"] == self.pid]
        self.assertEqual(len(mine), 1, prods)
        self.assertEqual((mine[0]["committed_seq"], mine[0]["epoch"]), (3, 0), prods)

    def test_empty_batch(self):
        """A Batch without events is answered (one Ack per Batch) and acknowledges nothing."""
        p = self.producer()
        self.assertAck(p.call([]), acked=None, committed=0)
        self.assertAck(p.call([self.ev("E-1", 5)]), acked=(1, 1), committed=1)
        self.assertAck(p.call([]), acked=None, committed=1)

    def test_pipelined_batches(self):
        """Several Batches in flight before any Ack is read: one Ack each, in the order sent,
        each covering its own Batch; a rejection lands in its own Batch's Ack."""
        p = self.producer()
        sent, want = [], []
        for b in range(6):
            evs = [self.ev(f"P-{b}-{k}", 10 * b + k) for k in range(4)]
            first = self.seq - 3
            results = []
            if b == 3:  # one rejected event in the middle of a Batch in flight
                evs[1] = self.raw(seq=first + 1, event_id=f"P-{b}-bad", month=13)
                results = [(first + 1, self.pb.REASON_BAD_MONTH)]
            sent.append(p.send(evs))
            want.append(((first, self.seq), results))
        for acked, results in want:
            self.assertAck(p.recv_ack(), acked=acked, committed=acked[1], results=results)
        expect = sum(10 * b + k for b in range(6) for k in range(4)) - (10 * 3 + 1)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], expect)

    def test_pipelined_gap(self):
        """Pipelined Batches where one jumps ahead: its Ack says resend_from and acknowledges
        nothing; the Batches before and after it are unaffected; resending fills the gap."""
        p = self.producer()
        a = [self.ev(f"G-{i}", 1) for i in range(4)]  # 1..4
        b = [self.ev(f"G-{i}", 1) for i in range(4, 8)]  # 5..8
        c = [self.ev(f"G-{i}", 1) for i in range(8, 10)]  # 9..10
        p.send(a)
        p.send(c)  # out of order: a gap after 4
        p.send(b)
        self.assertAck(p.recv_ack(), acked=(1, 4), committed=4)
        gap = self.assertAck(p.recv_ack(), acked=None, committed=4, resend_from=5)
        self.assertIn("5", gap.error)
        self.assertAck(p.recv_ack(), acked=(5, 8), committed=8)
        self.assertAck(p.call(c), acked=(9, 10), committed=10)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 10)

    def test_gaps(self):
        p = self.producer()
        self.assertAck(p.call([self.ev("H-1", 1), self.ev("H-2", 2)]), acked=(1, 2), committed=2)
        # a Batch starting beyond hwm + 1: nothing processed, resend from 3
        far = [self.ev("H-5", 5, seq=5), self.ev("H-6", 6, seq=6)]
        self.assertAck(p.call(far), acked=None, committed=2, resend_from=3)
        # a Batch whose seqs jump inside: processed up to the jump, resend from there
        jump = [self.ev("H-3", 3, seq=3), self.ev("H-4", 4, seq=4), self.ev("H-6", 6, seq=6)]
        ack = self.assertAck(p.call(jump), acked=(3, 4), committed=4, resend_from=5)
        self.assertTrue(ack.error)
        self.assertAck(p.call(far), acked=(5, 6), committed=6)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 21)

    def test_duplicates(self):
        """Same province + event_id + content under a new seq: `duplicate`, counted once; the
        canonical encoding leaves out the transport fields and reads an absent kind as actual
        and an absent fund as other (PROTOCOL.md), so spelling them out changes nothing."""
        p = self.producer()
        self.assertAck(p.call([self.ev("D-1", 700)]), acked=(1, 1))
        dup = self.assertAck(p.call([self.ev("D-1", 700)]), acked=(2, 2),
                             results=[(2, self.pb.REASON_DUPLICATE)])
        self.assertEqual(dup.results[0].event_id, "D-1")
        explicit = self.ev("D-1", 700, kind=self.pb.KIND_ACTUAL, fund=self.pb.FUND_OTHER)
        self.assertAck(p.call([explicit]), acked=(3, 3), results=[(3, self.pb.REASON_DUPLICATE)])
        # the activity by name or in any case; an empty note as no note: the same content
        for variant in (dict(activity="machinery"), dict(activity="kc3b"), dict(note=""),
                        dict(op=self.pb.OP_RECORD)):
            with self.subTest(**{k: str(v) for k, v in variant.items()}):
                self.assertAck(p.call([self.ev("D-1", 700, **variant)]),
                               acked=(self.seq, self.seq),
                               results=[(self.seq, self.pb.REASON_DUPLICATE)])
        # a metric present as 0 is content: not the same event
        self.assertAck(p.call([self.ev("D-1", 700, metrics={"amount_vnd": 700, "facilities": 0})]),
                       acked=(self.seq, self.seq),
                       results=[(self.seq, self.pb.REASON_EVENT_ID_CONFLICT)])
        # another producer (a fresh spool elsewhere) re-sending the same event: duplicate too
        q = self.producer(self.pid + "-b")
        self.assertAck(q.call([self.ev("D-1", 700, seq=1, producer=q.producer_id)]),
                       acked=(1, 1), results=[(1, self.pb.REASON_DUPLICATE)],
                       producer_id=q.producer_id)
        # the same event_id in another province is another identity
        self.assertAck(p.call([self.ev("D-1", 700, province="01")]), acked=(self.seq, self.seq))
        totals = self.views()[self.year]
        self.assertEqual(totals["totals"]["amount_vnd"], 1400)
        self.assertEqual(totals["events"], 2)

    def test_conflicts(self):
        p = self.producer()
        self.assertAck(p.call([self.ev("C-1", 500)]), acked=(1, 1))
        conflict = self.pb.REASON_EVENT_ID_CONFLICT
        ack = self.assertAck(p.call([self.ev("C-1", 501)]), acked=(2, 2), results=[(2, conflict)])
        self.assertEqual(ack.results[0].event_id, "C-1")
        self.assertAck(p.call([self.ev("C-1", 500, note="changed note")]), acked=(3, 3),
                       results=[(3, conflict)])
        self.assertAck(p.call([self.ev("C-1", 500, month=2)]), acked=(4, 4),
                       results=[(4, conflict)])
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 500)

    def test_resend_acknowledged(self):
        """A resent Batch gets the same Ack again (original results read back from the store)
        and counts nothing; a resend carrying other bytes under an old seq too."""
        p = self.producer()
        evs = [self.ev("R-1", 40), self.raw(event_id="R-2", month=0), self.ev("R-1", 40),
               self.ev("R-3", 2)]
        first = p.call(evs)
        want = [(2, self.pb.REASON_BAD_MONTH), (3, self.pb.REASON_DUPLICATE)]
        self.assertAck(first, acked=(1, 4), committed=4, results=want)
        resent0 = kc.wait_metrics(self.agg, "kcpipe_events_resent_total",
                                  lambda m: m.get("", 0) >= 0)
        again = p.call(evs)
        self.assertAck(again, acked=(1, 4), committed=4, results=want)
        self.assertEqual([(r.seq, r.reason, r.text, r.event_id) for r in again.results],
                         [(r.seq, r.reason, r.text, r.event_id) for r in first.results])
        kc.wait_metrics(self.agg, "kcpipe_events_resent_total",
                        lambda m: m.get("") == resent0.get("", 0) + 4)
        # other bytes under seq 1..2: still the original answers, nothing counted
        other = [self.ev("R-9", 999_999, seq=1), self.ev("R-10", 1, seq=2)]
        self.assertAck(p.call(other), acked=(1, 2), committed=4,
                       results=[(2, self.pb.REASON_BAD_MONTH)])
        # a resend overlapping new events: the old part re-acknowledged, the new processed
        self.assertAck(p.call([self.ev("R-3", 2, seq=4), self.ev("R-4", 8, seq=5)]),
                       acked=(4, 5), committed=5)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 50)

    def test_epochs_and_fencing(self):
        """A larger producer_epoch restarts the sequence at 1; a smaller (or absent) one is
        STATUS_FENCED and counts nothing; a new spool re-sending old events is harmless."""
        p = self.producer()
        e1, e2, e3 = 1_700_000_000_000_000_000, 1_700_000_000_000_000_500, 1_800_000_000_000_000_000
        self.assertAck(p.call([self.ev("F-1", 1, seq=1), self.ev("F-2", 2, seq=2)], epoch=e1),
                       acked=(1, 2), committed=2, epoch=e1)
        self.assertAck(p.call([self.ev("F-3", 4, seq=3)], epoch=e1), acked=(3, 3), epoch=e1)
        # a new spool: seq restarts at 1
        self.assertAck(p.call([self.ev("F-10", 8, seq=1)], epoch=e2), acked=(1, 1),
                       committed=1, epoch=e2)
        # its resend is re-acknowledged within the new epoch
        self.assertAck(p.call([self.ev("F-10", 8, seq=1)], epoch=e2), acked=(1, 1),
                       committed=1, epoch=e2)
        # the retired spool is fenced, whatever its seqs
        fenced = self.pb.STATUS_FENCED
        for seq in (4, 2):
            ack = p.call([self.ev(f"F-old-{seq}", 1000, seq=seq)], epoch=e1)
            self.assertAck(ack, status=fenced, acked=None)
            self.assertEqual(len(ack.results), 0)
        # no epoch at all is epoch 0: older than e2, fenced
        self.assertAck(p.call([self.ev("F-old-0", 1000, seq=2)]), status=fenced, acked=None)
        # a gap is still a gap in the new epoch
        self.assertAck(p.call([self.ev("F-12", 1, seq=3)], epoch=e2), acked=None, committed=1,
                       resend_from=2, epoch=e2)
        # a third spool re-sending the first spool's events: business duplicates
        dup = self.pb.REASON_DUPLICATE
        self.assertAck(p.call([self.ev("F-1", 1, seq=1), self.ev("F-2", 2, seq=2)], epoch=e3),
                       acked=(1, 2), committed=2, epoch=e3, results=[(1, dup), (2, dup)])
        self.assertAck(p.call([self.ev("F-10", 8, seq=1)], epoch=e2), status=fenced)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 15)
        code, prods = self.agg.get_json("/v1/producers")
        self.assertEqual(code, 200)

    def test_lag_after_epoch_change(self):
        """kcpipe_producer_lag_events follows the current spool: after an epoch change whose
        Batch leaves out spool_last_seq, the old spool's lag is not kept (issue 12 item 3)."""
        p = self.producer()
        self.assertAck(p.call([self.ev("L-1", 1, seq=1)], epoch=10, spool_last_seq=10),
                       acked=(1, 1), epoch=10)
        label, lag = f'producer="{self.pid}"', "kcpipe_producer_lag_events"
        kc.wait_metrics(self.agg, lag, lambda m: m.get(label) == 9)
        self.assertAck(p.call([self.ev("L-2", 1, seq=1)], epoch=11), acked=(1, 1), epoch=11)
        kc.wait_metrics(self.agg, lag, lambda m: label not in m)  # unknown until reported
        self.assertAck(p.call([self.ev("L-3", 1, seq=2)], epoch=11, spool_last_seq=4),
                       acked=(2, 2), epoch=11)
        kc.wait_metrics(self.agg, lag, lambda m: m.get(label) == 2)
        self.views()

    def test_empty_batch_new_epoch(self):
        """A larger epoch takes effect even in a Batch without events."""
        p = self.producer()
        self.assertAck(p.call([self.ev("N-1", 1, seq=1)], epoch=5), acked=(1, 1), epoch=5)
        self.assertAck(p.call([], epoch=6), acked=None, committed=0, epoch=6)
        self.assertAck(p.call([self.ev("N-2", 1, seq=2)], epoch=5), status=self.pb.STATUS_FENCED)
        self.assertAck(p.call([self.ev("N-2", 2, seq=1)], epoch=6), acked=(1, 1), epoch=6)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 3)

    def test_bad_producer(self):
        """STATUS_BAD_PRODUCER: missing, empty or over-long Batch.producer_id; nothing counted,
        nothing acknowledged. 64 bytes is allowed."""
        p = self.producer()
        ev = self.ev("B-1", 3, seq=1)
        bad = self.pb.STATUS_BAD_PRODUCER
        for pid in (None, b"", b"x" * 65):
            p.send_raw(raw_batch(pid, [ev]))
            ack = self.assertAck(p.recv_ack(), status=bad, acked=None)
            self.assertFalse(ack.results)
        self.assertEqual(self.amount(), 0)
        long_id = ("conf-" + "y" * 64)[:64]
        self.assertAck(p.call([self.ev("B-1", 3, seq=1, producer=long_id)], producer_id=long_id),
                       acked=(1, 1), producer_id=long_id)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 3)

    def test_undecodable_batch(self):
        """STATUS_UNDECODABLE: bytes that are not a Batch, and a Batch whose decoding would
        take more than 4 x its size + 64 KiB (PROTOCOL.md "Limits"). An empty message is a
        Batch without producer_id: STATUS_BAD_PRODUCER."""
        p = self.producer()
        undecodable = self.pb.STATUS_UNDECODABLE
        for junk in (b"\xff\xff\xff\xff", b"\x0a\x10abc", b"\x12\x80\x80\x80\x80\x80\x80"):
            p.send_raw(junk)
            self.assertAck(p.recv_ack(), status=undecodable, acked=None)
        # 100,000 empty events: 200 KB on the wire, ~1.6 MB of decoded element descriptors
        p.send_raw(raw_batch(self.pid, [b""] * 100_000))
        self.assertAck(p.recv_ack(), status=undecodable, acked=None)
        p.send_raw(b"")
        self.assertAck(p.recv_ack(), status=self.pb.STATUS_BAD_PRODUCER, acked=None)
        self.assertAck(p.call([self.ev("U-1", 9)]), acked=(1, 1))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 9)

    def test_multi_frame_message(self):
        """A message of two frames is not a Batch: exactly one Ack, STATUS_UNDECODABLE
        (PROTOCOL.md: every message is one frame, every message gets one Ack)."""
        p = self.producer()
        good = kc.batch(self.pid, [self.ev("M-1", 11, seq=1)])
        p.send_raw(good, b"second frame")
        self.assertAck(p.recv_ack(), status=self.pb.STATUS_UNDECODABLE, acked=None)
        p.send_raw(good, good, good)
        self.assertAck(p.recv_ack(), status=self.pb.STATUS_UNDECODABLE, acked=None)
        self.assertTrue(p.nothing_within(0.2), "more than one Ack for one message")
        self.assertEqual(self.amount(), 0)
        self.assertAck(p.call([self.ev("M-1", 11, seq=1)]), acked=(1, 1))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 11)

    def test_multi_frame_in_order(self):
        """The UNDECODABLE Ack of a multi-frame message comes in its place among the Acks of
        the Batches around it, and its error gives the frame count."""
        p = self.producer()
        p.send([self.ev("MO-1", 1)])
        p.send_raw(kc.batch(self.pid, [self.ev("MO-x", 1, seq=2)]), b"a", b"b")
        p.send([self.ev("MO-2", 2, seq=2)])
        self.assertAck(p.recv_ack(), acked=(1, 1))
        bad = self.assertAck(p.recv_ack(), status=self.pb.STATUS_UNDECODABLE)
        self.assertIn("3", bad.error)
        self.assertAck(p.recv_ack(), acked=(2, 2), committed=2)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 3)

    def test_req_envelope(self):
        """A REQ-style message (an empty delimiter frame, then the Batch) is answered in the
        same envelope: the empty frame, then the Ack."""
        p = self.producer()
        p.send_raw(b"", kc.batch(self.pid, [self.ev("RQ-1", 6)]))
        self.assertTrue(p.sock.poll(int(kc.ACK_S * 1000)), "no answer")
        frames = p.sock.recv_multipart()
        self.assertEqual(len(frames), 2, frames)
        self.assertEqual(frames[0], b"")
        self.assertAck(kc.parse_ack(frames[1]), acked=(1, 1))
        req = self.ctx.socket(zmq.REQ)
        self.addCleanup(req.close, 0)
        req.connect(self.agg.endpoint)
        req.send(kc.batch(self.pid, [self.ev("RQ-2", 7)]))
        self.assertTrue(req.poll(int(kc.ACK_S * 1000)), "no answer to REQ")
        self.assertAck(kc.parse_ack(req.recv()), acked=(2, 2), committed=2)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 13)

    def test_worked_example(self):
        """PROTOCOL.md "Worked example": the wire and canonical bytes and the content hash it
        gives, computed here independently (the generated bindings, hashlib's BLAKE2b-128);
        then the aggregator's verdicts: B (another producer, activity by name, kind absent) is a
        duplicate of A, C (one dong more) an event_id_conflict."""
        pb = self.pb
        a = dict(event_id="HCM-2024-0001", province="79", year=2024, month=3, activity="KC3b",
                 kind=pb.KIND_ACTUAL, fund=pb.FUND_KCDP,
                 metrics={"amount_vnd": 150000000, "facilities": 3}, note="máy sấy")
        wire = event(**a, producer_id="office-79", seq=42)
        self.assertEqual(len(wire), 68)
        self.assertEqual(wire[-13:].hex(), "7209" + b"office-79".hex() + "782a")
        canonical = event(**a)
        self.assertEqual(canonical, wire[:55])
        self.assertEqual(canonical.hex(), "0a0d48434d2d323032342d303030311202373918e80f2003"
                         "2a044b4333623001380242070880a3c34728034a0a6dc3a1792073e1baa579")
        self.assertEqual(hashlib.blake2b(canonical, digest_size=16).hexdigest(),
                         "ac6e1b61b052cbee7c374bff2bf603c8")
        c = dict(a, metrics={"amount_vnd": 150000001, "facilities": 3})
        self.assertEqual(hashlib.blake2b(event(**c), digest_size=16).hexdigest(),
                         "5f3a7ff436b3b0cfc20292d415bfa7d5")
        p = self.producer()
        self.assertAck(p.call([event(**a, producer_id=self.pid, seq=1)]), acked=(1, 1))
        q = self.producer(self.pid + "-import")
        b = dict(a, activity="machinery", kind=None)
        # seq 7 of a new producer is a gap; then from seq 1
        self.assertAck(q.call([event(**b, producer_id=q.producer_id, seq=7)]), acked=None,
                       committed=0, resend_from=1, producer_id=q.producer_id)
        self.assertAck(q.call([event(**b, producer_id=q.producer_id, seq=1)]), acked=(1, 1),
                       results=[(1, pb.REASON_DUPLICATE)], producer_id=q.producer_id)
        self.assertAck(p.call([event(**c, producer_id=self.pid, seq=2)]), acked=(2, 2),
                       results=[(2, pb.REASON_EVENT_ID_CONFLICT)])
        self.assertEqual(self.amount(2024, "--province", "79"), 150000000)
        self.views(2024)

    def test_submitted_by(self):
        """Event.submitted_by (16), PROTOCOL.md "The content hash": absent, the worked example's
        canonical bytes and hash are unchanged; present, it follows them (key 82 01) and is
        content: the same name again is a duplicate, another name or none event_id_conflict.
        The aggregator stores it and kc-audit history shows it."""
        pb = self.pb
        ex = dict(event_id="HCM-2024-0001", province="79", year=2024, month=3, activity="KC3b",
                  kind=pb.KIND_ACTUAL, fund=pb.FUND_KCDP,
                  metrics={"amount_vnd": 150000000, "facilities": 3}, note="máy sấy")
        a = dict(ex, event_id="SB-2019-0001", year=2019)  # a period of its own in this store
        canonical = event(**ex)
        self.assertEqual(hashlib.blake2b(canonical, digest_size=16).hexdigest(),
                         "ac6e1b61b052cbee7c374bff2bf603c8")
        by = event(**ex, submitted_by="office-79/lan")
        self.assertEqual(by, canonical + bytes.fromhex("82010d") + b"office-79/lan")
        self.assertEqual(hashlib.blake2b(by, digest_size=16).hexdigest(),
                         "9e7d8b8fc48922c4e7526dcdbcb6e6f7")
        # the wire form: protobuf writes 16 after the transport fields
        wire = event(**ex, producer_id="office-79", seq=42, submitted_by="office-79/lan")
        self.assertEqual(wire[-16:], bytes.fromhex("82010d") + b"office-79/lan")
        p = self.producer()
        self.assertAck(p.call([event(**a, producer_id=self.pid, seq=1,
                                     submitted_by="office-79/lan")]), acked=(1, 1))
        self.assertAck(p.call([event(**a, producer_id=self.pid, seq=2,
                                     submitted_by="office-79/lan")]), acked=(2, 2),
                       results=[(2, pb.REASON_DUPLICATE)])
        self.assertAck(p.call([event(**a, producer_id=self.pid, seq=3,
                                     submitted_by="office-79/minh")]), acked=(3, 3),
                       results=[(3, pb.REASON_EVENT_ID_CONFLICT)])
        self.assertAck(p.call([event(**a, producer_id=self.pid, seq=4)]), acked=(4, 4),
                       results=[(4, pb.REASON_EVENT_ID_CONFLICT)])
        self.assertEqual(self.amount(2019, "--province", "79"), 150000000)
        r = kc.run([kc.tool("kc-audit"), "--no-config", "--store", self.agg.store, "history",
                    "--province", "79", "--event", "SB-2019-0001", "--format", "json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        versions = json.loads(r.stdout)["chains"][0]
        self.assertEqual([v["submitted_by"] for v in versions], ["office-79/lan"])

    def test_oversized_message(self):
        """A message over 16 MiB makes ZeroMQ drop the sender's connection: no Ack, the
        aggregator unaffected, the producer reconnects and goes on. One of exactly 16 MiB is
        received and answered (here: note_too_long)."""
        p = self.producer()
        p.wait_event({zmq.EVENT_HANDSHAKE_SUCCEEDED})
        filler = b"n" * kc.MAX_MSG
        big = raw_batch(self.pid, [self.raw(seq=1, event_id="O-1", note=filler)])
        self.assertGreater(len(big), kc.MAX_MSG)
        p.send_raw(big)
        p.wait_event({zmq.EVENT_DISCONNECTED})
        self.assertTrue(self.agg.alive(), self.agg.log())
        # exactly at the limit: received, decoded, answered
        note_len = kc.MAX_MSG - (len(big) - len(filler))
        for _ in range(4):  # the length varints may shrink: converge on exactly MAX_MSG
            at = raw_batch(self.pid, [self.raw(seq=1, event_id="O-1", note=b"n" * note_len)])
            if len(at) == kc.MAX_MSG:
                break
            note_len += kc.MAX_MSG - len(at)
        self.assertEqual(len(at), kc.MAX_MSG)
        self.seq = 1
        p.send_raw(at)  # queued until the socket has reconnected
        self.assertAck(p.recv_ack(), acked=(1, 1), committed=1,
                       results=[(1, self.pb.REASON_NOTE_TOO_LONG)])
        self.assertAck(p.call([self.ev("O-2", 12)]), acked=(2, 2), committed=2)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 12)


# ---- every reason ----------------------------------------------------------------------------

class ReasonsTest(AggTest):
    """Every reason code a producer can provoke over plaintext, each in a Batch of its own;
    the Ack names it with the seq and event_id, /metrics counts it under its name, only
    accepted events are counted and enter the Merkle log.

    Provoked elsewhere: province_not_authorized (26) needs CURVE and a registry (CurveTest);
    total_overflow (20), value_too_large (27) in CeilingTest; invalid_text (28) in TextTest.
    REASON_OK (0) is never sent in a Result: an accepted event is one without a Result."""

    def one(self, p, ev, reason=None, seq="next", eid=None):
        """Send one event in its own Batch and check its single Result (or none)."""
        seq = self.seq if seq == "next" else seq
        ack = p.call([ev])
        if reason is None:
            self.assertAck(ack, acked=(seq, seq), committed=seq)
        elif seq is None:  # an event that cannot be placed in the sequence
            self.assertAck(ack, acked=None, committed=self.seq, results=[(None, reason)])
        else:
            self.assertAck(ack, acked=(seq, seq), committed=seq, results=[(seq, reason)])
            if eid is not None:
                self.assertEqual(ack.results[0].event_id, eid, f"\n{ack}")
        return ack

    def test_every_reason(self):
        pb = self.pb
        p = self.producer()
        before = kc.metric_samples(self.agg.metrics(), "kcpipe_events_rejected_total")
        expect = 0  # amount_vnd of the year, as the accepted events make it
        count = {}

        def reject(label, ev, reason, eid=None):
            with self.subTest(label):
                self.one(p, ev, reason, eid=eid)
            count[reason] = count.get(reason, 0) + 1

        # 0 ok: accepted, no Result; boundaries that are still valid
        self.one(p, self.ev("OK-1", 100))
        self.one(p, self.ev("X" * 64, 1))  # event_id of 64 bytes
        self.one(p, self.ev("OK-note", 1, note="n" * 1024))  # note of 1024 bytes
        self.one(p, self.ev("OK-zero", 0))  # zero is not negative
        self.one(p, self.ev("OK-y", 1, year=2000, month=12))  # another year
        expect += 102
        # 1 duplicate
        self.one(p, self.ev("DUP-1", 50))
        expect += 50
        self.one(p, self.ev("DUP-1", 50), pb.REASON_DUPLICATE, eid="DUP-1")
        # 2 undecodable, 19 missing_seq: not placed in the sequence, no seq in the Result,
        # resend_from stays 0, the seq is not consumed
        for junk in (b"\x0a\x05ab", b"\xff", b"\x78"):
            with self.subTest("undecodable", junk=junk):
                self.one(p, junk, pb.REASON_UNDECODABLE, seq=None)
        for f in (dict(seq=None), dict(seq=0)):
            with self.subTest("missing_seq", **{k: str(v) for k, v in f.items()}):
                ev = raw_event(**{k: v for k, v in dict(
                    event_id="NOSEQ", province="79", year=self.year, month=1, activity="KC3b",
                    metrics={"amount_vnd": 1}, producer_id=self.pid, **f).items()
                    if v is not None})
                self.one(p, ev, pb.REASON_MISSING_SEQ, seq=None)
        # an Event whose decoding would take more than 4 x its size + 64 KiB (PROTOCOL.md
        # "Limits"): 100,000 unknown fields of 3 bytes, each a decoded record of its own
        heavy = self.raw(seq=self.seq + 1) + kc.field_varint(100, 1) * 100_000
        with self.subTest("undecodable: over the decode budget"):
            self.one(p, heavy, pb.REASON_UNDECODABLE, seq=None)
        count[pb.REASON_UNDECODABLE] = 4
        count[pb.REASON_MISSING_SEQ] = 2
        # 3 missing_event_id
        reject("no event_id", self.raw(event_id=None), pb.REASON_MISSING_EVENT_ID)
        reject("empty event_id", self.raw(event_id=""), pb.REASON_MISSING_EVENT_ID)
        # 4 event_id_too_long (event_id, and corrects)
        reject("event_id 65", self.raw(event_id="L" * 65), pb.REASON_EVENT_ID_TOO_LONG)
        reject("corrects 65", self.raw(event_id="L-c", op=pb.OP_CORRECTION, corrects="C" * 65),
               pb.REASON_EVENT_ID_TOO_LONG)
        # 5 unknown_province: not a code; a scheme-63 code after the 2025-07 merger
        reject("province 99", self.raw(province="99"), pb.REASON_UNKNOWN_PROVINCE)
        reject("province 7", self.raw(province="7"), pb.REASON_UNKNOWN_PROVINCE)
        reject("province 079", self.raw(province="079"), pb.REASON_UNKNOWN_PROVINCE)
        reject("province missing", self.raw(province=None), pb.REASON_UNKNOWN_PROVINCE)
        reject("02 in 2026", self.raw(province="02", year=2026), pb.REASON_UNKNOWN_PROVINCE)
        # 6 unknown_activity
        reject("activity KC99", self.raw(activity="KC99"), pb.REASON_UNKNOWN_ACTIVITY)
        reject("activity missing", self.raw(activity=None), pb.REASON_UNKNOWN_ACTIVITY)
        # 7 metric_not_allowed (per data/activities.tsv)
        acts = kc.activities()
        self.assertNotIn("persons", acts["KC3b"])
        reject("persons on KC3b", self.raw(metrics={"persons": 3}), pb.REASON_METRIC_NOT_ALLOWED)
        self.assertNotIn("amount_vnd", acts["TV"])
        reject("amount on TV", self.raw(activity="TV", metrics={"amount_vnd": 3}),
               pb.REASON_METRIC_NOT_ALLOWED)
        # 8 negative_value
        reject("amount -1", self.raw(metrics={"amount_vnd": -1}), pb.REASON_NEGATIVE_VALUE)
        reject("facilities min", self.raw(metrics={"amount_vnd": 1, "facilities": -(1 << 63)}),
               pb.REASON_NEGATIVE_VALUE)
        # 9 employed_exceeds_persons
        reject("employed > persons",
               self.raw(activity="KC1", metrics={"persons": 5, "persons_employed": 6}),
               pb.REASON_EMPLOYED_EXCEEDS_PERSONS)
        self.one(p, self.ev("EMP-ok", 7, activity="KC1",
                            metrics={"amount_vnd": 7, "persons": 5, "persons_employed": 5}))
        expect += 7
        # 10 bad_month, 11 bad_year
        for m in (0, 13, None):
            reject(f"month {m}", self.raw(month=m), pb.REASON_BAD_MONTH)
        for y in (1999, 2101, None):
            reject(f"year {y}", self.raw(year=y), pb.REASON_BAD_YEAR)
        # 12 note_too_long
        reject("note 1025", self.raw(note="n" * 1025), pb.REASON_NOTE_TOO_LONG)
        # 13 event_id_conflict
        reject("conflict", self.ev("DUP-1", 51), pb.REASON_EVENT_ID_CONFLICT, eid="DUP-1")
        # 14 bad_kind, 15 bad_fund: the unspecified value, and values outside the enum
        reject("kind 0", self.raw(kind=0), pb.REASON_BAD_KIND)
        reject("kind 7", self.raw(kind=7), pb.REASON_BAD_KIND)
        reject("kind -1", self.raw(kind=-1), pb.REASON_BAD_KIND)
        reject("fund 0", self.raw(fund=0), pb.REASON_BAD_FUND)
        reject("fund 9", self.raw(fund=9), pb.REASON_BAD_FUND)
        # 16 no_metrics
        reject("no metrics", self.raw(metrics=None), pb.REASON_NO_METRICS)
        reject("empty metrics", self.raw(metrics={}), pb.REASON_NO_METRICS)
        # 17 producer_mismatch
        reject("other producer", self.raw(producer_id="someone-else"),
               pb.REASON_PRODUCER_MISMATCH)
        reject("no producer", self.raw(producer_id=None), pb.REASON_PRODUCER_MISMATCH)
        # 18 unsupported_op
        reject("op 3", self.raw(op=3), pb.REASON_UNSUPPORTED_OP)
        reject("corrects on a record", self.raw(corrects="OK-1"), pb.REASON_UNSUPPORTED_OP)
        # 21-25: corrections and retractions
        corr, retr = pb.OP_CORRECTION, pb.OP_RETRACTION
        reject("unknown target", self.raw(event_id="K-1", op=corr, corrects="NOPE"),
               pb.REASON_UNKNOWN_TARGET)
        self.one(p, self.ev("T-79", 300))
        expect += 300
        reject("other province",
               self.raw(event_id="K-2", province="01", op=corr, corrects="T-79"),
               pb.REASON_TARGET_OTHER_PROVINCE)
        self.one(p, self.ev("K-3", 350, op=corr, corrects="T-79"))  # T-79: 300 -> 350
        expect += 50
        reject("superseded", self.raw(event_id="K-4", op=corr, corrects="T-79",
                                      metrics={"amount_vnd": 1}),
               pb.REASON_TARGET_SUPERSEDED)
        self.one(p, self.ev("U-79", 70))
        self.one(p, event(event_id="K-5", province="79", op=retr, corrects="U-79",
                          producer_id=self.pid, seq=self._next()))  # U-79 voided
        reject("retracted target", self.raw(event_id="K-6", op=corr, corrects="U-79"),
               pb.REASON_TARGET_RETRACTED)
        reject("correct a retraction", self.raw(event_id="K-7", op=corr, corrects="K-5"),
               pb.REASON_TARGET_RETRACTED)
        self.one(p, self.ev("W-79", 20, month=1))
        expect += 20
        reject("retraction of another period",
               self.raw(event_id="K-10", op=retr, corrects="W-79", month=2, activity=None,
                        metrics=None),
               pb.REASON_UNKNOWN_TARGET)
        reject("correction without target", self.raw(event_id="K-8", op=corr),
               pb.REASON_MISSING_TARGET)
        reject("retraction without target",
               self.raw(event_id="K-9", op=retr, activity=None, metrics=None),
               pb.REASON_MISSING_TARGET)

        want = {f'reason="{self.reason_name(r)}"': before.get(f'reason="{self.reason_name(r)}"',
                                                              0) + n
                for r, n in count.items() if r != pb.REASON_DUPLICATE}
        kc.wait_metrics(self.agg, "kcpipe_events_rejected_total",
                        lambda m: all(m.get(k, 0) == v for k, v in want.items()))
        totals = self.views()
        self.assertEqual(totals[self.year]["totals"]["amount_vnd"], expect)

    def _next(self):
        self.seq += 1
        return self.seq

    def test_only_accepted_enter_the_log(self):
        """The Merkle log holds accepted events only: after accepted, duplicate and rejected
        events, the signed head's tree size is the log size and accepted_total."""
        p = self.producer()
        self.one(p, self.ev("A-1", 1))
        self.one(p, self.ev("A-1", 1), self.pb.REASON_DUPLICATE)
        self.one(p, self.raw(month=99), self.pb.REASON_BAD_MONTH)
        self.one(p, self.ev("A-2", 2))
        code, status = self.agg.get_json("/v1/status")
        self.assertEqual(code, 200)
        kc.wait_metrics(self.agg, "kcpipe_events_accepted_total",
                        lambda m: m.get("") == status["seq"])
        head = kc.wait_head(self.agg, status["seq"])
        self.assertEqual(head["tree_size"], status["seq"], head)
        for k in ("root", "signature", "timestamp_ns"):
            self.assertIn(k, head)
        self.views()


# ---- text that is not UTF-8 ------------------------------------------------------------------

class TextTest(AggTest):
    """invalid_text (28): every protobuf string field of Event must be well-formed UTF-8, ids
    and codes free of control characters; a Batch.producer_id that fails is refused whole with
    STATUS_BAD_PRODUCER. The Acks stay valid UTF-8 (the generated bindings parse them), and
    every view and /metrics stays readable."""

    BAD = b"bad\xff\xfeid"

    def test_invalid_utf8_each_field(self):
        pb = self.pb
        p = self.producer()
        invalid = pb.REASON_INVALID_TEXT
        cases = {
            "event_id": dict(event_id=b"EV-\xff\xfe"),
            "province": dict(province=b"7\xff"),
            "activity": dict(activity=b"KC3b\xff"),
            "note": dict(note=b"ghi ch\xc3 \xff\xfe"),
            "corrects": dict(op=pb.OP_CORRECTION, corrects=b"EV-\xff\xfe"),
            "producer_id": dict(producer_id=self.BAD),
        }
        for field, f in cases.items():
            with self.subTest(field=field):
                ack = p.call([self.raw(**f)])
                self.assertAck(ack, acked=(self.seq, self.seq), committed=self.seq,
                               results=[(self.seq, invalid)])
                self.assertIn(field, ack.results[0].text)
                if field == "event_id":
                    self.assertEqual(ack.results[0].event_id, "EV-\\xFF\\xFE")
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 0)
        # an auditor asking for such an id: an answer, not a failure (issue 12: exit 74)
        for fmt in ("json", "table"):
            r = kc.run([kc.tool("kc-audit"), "--no-config", "--store", self.agg.store, "history",
                        "--province", "79", "--event", b"EV-\xff\xfe", "--format", fmt])
            self.assertNotIn(r.returncode, (70, 74), r.stderr)
            (r.stdout + r.stderr).decode("utf-8")  # valid UTF-8 whatever was asked
            if r.returncode == 0 and fmt == "json":
                json.loads(r.stdout)

    def test_malformed_utf8_forms(self):
        """RFC 3629: overlong forms, surrogates, code points above U+10FFFF, truncated
        sequences and stray continuation bytes are not UTF-8."""
        p = self.producer()
        for bad in (b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                    b"\xf8\x88\x80\x80\x80", b"ab\xe2\x82", b"\x80x", b"\xff"):
            with self.subTest(bytes=bad):
                ack = p.call([self.raw(event_id=b"EV-" + bad)])
                self.assertAck(ack, acked=(self.seq, self.seq),
                               results=[(self.seq, self.pb.REASON_INVALID_TEXT)])
        # valid multi-byte text is fine: a Vietnamese note, a 4-byte character in the id
        self.assertAck(p.call([self.ev("EV-ổ-𝄞", 5, note="Hỗ trợ máy móc, thiết bị")]),
                       acked=(self.seq, self.seq))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 5)

    def test_control_characters(self):
        """Ids and codes hold no control character (C0, DEL, C1), a NUL inside the bytes
        included; the note may hold tab, LF and CR and no other."""
        p = self.producer()
        invalid = self.pb.REASON_INVALID_TEXT
        for field, value in (("event_id", b"EV\x01"), ("event_id", b"EV\x00x"),
                             ("event_id", b"EV\x7f"), ("event_id", "EV\u0085".encode()),
                             ("province", b"79\x00"), ("activity", b"KC3b\n"),
                             ("producer_id", self.pid.encode() + b"\x00"),
                             ("note", b"bell\x07"), ("note", b"nul\x00")):
            with self.subTest(field=field, value=value):
                self.assertAck(p.call([self.raw(**{field: value})]),
                               acked=(self.seq, self.seq), results=[(self.seq, invalid)])
        self.assertAck(p.call([self.ev("EV-tab", 3, note="a\tb\r\nc")]),
                       acked=(self.seq, self.seq))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 3)

    def test_submitted_by(self):
        """submitted_by (16) is an id: UTF-8 without control characters, 1-64 bytes when
        present; else invalid_text from the aggregator itself (this producer does not pre-check),
        the text naming the field. 64 bytes pass."""
        p = self.producer()
        invalid = self.pb.REASON_INVALID_TEXT
        for value in (b"lan\xff", b"lan\x01", b"lan\x00x", "lan\u0085".encode(), b"", b"x" * 65):
            with self.subTest(value=value):
                ack = p.call([self.raw(submitted_by=value)])
                self.assertAck(ack, acked=(self.seq, self.seq), results=[(self.seq, invalid)])
                self.assertIn("submitted_by", ack.results[0].text)
        self.assertAck(p.call([self.raw(submitted_by=b"x" * 64)]), acked=(self.seq, self.seq))
        self.assertAck(p.call([self.raw(submitted_by="văn phòng 79/Lan")]),
                       acked=(self.seq, self.seq))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 2)

    def test_batch_producer_id(self):
        """A Batch whose producer_id is not UTF-8 or holds a control character is refused
        whole (STATUS_BAD_PRODUCER, Ack.error says why); /metrics stays promtool-clean."""
        p = self.producer()
        for pid in (self.BAD, b"conf\x01id", b"conf\x00id", b"\xc3"):
            with self.subTest(producer_id=pid):
                ev = self.raw(seq=1, producer_id=pid)
                p.send_raw(raw_batch(pid, [ev], spool_last_seq=5))
                ack = self.assertAck(p.recv_ack(), status=self.pb.STATUS_BAD_PRODUCER,
                                     acked=None)
                self.assertFalse(ack.results)
        self.views()
        self.assertEqual(self.amount(), 0)
        code, prods = self.agg.get_json("/v1/producers")
        self.assertEqual(code, 200)
        # the same Batches after a restart: /metrics built from the store is clean too
        type(self).agg.stop()
        type(self).agg.start()
        kc.promtool_check(self.agg.metrics())


# ---- ceilings and overflow -------------------------------------------------------------------

class CeilingTest(AggTest):
    """value_too_large (27): one event's metric above its ceiling (the `max` column of
    data/metrics.tsv) is refused; exactly the ceiling is accepted. The overflow pair of issue 12
    leaves every view readable; total_overflow (20) still guards each int64 cell, and views
    over cells that together exceed int64 stay exact."""

    def test_overflow_pair(self):
        """Province 79 amount_vnd = 2^63-1 is value_too_large; province 01 amount 5 of the same
        year is accepted; every view of that year answers exactly."""
        pb = self.pb
        year = 2024
        p = self.producer()
        ceil = kc.metric_ceilings()["amount_vnd"]
        self.assertLess(ceil, INT64_MAX)
        ack = p.call([self.ev("OV-79", INT64_MAX, year=year),
                      self.ev("OV-01", 5, province="01", year=year)])
        self.assertAck(ack, acked=(1, 2), results=[(1, pb.REASON_VALUE_TOO_LARGE)])
        self.assertIn("amount_vnd", ack.results[0].text)
        self.assertEqual(ack.results[0].event_id, "OV-79")
        totals = self.views(year)
        self.assertEqual(totals[year]["totals"]["amount_vnd"], 5)
        self.assertEqual(self.amount(year, "--province", "79"), 0)
        self.assertAck(p.call([self.ev("OV-79b", ceil, year=year)]), acked=(3, 3))
        totals = self.views(year)
        self.assertEqual(totals[year]["totals"]["amount_vnd"], ceil + 5)
        code, j = self.agg.get_json(f"/v1/totals?year={year}&province=79")
        self.assertEqual((code, j["totals"]["amount_vnd"]), (200, ceil), j)

    def test_each_metric_ceiling(self):
        pb = self.pb
        p = self.producer()
        acts = kc.activities()
        expect = {}
        for name, ceil in kc.metric_ceilings().items():
            act = next(code for code, ms in sorted(acts.items()) if name in ms)
            base = {"persons": ceil} if name == "persons_employed" else {}
            with self.subTest(metric=name, activity=act, at=ceil):
                self.assertAck(p.call([self.ev(f"MAX-{name}", activity=act,
                                               metrics={**base, name: ceil})]),
                               acked=(self.seq, self.seq))
            expect[name] = expect.get(name, 0) + ceil
            expect.update({k: expect.get(k, 0) + v for k, v in base.items()})
            with self.subTest(metric=name, activity=act, above=ceil + 1):
                ack = p.call([self.ev(f"OVER-{name}", activity=act,
                                      metrics={**base, name: ceil + 1})])
                self.assertAck(ack, acked=(self.seq, self.seq),
                               results=[(self.seq, pb.REASON_VALUE_TOO_LARGE)])
                self.assertIn(name, ack.results[0].text)
            with self.subTest(metric=name, activity=act, value=INT64_MAX):
                ack = p.call([self.ev(f"HUGE-{name}", activity=act,
                                      metrics={**base, name: INT64_MAX})])
                self.assertAck(ack, acked=(self.seq, self.seq),
                               results=[(self.seq, pb.REASON_VALUE_TOO_LARGE)])
        totals = self.views()[self.year]["totals"]
        for name, v in expect.items():
            self.assertEqual(totals[name], v, (name, totals))

    def test_total_overflow(self):
        """Events at the ceiling into one cell until it would leave int64: the one that would
        is total_overflow and changes nothing. Two provinces filled so: their sum exceeds
        int64, and kc-query and /v1/totals still answer it exactly."""
        pb = self.pb
        ceil = kc.metric_ceilings()["amount_vnd"]
        n = INT64_MAX // ceil  # events one cell takes
        if n > 50_000:
            self.skipTest(f"amount_vnd's ceiling {ceil} needs {n + 1} events to overflow a cell")
        p = self.producer()
        chunk = 2000
        for province in ("79", "01"):
            evs = [self.ev(f"TO-{province}-{i}", ceil, province=province) for i in range(n + 1)]
            over = self.seq
            parts = [evs[i:i + chunk] for i in range(0, len(evs), chunk)]
            first = over - n
            for part in parts:
                p.send(part)
            for part in parts:
                last = first + len(part) - 1
                results = [(over, pb.REASON_TOTAL_OVERFLOW)] if first <= over <= last else []
                self.assertAck(p.recv_ack(), acked=(first, last), committed=last,
                               results=results)
                first = last + 1
        cell = n * ceil
        totals = self.views()[self.year]
        self.assertEqual(totals["totals"]["amount_vnd"], 2 * cell)
        self.assertGreater(2 * cell, INT64_MAX)
        self.assertEqual(totals["events"], 2 * n)
        code, j = self.agg.get_json(f"/v1/totals?year={self.year}")
        self.assertEqual((code, j["totals"]["amount_vnd"]), (200, 2 * cell), j)
        by = self.agg.totals(self.year, "--by", "province")
        self.assertIn(str(cell), str(by))


# ---- CURVE -----------------------------------------------------------------------------------

class CurveTest(AggTest):
    """CURVE with keys this test writes itself (zcert format, docs/SECURITY.md): a registered
    key reports for its provinces (elsewhere province_not_authorized, 26) under its own producer
    id (else STATUS_BAD_PRODUCER); unknown, revoked and plaintext peers never get an Ack."""

    @classmethod
    def prepare(cls):
        d = cls.tmp
        cls.server_pub, server_sec = zmq.curve_keypair()
        kc.zcert_write(os.path.join(d, "aggregator_secret"), cls.server_pub, server_sec,
                       name="aggregator")
        kc.zcert_write(os.path.join(d, "aggregator"), cls.server_pub, name="aggregator")
        # the office's certificate, written and read back as an office would keep it
        pub, sec = zmq.curve_keypair()
        kc.zcert_write(os.path.join(d, "office-79_secret"), pub, sec, name="office-79")
        cls.office = kc.zcert_read(os.path.join(d, "office-79_secret"))
        rpub, cls.revoked_sec = zmq.curve_keypair()
        cls.revoked_pub = rpub
        # a certificate written by kc-keygen, read by this client
        r = kc.run([kc.tool("kc-keygen"), "--out", os.path.join(d, "office-74"),
                    "--name", "office-74"])
        if r.returncode != 0:
            raise AssertionError(f"kc-keygen: {r.stderr.decode()}")
        cls.keygen = kc.zcert_read(os.path.join(d, "office-74_secret"))
        reg = os.path.join(d, "producers")
        with open(reg, "w", encoding="utf-8") as f:
            f.write("# producer ID  key  provinces  [revoked]\n")
            f.write(f'producer conf-79 key "{cls.office["public-key"].decode()}" provinces 79\n')
            f.write(f'producer conf-74 key "{cls.keygen["public-key"].decode()}" '
                    f'provinces 74,72\n')
            f.write(f'producer conf-old key "{rpub.decode()}" provinces * revoked\n')
        return ["--curve-secret", os.path.join(d, "aggregator_secret"), "--registry", reg]

    def curve_producer(self, pid, pub, sec):
        server = kc.zcert_read(os.path.join(self.tmp, "aggregator"))["public-key"]
        return self.producer(pid, curve=(server, pub, sec))

    def test_registered_key(self):
        pb = self.pb
        self.pid = "conf-79"
        p = self.curve_producer("conf-79", self.office["public-key"], self.office["secret-key"])
        self.assertAck(p.call([self.ev("CV-1", 10)]), acked=(1, 1))
        ack = p.call([self.ev("CV-2", 20, province="01")])
        self.assertAck(ack, acked=(2, 2), results=[(2, pb.REASON_PROVINCE_NOT_AUTHORIZED)])
        self.assertEqual(ack.results[0].event_id, "CV-2")
        # another producer id than the key's: the whole Batch refused
        ack = p.call([self.ev("CV-3", 30, seq=1, producer="conf-74")], producer_id="conf-74")
        self.assertAck(ack, status=pb.STATUS_BAD_PRODUCER, acked=None)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 10)

    def test_keygen_certificate(self):
        """A secret certificate written by kc-keygen, read by this client's zcert reader."""
        self.pid = "conf-74"
        self.assertEqual(self.keygen["name"], "office-74")
        p = self.curve_producer("conf-74", self.keygen["public-key"], self.keygen["secret-key"])
        self.assertAck(p.call([self.ev("KG-1", 4, province="74"),
                               self.ev("KG-2", 2, province="72"),
                               self.ev("KG-3", 1, province="79")]),
                       acked=(1, 3), results=[(3, self.pb.REASON_PROVINCE_NOT_AUTHORIZED)])
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 6)

    def refused(self, p):
        """No Ack ever: the handshake fails (seen on the socket monitor), and a Batch sent
        meanwhile stays unanswered (or cannot even be queued: once libzmq has seen the
        handshake fail, the DEALER has no connection to queue it for)."""
        try:
            p.sock.send(kc.batch(p.producer_id, [self.ev("NO-1", 1, seq=1)]), zmq.NOBLOCK)
        except zmq.Again:
            pass
        p.wait_event({zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                      zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_DISCONNECTED,
                      zmq.EVENT_CLOSED})
        self.assertTrue(p.nothing_within(), "a refused peer got an answer")

    def test_unknown_key(self):
        pub, sec = zmq.curve_keypair()
        self.refused(self.curve_producer("conf-79", pub, sec))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 0)

    def test_revoked_key(self):
        self.refused(self.curve_producer("conf-old", self.revoked_pub, self.revoked_sec))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 0)

    def test_plaintext_client(self):
        self.refused(self.producer("conf-79"))
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 0)


# ---- the verifiable log, checked as a third party --------------------------------------------

class AuditTest(AggTest):
    """PROTOCOL.md "The verifiable log" and AUDIT.md, checked with code written from the RFCs
    (kcconf: RFC 6962 tree hash, RFC 9162 proof verification) and PyNaCl (Ed25519): only
    accepted events enter the log, each leaf holds the event's bytes exactly as sent, the signed
    head's signature covers the documented 61-byte message, and kc-audit's proofs verify
    independently (and with `kc-audit check-proof`)."""

    def audit(self, *args):
        r = kc.run([kc.tool("kc-audit"), "--no-config", "--store", self.agg.store] +
                   [str(a) for a in args])
        self.assertEqual(r.returncode, 0, f"kc-audit {args}: {r.stderr.decode()}")
        return r.stdout.decode("utf-8")

    def test_log_and_proofs(self):
        from nacl.signing import VerifyKey
        pb = self.pb
        p = self.producer()
        epoch = 1_796_000_000_000_000_001
        sent = {}  # seq -> the bytes of an accepted event
        first = [self.ev(f"AU-{i}", 10 + i) for i in range(3)]
        self.assertAck(p.call(first, epoch=epoch), acked=(1, 3), epoch=epoch)
        sent.update({i + 1: first[i] for i in range(3)})
        second = [self.ev("AU-0", 10), self.raw(event_id="AU-bad", month=0),
                  self.ev("AU-3", 13), self.ev("AU-4", 14, note="ghi chú")]
        self.assertAck(p.call(second, epoch=epoch), acked=(4, 7), epoch=epoch,
                       results=[(4, pb.REASON_DUPLICATE), (5, pb.REASON_BAD_MONTH)])
        sent.update({6: second[2], 7: second[3]})
        head = kc.wait_head(self.agg, len(sent))
        self.assertEqual(head["tree_size"], len(sent), head)  # only accepted events

        # the signed head: Ed25519 over "kcpipe-sth-v1" || u64 size || u64 time || root
        pubkey = self.audit("pubkey").strip()
        self.assertEqual(head["public_key"], pubkey)
        msg = (b"kcpipe-sth-v1" + struct.pack(">QQ", head["tree_size"], head["timestamp_ns"]) +
               bytes.fromhex(head["root"]))
        self.assertEqual(len(msg), 61)
        VerifyKey(bytes.fromhex(pubkey)).verify(msg, bytes.fromhex(head["signature"]))
        with self.assertRaises(Exception):
            VerifyKey(bytes.fromhex(pubkey)).verify(msg[:-1] + bytes([msg[-1] ^ 1]),
                                                    bytes.fromhex(head["signature"]))

        # every leaf: the event's bytes as sent; the inclusion proofs; the whole tree
        leaves, last_ns = [], 0
        seqs = sorted(sent)
        for off in range(head["tree_size"]):
            proof = json.loads(self.audit("prove", "--offset", off))
            self.assertEqual((proof["leaf_index"], proof["tree_size"]), (off, len(sent)))
            data = bytes.fromhex(proof["leaf_input"])
            leaf = kc.parse_leaf_input(data)
            self.assertEqual(leaf["offset"], off)
            self.assertEqual(leaf["epoch"], epoch)
            self.assertEqual(leaf["seq"], seqs[off])
            self.assertEqual(leaf["producer_id"], self.pid.encode())
            self.assertEqual(leaf["event"], sent[seqs[off]])
            self.assertGreaterEqual(leaf["received_ns"], last_ns)
            last_ns = leaf["received_ns"]
            lh = kc.leaf_hash(data)
            self.assertEqual(proof["leaf_hash"], lh.hex())
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            root = bytes.fromhex(proof["head"]["root"])
            self.assertEqual(proof["head"]["root"], head["root"])
            self.assertTrue(kc.verify_inclusion(off, len(sent), lh, path, root), proof)
            self.assertFalse(kc.verify_inclusion(off, len(sent), kc.leaf_hash(data + b"x"),
                                                 path, root))
            leaves.append(lh)
        self.assertEqual(kc.tree_hash(leaves).hex(), head["root"])

        # kc-audit's own checks of the same: a proof file, a bare proof
        proof_file = os.path.join(self.tmp, "au4.json")
        self.audit("prove", "--province", "79", "--event", "AU-4", "--out", proof_file)
        self.audit("check-proof", proof_file, "--key", pubkey)
        with open(proof_file, encoding="utf-8") as f:
            proof = json.load(f)
        self.assertEqual(proof["leaf_index"], len(sent) - 1)
        bare = ["check-proof", "--leaf-data", proof["leaf_input"], "--leaf-index",
                proof["leaf_index"], "--tree-size", proof["tree_size"], "--root", head["root"]]
        for h in proof["audit_path"]:
            bare += ["--proof", h]
        self.assertIn("VALID", self.audit(*bare))

        # consistency between the two heads (one per group commit: --sth-interval-ms 0)
        sizes = [int(line.split()[0]) for line in self.audit("heads").splitlines()
                 if line.strip() and line.split()[0].isdigit()]
        self.assertIn(3, sizes)
        self.assertIn(len(sent), sizes)
        cons = json.loads(self.audit("consistency", 3, len(sent)))
        r1 = bytes.fromhex(cons["first"]["root"])
        r2 = bytes.fromhex(cons["second"]["root"])
        self.assertEqual(r1, kc.tree_hash(leaves[:3]))
        self.assertEqual(r2.hex(), head["root"])
        path = [bytes.fromhex(h) for h in cons["proof"]]
        self.assertTrue(kc.verify_consistency(3, len(sent), r1, r2, path), cons)
        bare = ["check-proof", "--size1", 3, "--size2", len(sent), "--root1", r1.hex(),
                "--root2", r2.hex()]
        for h in cons["proof"]:
            bare += ["--proof", h]
        self.assertIn("VALID", self.audit(*bare))
        self.audit("verify", "--quiet")
        self.views()


# ---- STATUS_UNAVAILABLE ----------------------------------------------------------------------

class UnavailableTest(AggTest):
    """STATUS_UNAVAILABLE: the aggregator cannot commit (here its file size limit,
    RLIMIT_FSIZE, stands in for a full disk: LMDB's writes fail with EFBIG). The Batch is
    answered unavailable, nothing of it is stored, the aggregator stays up, and a Batch that
    fits goes through afterwards from the same seq."""

    fsize = 1024 * 1024

    def test_unavailable(self):
        pb = self.pb
        p = self.producer()
        big = [self.ev(f"BIG-{i}", 1, note="x" * 1000) for i in range(1500)]  # ~1.6 MB
        ack = p.call(big)
        self.assertAck(ack, status=pb.STATUS_UNAVAILABLE, acked=None)
        self.assertFalse(ack.results)
        self.assertTrue(self.agg.alive(), self.agg.log())
        self.assertEqual(self.amount(), 0)
        self.views()
        self.seq = 0
        self.assertAck(p.call([self.ev("SMALL-1", 3)]), acked=(1, 1), committed=1)
        self.assertEqual(self.views()[self.year]["totals"]["amount_vnd"], 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
