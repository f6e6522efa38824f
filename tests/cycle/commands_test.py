"""commands_test - the reporting cycle through its command-line entry points (issue 18;
docs/CYCLE.md "Sign-off and approval"): kc-send --sign-off, kc-admin approve and kc-admin
reopen against a real kc-aggregator (started by tests/conformance/kcconf.py on 127.0.0.1:*).

Province 79 sends September 2026 from a CSV file (kc-send), signs it off (kc-send --sign-off);
the centre approves it (kc-admin approve, producer "centre" without CURVE); a correction sent by
kc-send is rejected period_locked with its hint; kc-admin reopen with a reason unlocks it and the
same correction is accepted. The bad inputs: reopen without --reason is refused by the command
line before anything is sent (no spool is created); approve of a month with no data prints
period_no_data and its hint; a second reopen prints period_not_locked; a sign-off of a month
not ended prints period_not_ended. kc-log show lists the cycle entries with who and why.

Environment: KC_AGGREGATOR, KC_QUERY, KC_SEND, KC_ADMIN, KC_LOG, KC_CONF_WORK_DIR (ctest).
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import kcconf as kc  # noqa: E402

HEADER = "event_id,province,year,month,activity,kind,amount_vnd,corrects\n"


class CommandsTest(unittest.TestCase):
    def setUp(self):
        os.makedirs(kc.WORK_DIR, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="kc-cycle-cmd-", dir=kc.WORK_DIR)
        self.agg = kc.Aggregator(self.tmp)
        self.agg.start()
        self.office_spool = os.path.join(self.tmp, "office-79.spool")
        self.centre_spool = os.path.join(self.tmp, "centre.spool")

    def tearDown(self):
        if self.agg.alive():
            self.agg.stop()

    def run_cmd(self, env, *args):
        r = subprocess.run([os.environ[env]] + [str(a) for a in args], capture_output=True,
                           timeout=kc.RUN_S)
        return r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8", "replace")

    def send(self, *args):
        return self.run_cmd("KC_SEND", "--no-config", "--lang", "en", "--connect",
                            self.agg.endpoint, "--producer", "office-79", "--spool",
                            self.office_spool, "--timeout", 30, *args)

    def send_rows(self, name, rows):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(HEADER + "".join(r + "\n" for r in rows))
        return self.send(path)

    def admin(self, cmd, *args, spool=True):
        extra = ["--connect", self.agg.endpoint, "--timeout", 30]
        if spool:
            extra += ["--spool", self.centre_spool]
        return self.run_cmd("KC_ADMIN", "--no-config", cmd, *extra, *args)

    def amount(self):
        t = self.agg.totals(2026, "--months", 9, "--province", "79")
        return t["totals"]["amount_vnd"]

    def test_sign_off_approve_lock_reopen(self):
        rc, out, err = self.send_rows("sept.csv", ["R-1,79,2026,9,KC3b,actual,100,"])
        self.assertEqual(rc, 0, out + err)
        # a month not ended cannot be signed off: the reason and what to do
        rc, out, err = self.send("--sign-off", "--province", "79", "--period", "2099-01")
        self.assertEqual(rc, 65, out + err)
        self.assertIn("sign-off 79 2099-01: rejected period_not_ended:", out)
        self.assertIn("hint: a month can be signed off only after its last day", out)
        rc, out, err = self.send("--lang", "vi", "--sign-off", "--province", "79", "--period",
                                 "2099-02")
        self.assertEqual(rc, 65, out + err)
        self.assertIn("xác nhận hoàn thành 79 2099-02: bị từ chối period_not_ended:", out)
        self.assertIn("gợi ý: chỉ xác nhận hoàn thành được một tháng sau ngày cuối", out)
        # the province signs off September
        rc, out, err = self.send("--sign-off", "--province", "79", "--period", "2026-09")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertRegex(out, r"^sign-off 79 2026-09: accepted \(signoff-79-202609-\d+\)\n$")

        # the centre: a month without data cannot be approved
        rc, out, err = self.admin("approve", "--province", "79", "--period", "2026-05")
        self.assertEqual(rc, 65, out + err)
        self.assertIn("approve 79 2026-05: rejected period_no_data:", out)
        self.assertIn("hint: the province has no accepted row for that month", out)
        rc, out, err = self.admin("approve", "--province", "79", "--period", "2026-09")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertRegex(out, r"^approve 79 2026-09: accepted \(approve-79-202609-\d+\)\n$")

        # locked: the office's correction is rejected, with what to do
        correction = "C-1,79,2026,9,KC3b,correction,150,R-1"
        rc, out, err = self.send_rows("fix.csv", [correction])
        self.assertEqual(rc, 65, out + err)
        self.assertIn("C-1: period_locked:", out)
        self.assertIn("ask the centre to reopen it", out)
        self.assertEqual(self.amount(), 100)

        # reopen without a reason: refused before anything is sent (no spool opened)
        spare = os.path.join(self.tmp, "never.spool")
        rc, out, err = self.admin("reopen", "--province", "79", "--period", "2026-09",
                                  "--spool", spare, spool=False)
        self.assertEqual(rc, 64, out + err)
        self.assertIn("reopen needs --reason", err)
        self.assertFalse(os.path.exists(spare))
        # --reason belongs to reopen (and rejects), not to approve; --connect not to stat
        rc, out, err = self.admin("approve", "--province", "79", "--period", "2026-09",
                                  "--reason", "x")
        self.assertEqual(rc, 64, out + err)
        rc, out, err = self.run_cmd("KC_ADMIN", "--no-config", "stat", "--store",
                                    self.agg.store, "--connect", self.agg.endpoint)
        self.assertEqual(rc, 64, out + err)
        self.assertIn("--connect is an option of approve and reopen", err)

        # reopen with a reason; a second reopen finds nothing to reopen
        why = "số liệu R-1 gõ nhầm"
        rc, out, err = self.admin("reopen", "--province", "79", "--period", "2026-09",
                                  "--reason", why)
        self.assertEqual((rc, err), (0, ""), out)
        self.assertRegex(out, r"^reopen 79 2026-09: accepted \(reopen-79-202609-\d+\)\n$")
        rc, out, err = self.admin("reopen", "--province", "79", "--period", "2026-09",
                                  "--reason", why)
        self.assertEqual(rc, 65, out + err)
        self.assertIn("reopen 79 2026-09: rejected period_not_locked:", out)
        self.assertIn("hint: that month of the province is not approved", out)

        # unlocked: the same correction is accepted now
        rc, out, err = self.send_rows("fix.csv", [correction])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("accepted=1", out)
        self.assertEqual(self.amount(), 150)

        # the log: who signed off, approved and reopened, and why
        self.agg.stop()
        rc, out, err = self.run_cmd("KC_LOG", "show", "--store", self.agg.store, "--province",
                                    "79", "--format", "jsonl")
        self.assertEqual(rc, 0, err)
        lines = [json.loads(ln) for ln in out.splitlines()]
        self.assertEqual([(ln["op"], ln["producer"]) for ln in lines if ln["op"] not in
                          ("record", "correction")],
                         [("sign_off", "office-79"), ("approve", "centre"), ("reopen", "centre")])
        self.assertEqual([ln["note"] for ln in lines if ln["op"] == "reopen"], [why])


if __name__ == "__main__":
    unittest.main()
