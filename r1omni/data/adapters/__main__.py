"""``python -m r1omni.data.adapters {dfew,mafw,ravdess,emer} --root DIR --out DIR [options]``.

Each adapter's ``Options`` fields become ``--flags`` (``clips_dir`` -> ``--clips-dir``; booleans
take ``true``/``false``). Prints one line per manifest written, and what was skipped.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import sys

from r1omni.data.adapters import ADAPTERS, AdapterError, build_manifests


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (for ``--help``)."""
    docs, body = {}, ast.parse(inspect.getsource(cls)).body[0].body
    for node, after in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m r1omni.data.adapters", description=__doc__.splitlines()[0])
    subs = top.add_subparsers(dest="adapter", required=True)
    for name, module in ADAPTERS.items():
        sub = subs.add_parser(
            name,
            help=module.__doc__.splitlines()[0],
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--root", required=True, help="the folder you downloaded and unpacked")
        sub.add_argument("--out", required=True, help="where to write the <split>.jsonl manifests")
        sub.add_argument("--check-media", action="store_true", help="decode every clip (slow, thorough)")
        sub.add_argument(
            "--skip-missing",
            action="store_true",
            help="leave out annotated clips that are not on disk (listed) instead of failing",
        )
        docs = field_docs(module.Options)
        for field in dataclasses.fields(module.Options):
            kind = _bool if isinstance(field.default, bool) else type(field.default)
            sub.add_argument(
                f"--{field.name.replace('_', '-')}",
                dest=field.name,
                type=kind,
                default=field.default,
                help=f"{docs.get(field.name, '')} (default: {field.default!r})",
            )
    return top


def main(argv: list[str] | None = None) -> int:
    args = vars(parser().parse_args(argv))
    name, root, out = args.pop("adapter"), args.pop("root"), args.pop("out")
    check_media, skip_missing = args.pop("check_media"), args.pop("skip_missing")
    try:
        result = build_manifests(name, root, out, check_media=check_media, skip_missing=skip_missing, **args)
    except (AdapterError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for split, path in result.manifests.items():
        print(f"{split}: {result.counts[split]} clips -> {path}")
    if result.skipped:
        print(f"skipped {len(result.skipped)}:")
        for line in result.skipped[:20]:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
