#!/usr/bin/python3
"""tests/layout: the folder rules of the source tree (issue 14), checked with
grep-like scans of `#include "..."` lines (*.c, *.h) and of add_library,
target_link_libraries and target_include_directories (CMakeLists.txt).

  check_layout.py [--root DIR]   check the tree at DIR (default: this file's
                                 ../..); print one "FILE:LINE: <rule>" line per
                                 violation and exit 1, or print nothing and exit 0
  check_layout.py --self-test    run the checker on small temporary trees with
                                 planted violations and require that each one is
                                 reported (and that a clean tree passes silently)

The rules:
  - dependencies run one way: common <- store <- core <- {aggregator, tools,
    bench}; ingest <- common. proto (generated protobuf code) sits below common;
    web (the dashboard's embedded files) is used by the aggregator only. tools
    may use ingest's public library (kcingest.h, libkcingest), bench all of
    ingest. office (kc-office, the field-office portal) may use common and
    ingest's public part (kcingest.h, kcimport.h, libkcingest) only: never
    store, core, aggregator, tools or web. tests may use everything.
  - aggregator/ includes nothing from tools/, tools/ nothing from aggregator/.
  - private headers (kc_store_int.h, kc_merkle_int.h, core/kc_replay_int.h) are included only
    under their module (store/ and tests/store/; core/, tests/core/, tests/replay/); this rule
    holds for tests too.
  - ingest's public header (ingest/include/kcingest.h) and libkcingest
    (targets kcingest, kcingest_obj) depend on nothing but common (+ proto).
  - every C file sits in a folder this layout knows.

A header's folder is the top-level folder where a file of that name lies
(resolved first relative to the including file); the build outputs
kcpipe/v1/kcpipe.pb-c.h and kc_web.h / kc_ref_data are proto/, web/, common/.
A target's folder is the folder of the CMakeLists.txt whose add_library
defines it. Only the standard library of Python; no build needed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

BELOW_CORE = ("core", "store", "common", "proto")
ALLOWED = {
    "proto": ("proto",),
    "common": ("common", "proto"),
    "store": ("store", "common", "proto"),
    "core": BELOW_CORE,
    "aggregator": ("aggregator",) + BELOW_CORE + ("web",),
    "tools": ("tools",) + BELOW_CORE + ("ingest",),  # ingest: public part only
    "bench": ("bench",) + BELOW_CORE + ("ingest",),
    "ingest": ("ingest", "common", "proto"),
    "office": ("office", "common", "proto", "ingest"),  # ingest: public part only
    "web": ("web",),
    "tests": None,  # everything
}
# Folders with no C code and no library of their own (CMake helpers, manual
# pages, scripts, data, packaging): not checked, but a C file there is reported.
OTHER_FOLDERS = ("cmake", "docs", "scripts", "data", "dist")
SKIP_DIRS = ("build", "var", "node_modules")

# tools/ and office/ may use ingest/ only through its public headers and library.
INGEST_PUBLIC_HEADERS = ("ingest/include/kcingest.h", "ingest/include/kcimport.h")
INGEST_PUBLIC_USERS = ("tools", "office")
INGEST_PUBLIC_TARGETS = ("kcingest",)
# A module's private header -> where it may be included.
PRIVATE = {
    "kc_store_int.h": ("store/", "tests/store/"),
    "kc_merkle_int.h": ("store/", "tests/store/"),
    "kc_replay_int.h": ("core/", "tests/core/", "tests/replay/"),
    "kc_sheet_zip.h": ("ingest/kc_sheet_",),
}
INGEST_PUBLIC_HEADER = "ingest/include/kcingest.h"
LIBKCINGEST = ("kcingest", "kcingest_obj")
# Build outputs: not in the source tree.
GENERATED = {
    "kcpipe.pb-c.h": "proto",
    "kcpipe.pb-c.c": "proto",
    "kc_web.h": "web",
    "kc_web.c": "web",
    "kc_ref_data.h": "common",
    "kc_ref_data.c": "common",
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
CMAKE_CALL_RE = re.compile(
    r"\b(add_library|target_link_libraries|target_include_directories|set)\s*\(",
    re.IGNORECASE)
NAME_RE = re.compile(r"[A-Za-z0-9_.+-]+")
LINK_KEYWORDS = {"PUBLIC", "PRIVATE", "INTERFACE", "LINK_PUBLIC", "LINK_PRIVATE",
                 "LINK_INTERFACE_LIBRARIES", "debug", "optimized", "general"}


def folder_of(rel):
    """Top-level folder of a path relative to the root ('' for root files)."""
    return rel.split("/", 1)[0] if "/" in rel else ""


def may_use(src_folder, dep_folder):
    allowed = ALLOWED.get(src_folder)
    return allowed is None or dep_folder in allowed


def dep_rule(src_folder, dep_folder):
    """The rule text for src_folder using dep_folder, which it may not."""
    if src_folder == "aggregator" and dep_folder == "tools":
        return "aggregator/ includes nothing from tools/"
    if src_folder == "tools" and dep_folder == "aggregator":
        return "tools/ includes nothing from aggregator/"
    if dep_folder == "web":
        return "web/ is used by aggregator/ only (%s/ uses it)" % src_folder
    allowed = ", ".join(f + "/" for f in ALLOWED[src_folder] if f != src_folder)
    return ("dependencies run one way (common <- store <- core <- {aggregator, tools, bench};"
            " ingest <- common): %s/ may use %s, not %s/" % (src_folder, allowed or "nothing",
                                                             dep_folder))


def walk(root):
    """Relative paths of the tree's files, skipping build outputs and hidden dirs."""
    out = []
    for d, dirs, files in os.walk(root):
        rel_d = os.path.relpath(d, root)
        rel_d = "" if rel_d == "." else rel_d
        dirs[:] = sorted(x for x in dirs if not x.startswith(".") and x != "node_modules"
                         and not (rel_d == "" and x in SKIP_DIRS))
        for f in sorted(files):
            out.append(f if rel_d == "" else rel_d + "/" + f)
    return out


