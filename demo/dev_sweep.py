"""Stage (a) of the demo on the dev split only, for one setting: how the
demo's ZO settings were chosen (docs/demo.md). The held-out rows are never
read. Seed S is the demo's --seed S (initialization 10S, minibatches and
directions 10S+1).

  python3 demo/dev_sweep.py queries=7 estimator=forward dist=rademacher eps=1e-2
  python3 demo/dev_sweep.py --backprop
  python3 demo/dev_sweep.py --steps 3000 --batch 256 ...   (default: the demo's 2000 x 128)

KEY=VALUE pairs override the demo's ZO_OPTIONS (numbers are parsed as
numbers). Prints each seed's dev accuracy and the mean.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits as D  # noqa: E402  (sets the BLAS environment before numpy loads)
import numpy as np  # noqa: E402


def value(text):
    try:
        return float(text) if any(c in text for c in ".e") else int(text)
    except ValueError:
        return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("options", nargs="*", help="KEY=VALUE overriding ZO_OPTIONS")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=D.BATCH)
    ap.add_argument("--backprop", action="store_true", help="the first-order baseline instead")
    args = ap.parse_args()
    options = dict(D.ZO_OPTIONS)
    options.update((k, value(v)) for k, v in (o.split("=", 1) for o in args.options))
    x_tr, y_tr, x_dev, y_dev = D.load_digits(dev=True)
    D.BATCH = args.batch
    accs = []
    for s in (int(t) for t in args.seeds.split(",")):
        mlp = D.MLP(seed=10 * s)
        t0 = time.process_time()
        if args.backprop:
            D.first_order(mlp, x_tr, y_tr, 500, seed=10 * s + 1)
        else:
            D.zo_train("dev sweep", mlp.params(), lambda idx: D.xent(mlp(x_tr[idx]), y_tr[idx]),
                       len(y_tr), args.steps, seed=10 * s + 1, **options)
        logits = mlp(x_dev)
        accs.append(D.accuracy(logits, y_dev))
        print("seed %d: dev accuracy %.2f%%, NLL %.3f, %.1f s CPU"
              % (s, 100 * accs[-1], D.xent(logits, y_dev), time.process_time() - t0))
    what = "backprop" if args.backprop else " ".join(
        "%s=%s" % kv for kv in sorted(options.items()))
    print("mean dev accuracy %.2f%% over seeds %s (%s; %d steps of %d)"
          % (100 * np.mean(accs), args.seeds, what, 500 if args.backprop else args.steps,
             args.batch))


if __name__ == "__main__":
    main()
