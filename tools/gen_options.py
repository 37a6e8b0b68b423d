#!/usr/bin/env python3
"""Writes what is derived from the option table and the public headers, so
that each fact is written once:

  docs/options.md                    every option: key, type, range, default, meaning
  bindings/python/zoq/_generated.py  options, enums, flags and dtypes for the bindings

from lib/core/options.def (key, name, type, bounds, default), the option
comments of include/zoq/options.h (meaning) and the enums and #defines of
include/zoq/*.h (values).

  python3 tools/gen_options.py           # regenerate both
  python3 tools/gen_options.py --check   # exit 1 if either is stale
"""
import difflib
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TABLE = os.path.join(ROOT, "lib", "core", "options.def")
INCLUDE = os.path.join(ROOT, "include", "zoq")
DOC = os.path.join(ROOT, "docs", "options.md")
PY = os.path.join(ROOT, "bindings", "python", "zoq", "_generated.py")

ROW = re.compile(r"^ZOQ__OPT_(INT|REAL)\((\w+), (\w+), (.*)\)$", re.M)
ENUM = re.compile(r"typedef enum (zoq_\w+) \{(.*?)\} (zoq_\w+_t);", re.S)
MEMBER = re.compile(r"\b(ZOQ_\w+) = (-?(?:0x)?[0-9a-fA-F]+)")
DEFINE = re.compile(r"^#define (ZOQ_(?:PARAM|PEFT)_\w+) (0x[0-9a-fA-F]+|\d+)u", re.M)
# the enums that reach Python: (type, prefix their names drop, Python name)
PY_ENUMS = [("zoq_dtype_t", "ZOQ_", "DTYPES"), ("zoq_device_t", "ZOQ_DEVICE_", "DEVICES"),
            ("zoq_st_dtype_t", "ZOQ_ST_", "ST_DTYPES"), ("zoq_qformat_t", "ZOQ_QFORMAT_", "QFORMATS"),
            ("zoq_pref_loss_t", "ZOQ_LOSS_", "PREF_LOSSES"),
            ("zoq_rotation_prop_t", "ZOQ_ROT_", "ROTATION_PROPS"),
            ("zoq_mde_design_t", "ZOQ_MDE_", "MDE_DESIGNS")]


def headers():
    return "".join(open(os.path.join(INCLUDE, f)).read() for f in sorted(os.listdir(INCLUDE)))


def enums(text):
    """{type name: [(constant, value)]} of every typedef'd enum."""
    out = {}
    for _, body, name in ENUM.findall(text):
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        out[name] = [(c, int(v, 0)) for c, v in MEMBER.findall(body)]
    return out


def constants(text):
    """Every enum constant and numeric #define of the headers, by name."""
    out = {c: v for members in enums(text).values() for c, v in members}
    out.update({c: int(v, 0) for c, v in DEFINE.findall(text)})
    return out


def option_comments(text):
    """{key constant: (value, meaning)} from enum zoq_opt's comments; the
    meaning is the comment less its leading type."""
    body = re.search(r"typedef enum zoq_opt \{(.*?)\} zoq_opt_t;", text, re.S).group(1)
    out = {}
    for m in re.finditer(r"(ZOQ_OPT_\w+) = (\d+),?\s*/\*(.*?)\*/", body, re.S):
        meaning = re.sub(r"\s+", " ", m.group(3)).strip()
        meaning = re.sub(r"^(int|double): ", "", meaning)
        out[m.group(1)] = (int(m.group(2)), meaning)
    return out


def table(text):
    """The rows of options.def, with their key value and meaning."""
    consts = constants(text)
    consts["ZOQ__LOZO_MAX_RANK"] = int(re.search(
        r"#define ZOQ__LOZO_MAX_RANK (\d+)",
        open(os.path.join(ROOT, "lib", "rng", "lowrank.h")).read()).group(1))
    comments = option_comments(text)
    enum_of = {}
    for name, members in enums(text).items():
        for c, _ in members:
            enum_of[c] = name
    rows = []
    for kind, key, name, args in ROW.findall(open(TABLE).read()):
        args = [a.strip() for a in args.split(",")]
        value, meaning = comments["ZOQ_OPT_" + key]
        row = {"name": name, "key": value, "meaning": meaning,
               "type": "int" if kind == "INT" else "double", "enum": None}
        if kind == "INT":
            lo, hi, default = args
            row["enum"] = enum_of.get(lo)
            row["bounds"] = (num(lo, consts), False, num(hi, consts), False)
        else:
            lo, lo_open, hi, hi_open, default = args
            row["bounds"] = (num(lo, consts), lo_open == "1", num(hi, consts), hi_open == "1")
        row["default"] = num(default, consts)
        rows.append(row)
    return rows


