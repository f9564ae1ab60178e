"""CLI: ``python -m r1omni.data.synth --out DIR --per-class N --seed S [--labels dfew|mafw] [--workers K]
[--voice numpy|espeak] [--render drawn|oracle] [--no-perception] [--perception-clips N]``; ``espeak`` needs espeak-ng on
PATH (``apt-get install espeak-ng``)."""

from __future__ import annotations

import argparse
import time

from r1omni.data.synth.build import DEFAULT_PER_CLASS, SYNTH_LABEL_SETS, generate
from r1omni.data.synth.clip import RENDERS, VOICES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m r1omni.data.synth", description=__doc__)
    parser.add_argument("--out", required=True, help="output directory (clips/ and <split>.jsonl)")
    parser.add_argument(
        "--per-class",
        type=int,
        default=DEFAULT_PER_CLASS,
        help=f"training clips per label (default {DEFAULT_PER_CLASS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole set (default 0)")
    parser.add_argument("--labels", choices=SYNTH_LABEL_SETS, default="dfew", help="label set")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument(
        "--voice",
        choices=VOICES,
        default="numpy",
        help="numpy (default): synthetic voice; espeak: espeak-ng speaks the subtitle "
        "(needs espeak-ng on PATH: apt-get install espeak-ng)",
    )
    parser.add_argument(
        "--render",
        choices=RENDERS,
        default="drawn",
        help="drawn (default): the face; oracle: each frame shows the clip's true face and "
        "voice parameters as flat fields (a diagnostic; same records and audio)",
    )
    parser.add_argument(
        "--no-perception", action="store_true", help="do not write the emotion-free perception split (perception.jsonl)"
    )
    parser.add_argument(
        "--perception-clips",
        type=int,
        default=None,
        help="size of the perception split (default 20 per --per-class: 2,000 at 100)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    paths = generate(
        args.out,
        per_class=args.per_class,
        seed=args.seed,
        labels=args.labels,
        workers=args.workers,
        voice=args.voice,
        render=args.render,
        perception=not args.no_perception,
        perception_clips=args.perception_clips,
    )
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
