"""``speechproc <verb> [args]``: dispatch to ``speechproc.bin.<verb>``; ``speechproc --help`` lists verbs."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import List, Optional

import speechproc.bin as _bin


def verbs() -> List[str]:
    """Names of all verb modules in :mod:`speechproc.bin`."""
    return sorted(m.name for m in pkgutil.iter_modules(_bin.__path__) if not m.name.startswith("_"))


def main(argv: Optional[List[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: speechproc <verb> [options]\n\nverbs:\n  " + "\n  ".join(verbs()))
        sys.exit(0 if argv else 2)
    verb = argv[0].replace("-", "_")
    if verb not in verbs():
        print(f"speechproc: unknown verb '{argv[0]}'; run 'speechproc --help' for the list", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(f"speechproc.bin.{verb}")
    sys.argv = [f"speechproc {verb}"] + argv[1:]
    from speechproc.utils import run_verb

    run_verb(module.main, argv[1:])


if __name__ == "__main__":
    main()
