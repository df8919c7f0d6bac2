"""Command-line verbs: ``python -m speechproc.bin.<verb>`` or ``speechproc <verb>``.

Each module is a thin argparse wrapper around library functions with ``get_parser()`` and
``main(argv=None)``.
"""