class Checker:
    def __init__(self, root):
        self.root = root
        self.files = walk(root)
        self.by_name = {}
        for rel in self.files:
            if rel.endswith((".c", ".h")):
                self.by_name.setdefault(os.path.basename(rel), []).append(rel)
        self.fileset = set(self.files)
        self.violations = []

    def report(self, rel, line, rule):
        self.violations.append("%s:%d: %s" % (rel, line, rule))

    def resolve(self, rel, inc):
        """Candidate paths (relative to root) of an included file, or a
        generated folder name, or [] if the file is not the project's."""
        here = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
        if here in self.fileset:
            return [here]
        if inc in self.fileset:
            return [inc]
        cands = self.by_name.get(os.path.basename(inc))
        if cands:
            return list(cands)
        gen = GENERATED.get(os.path.basename(inc))
        return [gen + "/" + os.path.basename(inc)] if gen else []

    # --- #include lines ---------------------------------------------------
    def check_sources(self):
        for rel in self.files:
            if not rel.endswith((".c", ".h")):
                continue
            src = folder_of(rel)
            if src not in ALLOWED:
                self.report(rel, 1, "C code outside the layout's folders (%s)" % ", ".join(
                    f + "/" for f in ALLOWED))
                continue
            with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as fh:
                for no, text in enumerate(fh, 1):
                    m = INCLUDE_RE.match(text)
                    if m:
                        self.check_include(rel, no, src, m.group(1))

    def check_include(self, rel, no, src, inc):
        base = os.path.basename(inc)
        if base in PRIVATE and not rel.startswith(PRIVATE[base]):
            self.report(rel, no, "%s is included only under %s" % (base, " and ".join(PRIVATE[base])))
            return
        cands = self.resolve(rel, inc)
        if not cands:
            return  # a system header written with quotes, or not the project's
        if rel == INGEST_PUBLIC_HEADER:
            bad = [c for c in cands if folder_of(c) not in ("common", "proto")]
            if len(bad) == len(cands):
                self.report(rel, no, "ingest's public header depends on nothing but common/ "
                            "(+ proto/): %s is %s/" % (inc, folder_of(bad[0])))
            return
        for c in cands:
            dep = folder_of(c)
            if not may_use(src, dep):
                continue
            if src in INGEST_PUBLIC_USERS and dep == "ingest" and c not in INGEST_PUBLIC_HEADERS:
                continue
            return  # one allowed candidate suffices
        dep = folder_of(cands[0])
        if src in INGEST_PUBLIC_USERS and dep == "ingest":
            self.report(rel, no, "%s/ may use ingest/'s public part only (kcingest.h, "
                        "kcimport.h, libkcingest), not %s" % (src, cands[0]))
        else:
            self.report(rel, no, dep_rule(src, dep) + " (%s)" % inc)

    # --- CMakeLists.txt ----------------------------------------------------
    def cmake_calls(self, rel):
        """(command, [(token, line)], line) of the calls that matter in a file."""
        with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        # comments out (bracket comments, then line comments outside quotes)
        text = re.sub(r"#\[(=*)\[.*?\]\1\]", lambda m: re.sub(r"[^\n]", " ", m.group(0)),
                      text, flags=re.S)
        clean = []
        for line in text.split("\n"):
            q = False
            for i, ch in enumerate(line):
                if ch == '"':
                    q = not q
                elif ch == "#" and not q:
                    line = line[:i]
                    break
            clean.append(line)
        text = "\n".join(clean)
        calls = []
        for m in CMAKE_CALL_RE.finditer(text):
            if m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "_"):
                continue
            depth, i = 1, m.end()
            while i < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            body_start = m.end()
            toks = []
            for t in re.finditer(r'"[^"]*"|[^\s"]+', text[body_start:i - 1]):
                line = text.count("\n", 0, body_start + t.start()) + 1
                toks.append((t.group(0).strip('"'), line))
            calls.append((m.group(1).lower(), toks, text.count("\n", 0, m.start()) + 1))
        return calls

    def check_cmake(self):
        lists = [r for r in self.files if os.path.basename(r) == "CMakeLists.txt"]
        parsed = {r: self.cmake_calls(r) for r in lists}
        targets = {}
        for rel, calls in parsed.items():
            for cmd, toks, _ in calls:
                if cmd == "add_library" and toks:
                    targets.setdefault(toks[0][0], folder_of(rel))
        for rel, calls in parsed.items():
            src = folder_of(rel)
            if src not in ALLOWED:
                continue
            cur = os.path.dirname(rel) or "."
            var = {"CMAKE_CURRENT_SOURCE_DIR": cur, "CMAKE_CURRENT_LIST_DIR": cur,
                   "CMAKE_CURRENT_BINARY_DIR": cur, "PROJECT_SOURCE_DIR": ".",
                   "CMAKE_SOURCE_DIR": ".", "kcpipe_SOURCE_DIR": ".", "PROJECT_BINARY_DIR": ".",
                   "CMAKE_BINARY_DIR": "."}
            for cmd, toks, _ in calls:
                if cmd == "set" and len(toks) == 2:
                    val = self.subst(toks[1][0], var)
                    if val is not None:
                        var[toks[0][0]] = val
                elif cmd == "target_link_libraries" and toks:
                    self.check_links(rel, src, toks, targets)
                elif cmd == "target_include_directories" and toks:
                    self.check_include_dirs(rel, src, toks, var)

    def check_links(self, rel, src, toks, targets):
        tgt = toks[0][0]
        for tok, line in toks[1:]:
            if tok in LINK_KEYWORDS:
                continue
            for name in NAME_RE.findall(tok):
                dep = targets.get(name)
                if dep is None or dep == "" or name == tgt:
                    continue  # not a target, or the root's wrappers of system libraries
                if tgt in LIBKCINGEST and dep not in ("ingest", "common", "proto"):
                    self.report(rel, line, "libkcingest depends on nothing but common/ "
                                "(+ proto/): %s links %s (%s/)" % (tgt, name, dep))
                elif not may_use(src, dep):
                    self.report(rel, line, dep_rule(src, dep) + ": %s links %s" % (tgt, name))
                elif (src in INGEST_PUBLIC_USERS and dep == "ingest"
                      and name not in INGEST_PUBLIC_TARGETS):
                    self.report(rel, line, "%s/ may use ingest/'s public part only "
                                "(kcingest.h, kcimport.h, libkcingest): %s links %s"
                                % (src, tgt, name))

    @staticmethod
    def subst(tok, var):
        """tok with ${VAR}s replaced and $<...:x> unwrapped; None if unknown."""
        tok = re.sub(r"^\$<(?:BUILD_INTERFACE|BUILD_LOCAL_INTERFACE):(.*)>$", r"\1", tok)
        if tok.startswith("$<"):
            return None
        try:
            return re.sub(r"\$\{([^}]+)\}", lambda m: var[m.group(1)], tok)
        except KeyError:
            return None

    def check_include_dirs(self, rel, src, toks, var):
        tgt = toks[0][0]
        for tok, line in toks[1:]:
            if tok in ("SYSTEM", "BEFORE", "AFTER", "PUBLIC", "PRIVATE", "INTERFACE"):
                continue
            path = self.subst(tok, var)
            if path is None or os.path.isabs(path) or "${" in path:
                continue  # outside the tree or not known here
            path = os.path.normpath(path)
            dep = folder_of(path + "/")
            if dep in ("", ".", ".."):
                continue
            if tgt in LIBKCINGEST and dep not in ("ingest", "common", "proto"):
                self.report(rel, line, "libkcingest depends on nothing but common/ (+ proto/): "
                            "%s includes %s/" % (tgt, path))
            elif not may_use(src, dep):
                self.report(rel, line, dep_rule(src, dep) + ": %s includes %s/" % (tgt, path))
            elif src in INGEST_PUBLIC_USERS and dep == "ingest" and path != "ingest/include":
                self.report(rel, line, "%s/ may use ingest/'s public part only (kcingest.h, "
                            "kcimport.h, libkcingest): %s includes %s/" % (src, tgt, path))

    def run(self):
        self.check_sources()
        self.check_cmake()
        return self.violations