def num(token, consts):
    if token in consts:
        return consts[token]
    if token == "INFINITY":
        return float("inf")
    if token == "INT64_MIN":
        return -2 ** 63
    if token == "INT64_MAX":
        return 2 ** 63 - 1
    return float(token) if re.search(r"[.eE]", token) else int(token)


def enum_names(members, prefix):
    return tuple(c[len(prefix):].lower() for c, _ in sorted(members, key=lambda m: m[1]))


def option_enums(text, rows):
    """{option name: its values' names in value order} for enum-valued options."""
    all_enums = enums(text)
    out = {}
    for r in rows:
        if r["enum"]:
            members = all_enums[r["enum"]]
            prefix = os.path.commonprefix([c for c, _ in members])
            out[r["name"]] = enum_names(members, prefix[:prefix.rindex("_") + 1])
    return out


def fmt(x):
    if isinstance(x, float):
        return "none" if x == float("inf") else "%g" % x
    return {-2 ** 63: "-2^63", 2 ** 63 - 1: "2^63-1"}.get(x, str(x))


def render_doc(rows, opt_enums):
    out = ["# Options", "",
           "Every option of `zoq_set_int` / `zoq_set_double` (names for `zoq_opt_find`). "
           "Generated by `tools/gen_options.py` from the option table (`lib/core/options.def`, "
           "where each option's type, range and default are written once) and the comments of "
           "`include/zoq/options.h`; `make check` fails when this page is stale. A new "
           "context holds the defaults; `zoq_state_load` replaces every option with the file's. "
           "What the options do: [guide.md](guide.md), [algorithms.md](algorithms.md), "
           "[tuning.md](tuning.md).", "",
           "| key | name | type | range | default | meaning |",
           "| ---: | --- | --- | --- | --- | --- |"]
    for r in rows:
        lo, lo_open, hi, hi_open = r["bounds"]
        rng = "%s%s, %s%s" % ("(" if lo_open else "[", fmt(lo), fmt(hi),
                              ")" if hi_open or hi == float("inf") else "]")
        default = fmt(r["default"])
        if r["name"] in opt_enums:
            names = opt_enums[r["name"]]
            rng = " \\| ".join("%d %s" % (i, n) for i, n in enumerate(names))
            default = "%s (%s)" % (default, names[r["default"]])
        out.append("| %d | `%s` | %s | %s | %s | %s |" % (
            r["key"], r["name"], r["type"], rng, default, r["meaning"].replace("|", "\\|")))
    return "\n".join(out) + "\n"


def render_py(text, rows, opt_enums):
    all_enums = enums(text)
    consts = constants(text)
    lines = ['"""Generated by tools/gen_options.py from lib/core/options.def and',
             'include/zoq/*.h: do not edit (`make check` fails when it is stale)."""', "",
             "#: Every option: {name: (key, 'int' or 'double', default)}.", "OPTIONS = {"]
    for r in rows:
        lines.append("    %r: (%d, %r, %r)," % (r["name"], r["key"], r["type"], r["default"]))
    lines += ["}", "", "#: Names accepted for enum-valued options, in value order.", "ENUMS = {"]
    for name, names in opt_enums.items():
        lines.append("    %r: %r," % (name, names))
    lines += ["}", ""]
    for typ, prefix, const in PY_ENUMS:
        members = sorted(all_enums[typ], key=lambda m: m[1])
        lines += ["#: %s: {name: value}." % typ, "%s = {%s}" % (const, ", ".join(
            "%r: %d" % (c[len(prefix):].lower(), v) for c, v in members)), ""]
    lines.append("#: Flag bits (ZOQ_PARAM_*, ZOQ_PEFT_*).")
    for c in sorted(k for k in consts if re.match(r"ZOQ_(PARAM|PEFT)_", k)):
        if c in dict(DEFINE.findall(text)):
            lines.append("%s = 0x%x" % (c[len("ZOQ_"):], consts[c]))
    lines += ["", "#: Defaults of the C API's #defines (ZOQ_*_DEFAULT)."]
    for c, v in re.findall(r"^#define ZOQ_(\w+_DEFAULT) ([0-9.]+)", text, re.M):
        lines.append("%s = %s" % (c, v))
    return "\n".join(lines) + "\n"


def main():
    text = headers()
    rows = table(text)
    opt_enums = option_enums(text, rows)
    outputs = [(DOC, render_doc(rows, opt_enums)), (PY, render_py(text, rows, opt_enums))]
    stale = 0
    for path, new in outputs:
        old = open(path).read() if os.path.exists(path) else ""
        rel = os.path.relpath(path, ROOT)
        if "--check" in sys.argv[1:]:
            if old != new:
                sys.stdout.writelines(difflib.unified_diff(old.splitlines(True),
                                                           new.splitlines(True), rel, "generated"))
                print("%s is stale: run python3 tools/gen_options.py" % rel)
                stale = 1
        elif old != new:
            with open(path, "w") as f:
                f.write(new)
    return stale


if __name__ == "__main__":
    sys.exit(main())
