#!/usr/bin/python3
"""The public RFC 6962 test vectors of transparency-dev/merkle through `kc-audit check-proof`.

rfc6962/inclusion/**.json and rfc6962/consistency/**.json are the repository's
testdata/inclusion and testdata/consistency files, unchanged (rfc6962/README.md: commit,
licence). Each is one proof with its claimed outcome (`wantErr`): the happy paths must verify
(exit 0, "VALID: ..."), every mutation (a flipped bit, a proof hash added, removed or replaced,
a wrong index, size or root) must be refused (exit 1, "INVALID: ..."), never a usage error or
a crash.

One deliberate difference: kc-audit checks that every hash it is given is a 32-byte SHA-256
value (its --help: "INVALID: ... a hash that is not 32 bytes"); the Go library compares
bytes whatever their length. So the one vector that claims success with roots that are not
hashes at all (consistency/additional/sizes-are-equal-one-and-proof-is-empty.json: root1 =
root2 = "don't care 2") is refused by kc-audit, and this test expects that.

Inclusion vectors: {leafIdx, treeSize, root, leafHash, proof}; consistency vectors: {size1,
size2, root1, root2, proof}; hashes in base64, proof null = empty.
"""

import base64
import glob
import hashlib
import json
import os
import unittest

import kcconf as kc

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rfc6962")
HASH_LEN = 32

# The leaf inputs of the vectors' trees: testonly/constants.go LeafInputs() of the same
# repository (the leaf hashes of testdata are SHA-256(0x00 || input) of these).
LEAF_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
               "606162636465666768696a6b6c6d6e6f"]


def b64hex(s):
    return base64.b64decode(s).hex()


def vectors(kind):
    files = sorted(glob.glob(os.path.join(HERE, kind, "**", "*.json"), recursive=True))
    out = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            out.append((os.path.relpath(path, HERE), json.load(f)))
    return out


class RFC6962Test(unittest.TestCase):

    def check(self, argv, valid, what):
        r = kc.run([kc.tool("kc-audit"), "--no-config", "check-proof"] + [str(a) for a in argv])
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        if valid:
            self.assertEqual(r.returncode, 0, f"{what}: expected VALID\n{out}{err}")
            self.assertTrue(out.startswith("VALID"), f"{what}: {out}{err}")
        else:
            self.assertEqual(r.returncode, 1, f"{what}: expected INVALID (exit 1)\n{out}{err}")
            self.assertTrue(out.startswith("INVALID"), f"{what}: {out}{err}")

    @staticmethod
    def expected_valid(v, hashes):
        """The vector's outcome, except that kc-audit refuses values that are not 32 bytes."""
        return not v["wantErr"] and all(len(base64.b64decode(h)) == HASH_LEN for h in hashes)

    def test_reference_verifier(self):
        """The independent verifiers of kcconf (written from RFC 9162, used by AuditTest on
        kcpipe's own proofs) reach every vector's claimed outcome."""
        for name, v in vectors("inclusion"):
            d = lambda s: base64.b64decode(s)  # noqa: E731
            ok = kc.verify_inclusion(v["leafIdx"], v["treeSize"], d(v["leafHash"]),
                                     [d(h) for h in v["proof"] or []], d(v["root"]))
            self.assertEqual(ok, not v["wantErr"], name)
        for name, v in vectors("consistency"):
            ok = kc.verify_consistency(v["size1"], v["size2"], d(v["root1"]), d(v["root2"]),
                                       [d(h) for h in v["proof"] or []])
            self.assertEqual(ok, not v["wantErr"], name)
        # the vectors' 8-leaf tree, built from its leaf inputs
        happy = dict(vectors("inclusion"))["inclusion/1/happy-path.json"]
        leaves = [kc.leaf_hash(bytes.fromhex(x)) for x in LEAF_INPUTS]
        self.assertEqual(kc.tree_hash(leaves[:happy["treeSize"]]), d(happy["root"]))

    def test_all_vectors_present(self):
        self.assertEqual(len(vectors("inclusion")), 98)
        self.assertEqual(len(vectors("consistency")), 98)

    def test_inclusion(self):
        happy = 0
        for name, v in vectors("inclusion"):
            proof = v["proof"] or []
            argv = ["--leaf-hash", b64hex(v["leafHash"]), "--leaf-index", v["leafIdx"],
                    "--tree-size", v["treeSize"], "--root", b64hex(v["root"])]
            for h in proof:
                argv += ["--proof", b64hex(h)]
            valid = self.expected_valid(v, [v["leafHash"], v["root"]] + proof)
            self.assertEqual(valid, not v["wantErr"], name)  # no inclusion vector differs
            happy += valid
            with self.subTest(name):
                self.check(argv, valid, name)
            # the same proof from the leaf's data (--leaf-data hashes SHA-256(0x00 || data))
            for data in LEAF_INPUTS:
                if hashlib.sha256(b"\x00" + bytes.fromhex(data)).digest() != \
                        base64.b64decode(v["leafHash"]):
                    continue
                by_data = ["--leaf-data", data] + argv[2:]
                with self.subTest(name, leaf_data=data):
                    self.check(by_data, valid, name + " (--leaf-data)")
                if valid:  # another leaf's data under the same proof
                    other = LEAF_INPUTS[(LEAF_INPUTS.index(data) + 1) % len(LEAF_INPUTS)]
                    with self.subTest(name, other_leaf_data=other):
                        self.check(["--leaf-data", other] + argv[2:], False,
                                   name + " (another leaf's data)")
        self.assertEqual(happy, 6)

    def test_consistency(self):
        happy = 0
        for name, v in vectors("consistency"):
            proof = v["proof"] or []
            argv = ["--size1", v["size1"], "--size2", v["size2"], "--root1", b64hex(v["root1"]),
                    "--root2", b64hex(v["root2"])]
            for h in proof:
                argv += ["--proof", b64hex(h)]
            valid = self.expected_valid(v, [v["root1"], v["root2"]] + proof)
            if valid != (not v["wantErr"]):
                self.assertEqual(name, "consistency/additional/"
                                       "sizes-are-equal-one-and-proof-is-empty.json")
            happy += valid
            with self.subTest(name):
                self.check(argv, valid, name)
        self.assertEqual(happy, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