# --- self-test ----------------------------------------------------------------
CLEAN_TREE = {
    "CMakeLists.txt": "add_subdirectory(store)\n",
    "proto/CMakeLists.txt": "add_library(kcproto STATIC x.c)\n",
    "common/CMakeLists.txt": "add_library(kccommon STATIC kc_err.c)\n"
                             "target_link_libraries(kccommon PUBLIC kcproto)\n",
    "common/kc_err.h": "#include <stdint.h>\n",
    "common/kc_err.c": '#include "kc_err.h"\n#include "kcpipe/v1/kcpipe.pb-c.h"\n',
    "store/CMakeLists.txt": "# kcstore\nadd_library(kcstore STATIC\n  kc_store.c # the store\n)\n"
                            "target_include_directories(kcstore PUBLIC "
                            "${CMAKE_CURRENT_SOURCE_DIR})\n"
                            "target_link_libraries(kcstore PUBLIC kccommon PkgConfig::LMDB)\n",
    "store/kc_store.h": '#include "kc_err.h"\n',
    "store/kc_store_int.h": '#include "kc_store.h"\n',
    "store/kc_merkle_int.h": "\n",
    "store/kc_store.c": '#include "kc_store_int.h"\n#include "kc_merkle_int.h"\n'
                        '#include <lmdb.h>\n',
    "core/CMakeLists.txt": "add_library(kccore STATIC kc_cells.c)\n"
                           "target_link_libraries(kccore PUBLIC kcstore kccommon kcproto)\n",
    "core/kc_cells.h": '#include "kc_store.h"\n',
    "core/kc_cells.c": '#include "kc_cells.h"\n#include "kc_err.h"\n',
    "web/CMakeLists.txt": "add_library(kcweb STATIC ${CMAKE_CURRENT_BINARY_DIR}/kc_web.c)\n",
    "aggregator/CMakeLists.txt": "add_library(kcagg STATIC kc_apply.c)\n"
                                 "target_link_libraries(kcagg PUBLIC kccore kcweb)\n"
                                 "add_executable(kc-aggregator kc_aggregator.c)\n"
                                 "target_link_libraries(kc-aggregator PRIVATE kcagg)\n",
    "aggregator/kc_apply.h": '#include "kc_cells.h"\n',
    "aggregator/kc_apply.c": '#include "kc_apply.h"\n#include "kc_web.h"\n',
    "tools/CMakeLists.txt": "add_library(kctools STATIC common/kc_cli.c)\n"
                            "target_include_directories(kctools PUBLIC "
                            "${CMAKE_CURRENT_SOURCE_DIR}/common)\n"
                            "target_link_libraries(kctools PUBLIC kccore)\n"
                            "add_executable(kc-query kc_query.c)\n"
                            "target_link_libraries(kc-query PRIVATE kctools kcingest)\n",
    "tools/common/kc_cli.h": '#include "kc_cells.h"\n',
    "tools/common/kc_cli.c": '#include "kc_cli.h"\n',
    "tools/kc_query.c": '#include "kc_cli.h"\n#include "kcingest.h"\n',
    "ingest/CMakeLists.txt": "add_library(kcingest_obj OBJECT kc_spool.c)\n"
                             "target_link_libraries(kcingest_obj PRIVATE kccommon kcproto)\n"
                             "add_library(kcingest SHARED $<TARGET_OBJECTS:kcingest_obj>)\n"
                             "target_include_directories(kcingest PUBLIC\n"
                             "  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)\n"
                             "target_link_libraries(kcingest PRIVATE kccommon kcproto)\n",
    "ingest/include/kcingest.h": "#include <stddef.h>\n",
    "ingest/include/kcimport.h": "#include <stddef.h>\n",
    "office/CMakeLists.txt": "add_executable(kc-office kc_office.c)\n"
                             "target_link_libraries(kc-office PRIVATE kccommon kcingest)\n",
    "office/kc_office.c": '#include "kc_err.h"\n#include "kcingest.h"\n#include "kcimport.h"\n',
    "ingest/kc_spool.h": '#include "kc_err.h"\n',
    "ingest/kc_spool.c": '#include "kcingest.h"\n#include "kc_spool.h"\n',
    "bench/CMakeLists.txt": "add_library(kcbenchutil STATIC bench_util.c)\n"
                            "target_link_libraries(kcbenchutil PUBLIC kccore kcingest)\n",
    "bench/bench_util.c": '#include "kc_cells.h"\n#include "kc_spool.h"\n',
    "tests/CMakeLists.txt": "add_subdirectory(store)\n",
    "tests/store/store_test.c": '#include "kc_store_int.h"\n#include "kc_cli.h"\n',
    "tests/aggregator/agg_test.c": '#include "kc_apply.h"\n#include "kc_cli.h"\n'
                                   '#include "kc_spool.h"\n',
    "tests/aggregator/CMakeLists.txt": "target_include_directories(t PRIVATE "
                                       "${PROJECT_SOURCE_DIR}/store)\n",
    "docs/man/CMakeLists.txt": "set(KC_MAN_PAGES kc-query.1)\n",
    "build/x/bad.c": '#include "kc_store_int.h"\n',
    "tests/web/node_modules/x/bad.h": '#include "kc_store_int.h"\n',
}

