"""Shared command line of the known-answer generators: write the generated
header, or with --check exit 1 when the committed one differs."""
import argparse
import os
import sys


def main(doc, out, render):
    """doc: the generator's docstring; out: default output path; render():
    the header text. Returns the process exit status."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory; exit 1 if %s differs" % os.path.relpath(out))
    ap.add_argument("--out", default=out)
    args = ap.parse_args()
    text = render()
    script = os.path.relpath(os.path.abspath(sys.argv[0]))
    if args.check:
        try:
            with open(args.out) as fh:
                old = fh.read()
        except OSError:
            old = None
        if old != text:
            sys.stderr.write("%s is stale: run %s\n" % (args.out, script))
            return 1
        print("%s is up to date" % args.out)
        return 0
    with open(args.out, "w") as fh:
        fh.write(text)
    print("wrote %s" % args.out)
    return 0
