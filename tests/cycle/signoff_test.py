"""signoff_test - sign-off, approval, period locks and reopen against the real kc-aggregator
(issue 18; docs/CYCLE.md "Sign-off and approval").

A producer written from docs/PROTOCOL.md (tests/conformance/kcconf.py: python3-zmq and the
bindings protoc generates) sends records of province 79, signs off 2026-09, the centre (producer
id "centre" without CURVE) approves it; a record, correction and retraction of the locked month
are rejected period_locked, the reopen (with its reason) unlocks it and the correction is
accepted. The bad inputs each get their reason. Every accepted cycle entry is a leaf of the
Merkle log: kc-audit prove --offset gives its bytes as sent and the proof verifies; kc-replay
verify accepts the store afterwards.

Environment: as tests/conformance (KC_AGGREGATOR, KC_AUDIT, KC_PROTOC, ...), plus KC_REPLAY.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import kcconf as kc  # noqa: E402
import zmq  # noqa: E402

YEAR, MONTH = 2026, 9


class SignOffTest(unittest.TestCase):
    def setUp(self):
        os.makedirs(kc.WORK_DIR, exist_ok=True)
        self.pb = kc.bindings()
        self.tmp = tempfile.mkdtemp(prefix="kc-signoff-", dir=kc.WORK_DIR)
        # the centre's local time decides which months have ended
        self.agg = kc.Aggregator(self.tmp)
        self.agg.start()
        self.ctx = zmq.Context()
        self.seqs = {}
        self.socks = {}
        self.log = []  # the bytes of every accepted event, in log order

    def tearDown(self):
        for s in self.socks.values():
            s.close()
        self.ctx.term()
        if self.agg.alive():
            self.agg.stop()

    def send(self, pid, reason=None, **f):
        """Send one event as producer pid in its own Batch; check its single outcome."""
        if pid not in self.socks:
            self.socks[pid] = kc.Producer(self.ctx, self.agg.endpoint, producer_id=pid)
        self.seqs[pid] = self.seqs.get(pid, 0) + 1
        seq = self.seqs[pid]
        data = kc.event(producer_id=pid, seq=seq, **f)
        self.socks[pid].send([data], epoch=1)
        ack = self.socks[pid].recv_ack()
        self.assertEqual(ack.status, self.pb.STATUS_OK, f"\n{ack}")
        self.assertEqual((ack.acked_from, ack.acked_to), (seq, seq), f"\n{ack}")
        got = [(r.seq, self.pb.Reason.Name(r.reason)) for r in ack.results]
        if reason is None:
            self.assertEqual(got, [], f"\n{ack}")
            self.log.append(data)
            return None
        self.assertEqual(got, [(seq, reason)], f"\n{ack}")
        return ack.results[0].text

    def rec(self, eid, amount, month=MONTH, reason=None, **f):
        return self.send("office-79", reason, event_id=eid, province="79", year=YEAR, month=month,
                         activity="KC3b", metrics={"amount_vnd": amount}, **f)

    def cycle(self, pid, op, month=MONTH, reason=None, year=YEAR, province="79", **f):
        return self.send(pid, reason, event_id=f"{op}-{province}-{year}{month:02d}-{len(self.log)}"
                         f"-{self.seqs.get(pid, 0)}", province=province, year=year, month=month,
                         op=op, **f)

    def amount(self, month):
        return self.agg.totals(YEAR, "--months", month, "--province", "79")["totals"]["amount_vnd"]

    def run_tool(self, env, *args):
        r = subprocess.run([os.environ[env]] + [str(a) for a in args], capture_output=True,
                           timeout=kc.RUN_S)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stderr.decode()}")
        return r.stdout.decode("utf-8")

    def test_sign_off_approve_lock_reopen(self):
        pb = self.pb
        self.rec("R-1", 100)
        self.rec("R-2", 20, month=8)
        # a sign-off of a month not ended: refused, with what to do
        text = self.cycle("office-79", pb.OP_SIGN_OFF, year=2099, month=1,
                          reason="REASON_PERIOD_NOT_ENDED")
        self.assertIn("has not ended", text)
        # the province signs off September
        self.cycle("office-79", pb.OP_SIGN_OFF)
        # a sign-off carries no figures
        self.cycle("office-79", pb.OP_SIGN_OFF, reason="REASON_UNSUPPORTED_OP",
                   metrics={"amount_vnd": 1})
        # only the centre approves
        text = self.cycle("office-79", pb.OP_APPROVE, reason="REASON_PROVINCE_NOT_AUTHORIZED")
        self.assertIn("only the centre", text)
        # a month without data cannot be approved
        self.cycle("centre", pb.OP_APPROVE, month=5, reason="REASON_PERIOD_NO_DATA")
        approval_offset = len(self.log)
        self.cycle("centre", pb.OP_APPROVE)
        approval_bytes = self.log[-1]
        # a second approval
        text = self.cycle("centre", pb.OP_APPROVE, reason="REASON_PERIOD_LOCKED")
        self.assertIn(f"already approved (log offset {approval_offset})", text)

        # locked: a record, a correction, a retraction of September; a correction moving
        # August's row into September
        text = self.rec("R-3", 5, reason="REASON_PERIOD_LOCKED")
        self.assertIn("ask the centre to reopen", text)
        self.rec("C-1", 150, op=pb.OP_CORRECTION, corrects="R-1", reason="REASON_PERIOD_LOCKED")
        self.send("office-79", "REASON_PERIOD_LOCKED", event_id="X-1", province="79",
                  op=pb.OP_RETRACTION, corrects="R-1")
        self.rec("C-2", 20, op=pb.OP_CORRECTION, corrects="R-2",
                 reason="REASON_PERIOD_LOCKED")  # new period September: locked
        # August is not locked; a resend of an accepted record is still a duplicate
        self.rec("R-4", 1, month=8)
        self.rec("R-1", 100, reason="REASON_DUPLICATE")
        self.assertEqual(self.amount(MONTH), 100)

        # reopen: without a reason, of a month not approved; then with a reason
        text = self.cycle("centre", pb.OP_REOPEN, reason="REASON_MISSING_REASON")
        self.assertIn("needs a reason", text)
        self.cycle("centre", pb.OP_REOPEN, month=8, note="x", reason="REASON_PERIOD_NOT_LOCKED")
        self.cycle("office-79", pb.OP_REOPEN, note="x", reason="REASON_PROVINCE_NOT_AUTHORIZED")
        self.cycle("centre", pb.OP_REOPEN, note="figures of R-1 were mistyped")
        # unlocked: the correction is accepted now
        self.rec("C-1", 150, op=pb.OP_CORRECTION, corrects="R-1")
        self.assertEqual(self.amount(MONTH), 150)

        # the race, both orders (one commit order decides): approve, then a correction
        # (rejected); a correction, then the approval (both accepted)
        self.cycle("office-79", pb.OP_SIGN_OFF, month=8)
        self.cycle("centre", pb.OP_APPROVE, month=8)
        self.rec("C-4", 2, month=8, op=pb.OP_CORRECTION, corrects="R-4",
                 reason="REASON_PERIOD_LOCKED")
        self.rec("C-5", 7, op=pb.OP_CORRECTION, corrects="C-1", month=MONTH)
        self.cycle("centre", pb.OP_APPROVE)
        self.assertEqual(self.amount(MONTH), 7)

        # the approval is a leaf of the Merkle log: its bytes as sent, with a valid proof
        self.agg.stop()
        store = self.agg.store
        pubkey = self.run_tool("KC_AUDIT", "--no-config", "--store", store, "pubkey").strip()
        proof = json.loads(self.run_tool("KC_AUDIT", "--no-config", "--store", store, "prove",
                                         "--offset", approval_offset))
        leaf = kc.parse_leaf_input(bytes.fromhex(proof["leaf_input"]))
        self.assertEqual(leaf["offset"], approval_offset)
        self.assertEqual(leaf["producer_id"], b"centre")
        self.assertEqual(leaf["event"], approval_bytes)
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        self.assertTrue(kc.verify_inclusion(approval_offset, proof["tree_size"],
                                            kc.leaf_hash(bytes.fromhex(proof["leaf_input"])),
                                            path, bytes.fromhex(proof["head"]["root"])))
        proof_file = os.path.join(self.tmp, "approval.json")
        with open(proof_file, "w", encoding="utf-8") as f:
            json.dump(proof, f)
        self.run_tool("KC_AUDIT", "--no-config", "check-proof", proof_file, "--key", pubkey)
        # the whole log replays to the same totals, and rebuilds
        # the whole log replays to the same totals and the same period states (2026-08 and
        # 2026-09 of 79), and rebuilds a store that verifies the same
        out = self.run_tool("KC_REPLAY", "--no-config", "-q", "verify", "--store", store)
        self.assertIn("verify: 2 reporting-cycle periods identical", out)
        rebuilt = os.path.join(self.tmp, "rebuilt")
        self.run_tool("KC_REPLAY", "--no-config", "-q", "rebuild", "--from", store, "--to",
                      rebuilt)
        out = self.run_tool("KC_REPLAY", "--no-config", "-q", "verify", "--store", rebuilt)
        self.assertIn("verify: 2 reporting-cycle periods identical", out)
        # kc-log show: the cycle entries with who and why, in log order
        lines = [json.loads(ln) for ln in self.run_tool(
            "KC_LOG", "show", "--store", store, "--province", "79",
            "--format", "jsonl").splitlines()]
        self.assertEqual(len(lines), len(self.log))
        ops = [(ln["op"], ln["producer"]) for ln in lines]
        self.assertEqual(ops[approval_offset], ("approve", "centre"))
        reopen = [ln for ln in lines if ln["op"] == "reopen"]
        self.assertEqual(len(reopen), 1)
        self.assertEqual(reopen[0]["note"], "figures of R-1 were mistyped")
        self.assertEqual([ln["op"] for ln in lines].count("sign_off"), 2)
        self.assertEqual([ln["op"] for ln in lines].count("approve"), 3)


if __name__ == "__main__":
    unittest.main()