# (file, contents added or replacing, expected "FILE:LINE: " prefix, rule text)
PLANTS = [
    ("aggregator/kc_fake.c", '#include "kc_apply.h"\n#include "kc_cli.h"\n',
     "aggregator/kc_fake.c:2: ", "aggregator/ includes nothing from tools/"),
    ("tools/kc_fake.c", '#include "kc_apply.h"\n', "tools/kc_fake.c:1: ",
     "tools/ includes nothing from aggregator/"),
    ("core/kc_fake.c", '\n#include "kc_store_int.h"\n', "core/kc_fake.c:2: ",
     "kc_store_int.h is included only under store/ and tests/store/"),
    ("tests/fuzz/fuzz_x.c", '#include "kc_merkle_int.h"\n', "tests/fuzz/fuzz_x.c:1: ",
     "kc_merkle_int.h is included only under store/ and tests/store/"),
    ("store/kc_fake.c", '#include "kc_store.h"\n#include "kc_cells.h"\n', "store/kc_fake.c:2: ",
     "dependencies run one way"),
    ("common/kc_fake.c", '#include "kc_web.h"\n', "common/kc_fake.c:1: ",
     "web/ is used by aggregator/ only"),
    ("ingest/kc_fake.c", '#include "kc_store.h"\n', "ingest/kc_fake.c:1: ",
     "dependencies run one way"),
    ("ingest/include/kcingest.h", '#include <stddef.h>\n#include "kc_err.h"\n'
     '#include "kc_spool.h"\n', "ingest/include/kcingest.h:3: ",
     "ingest's public header depends on nothing but common/"),
    ("tools/kc_fake2.c", '#include "kc_spool.h"\n', "tools/kc_fake2.c:1: ",
     "tools/ may use ingest/'s public part only"),
    ("bench/kc_fake.c", '#include "kc_apply.h"\n', "bench/kc_fake.c:1: ",
     "dependencies run one way"),
    ("office/kc_fake.c", '#include "kc_err.h"\n#include "kc_apply.h"\n', "office/kc_fake.c:2: ",
     "dependencies run one way"),
    ("office/kc_fake2.c", '#include "kc_cli.h"\n', "office/kc_fake2.c:1: ",
     "dependencies run one way"),
    ("office/kc_fake3.c", '#include "kc_spool.h"\n', "office/kc_fake3.c:1: ",
     "office/ may use ingest/'s public part only"),
    ("office/kc_fake4.c", '#include "kc_web.h"\n', "office/kc_fake4.c:1: ",
     "web/ is used by aggregator/ only"),
    ("office/CMakeLists.txt", "add_executable(kc-office kc_office.c)\n"
     "target_link_libraries(kc-office PRIVATE kccommon kcingest_obj)\n",
     "office/CMakeLists.txt:2: ", "office/ may use ingest/'s public part only"),
    ("net/kc_net.c", "\n", "net/kc_net.c:1: ", "C code outside the layout's folders"),
    ("store/CMakeLists.txt", "add_library(kcstore STATIC kc_store.c)\n"
     "target_link_libraries(kcstore\n  PUBLIC kccommon\n  kccore) # a cycle\n",
     "store/CMakeLists.txt:4: ", "dependencies run one way"),
    ("ingest/CMakeLists.txt", "add_library(kcingest SHARED x.c)\n"
     "target_link_libraries(kcingest PRIVATE kccommon kcstore)\n",
     "ingest/CMakeLists.txt:2: ", "libkcingest depends on nothing but common/"),
    ("bench/CMakeLists.txt", "add_library(kcbenchutil STATIC bench_util.c)\n"
     "target_include_directories(kcbenchutil PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}\n"
     "  ${PROJECT_SOURCE_DIR}/aggregator)\n",
     "bench/CMakeLists.txt:3: ", "dependencies run one way"),
    ("aggregator/CMakeLists.txt", "add_library(kcagg STATIC kc_apply.c)\n"
     "# target_link_libraries(kcagg PUBLIC kctools) in a comment is fine\n"
     "target_link_libraries(kcagg PUBLIC kccore kctools)\n",
     "aggregator/CMakeLists.txt:3: ", "aggregator/ includes nothing from tools/"),
]


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def run_cli(root):
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", root],
                       capture_output=True, text=True, check=False)
    return p.returncode, p.stdout + p.stderr


def self_test(real_root):
    failures = []
    with tempfile.TemporaryDirectory(prefix="kc-layout-") as tmp:
        # 1. a clean tree passes silently
        clean = os.path.join(tmp, "clean")
        write_tree(clean, CLEAN_TREE)
        rc, out = run_cli(clean)
        if rc != 0 or out:
            failures.append("clean tree: exit %d, output:\n%s" % (rc, out))
        # 2. each planted violation is reported, naming its file and line
        for i, (rel, text, where, rule) in enumerate(PLANTS):
            tree = os.path.join(tmp, "plant%d" % i)
            write_tree(tree, dict(CLEAN_TREE, **{rel: text}))
            rc, out = run_cli(tree)
            lines = out.splitlines()
            hit = [ln for ln in lines if ln.startswith(where) and rule in ln]
            if rc != 1 or not hit or len(lines) != 1:
                failures.append("planted %s: exit %d, expected one line '%s...%s', got:\n%s"
                                % (rel, rc, where, rule, out))
        # 3. mutation check on a copy of the real tree (its sources and CMakeLists only)
        copy = os.path.join(tmp, "real")
        for rel in walk(real_root):
            if rel.endswith((".c", ".h")) or os.path.basename(rel) == "CMakeLists.txt":
                dst = os.path.join(copy, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(os.path.join(real_root, rel), dst)
        _, before = run_cli(copy)
        planted = "aggregator/kc_layout_planted.c"
        write_tree(copy, {planted: '#include "kc_err.h"\n#include "kc_cli.h"\n'})
        rc, after = run_cli(copy)
        want = planted + ":2: aggregator/ includes nothing from tools/"
        if rc != 1 or not any(ln.startswith(want) for ln in after.splitlines()):
            failures.append("real-tree copy: planted %s not reported (exit %d):\n%s"
                            % (planted, rc, after))
        extra = {ln for ln in after.splitlines() if not ln.startswith(want)}
        extra -= set(before.splitlines())
        if extra:
            failures.append("real-tree copy: the planted file changed other results:\n"
                            + "\n".join(sorted(extra)))
    for f in failures:
        print("layout self-test: " + f)
    if not failures:
        print("layout self-test: %d planted violations reported, clean tree silent"
              % (len(PLANTS) + 1))
    return 1 if failures else 0


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test(root)
    if len(argv) == 3 and argv[1] == "--root":
        root = argv[2]
    elif len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    violations = Checker(root).run()
    for v in violations:
        print(v)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
