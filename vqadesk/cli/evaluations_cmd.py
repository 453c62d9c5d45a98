"""``vqadesk evaluations list|show|delete|report|export``: the evaluations kept in the user data folder.

    vqadesk evaluations list [--json]
    vqadesk evaluations show EVAL [--json]
    vqadesk evaluations delete EVAL... [--yes]
    vqadesk evaluations report EVAL [--out REPORT.html] [--mistakes N]
    vqadesk evaluations export EVAL [--out ROWS.csv] [--wrong]
    vqadesk evaluations run --model M --data DIR --split S [--subset N --seed S] ...  (evaluations_run.py)

``EVAL`` is an evaluation folder's path, its name under ``<user data>/evaluations``, or the
start of one name (``20261206-0504``). ``show`` prints the stored metrics as ``vqadesk
evaluate`` does (``--json``: the manifest and ``metrics.json``); ``report`` writes the HTML
report, ``export`` the rows as CSV (default: ``<name>.html`` / ``<name>.csv`` in the current
folder). ``delete`` asks first unless ``--yes``. Further actions (``run``) register themselves
through ``ACTION_MODULES``. docs/evaluate.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from vqadesk.cli.options import add_json_option, confirmed, missing_action, positive_int
from vqadesk.errors import EXIT_ERROR, EXIT_OK, VqadeskError
from vqadesk.text.counts import plural

# Modules adding an action to the group with ``register(actions)`` (e.g. ``run``, eval-run's).
ACTION_MODULES: tuple[str, ...] = ("vqadesk.cli.evaluations_run",)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluations", help="list, show, delete, report and export the evaluations kept by vqadesk",
        description="Evaluations of a model on a split, kept in vqadesk's user data folder (the Evaluate tab's "
        "results list). EVAL is a folder, its name, or the start of its name.",
    )
    parser.set_defaults(func=lambda args: missing_action(parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    listing = actions.add_parser("list", help="every evaluation, newest first")
    add_json_option(listing)
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", help="one evaluation's model, split and metrics")
    show.add_argument("evaluation", metavar="EVAL")
    add_json_option(show, help="print the manifest and the metrics as one JSON document")
    show.set_defaults(func=run_show)

    delete = actions.add_parser("delete", help="delete evaluations (asks first)")
    delete.add_argument("evaluations", metavar="EVAL", nargs="+")
    delete.add_argument("--yes", action="store_true", help="do not ask before deleting")
    delete.set_defaults(func=run_delete)

    report = actions.add_parser("report", help="write a self-contained HTML report")
    report.add_argument("evaluation", metavar="EVAL")
    report.add_argument("--out", metavar="REPORT.html", help="where to write it (default: ./<name>.html)")
    report.add_argument("--mistakes", type=positive_int, default=24, metavar="N",
                        help="how many mistakes to show, most confident first (default: 24)")
    report.set_defaults(func=run_report)

    export = actions.add_parser("export", help="write the per-question (per-image) rows as CSV")
    export.add_argument("evaluation", metavar="EVAL")
    export.add_argument("--out", metavar="ROWS.csv", help="where to write it (default: ./<name>.csv)")
    export.add_argument("--wrong", action="store_true", help="only the questions not fully right (VQA)")
    export.set_defaults(func=run_export)

    for name in ACTION_MODULES:
        importlib.import_module(name).register(actions)


def find_evaluation(text: str) -> Path:
    """``text`` as a folder, a name under the evaluations folder, or the unique start of one."""
    from vqadesk.engine.torch_free.evaluations import PARTIAL_SUFFIX, evaluations_root

    path = Path(text)
    if path.is_dir():
        return path
    root = evaluations_root()
    if (root / text).is_dir() and "/" not in text:
        return root / text
    matches = sorted(child for child in root.iterdir()
                     if child.is_dir() and child.name.startswith(text) and not child.name.startswith(".")
                     and not child.name.endswith(PARTIAL_SUFFIX)) if text and "/" not in text else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(match.name for match in matches[:3]) + (" ..." if len(matches) > 3 else "")
        raise VqadeskError(f"{text!r} names {plural(len(matches), 'evaluation')} ({names}): give more of the name")
    raise VqadeskError(f"{text}: no such evaluation folder, nor an evaluation named so in {root} "
                       "(vqadesk evaluations list shows them)")


def run_list(args: argparse.Namespace) -> int:
    from vqadesk.engine.torch_free.evaluations import evaluations_root, list_evaluations

    entries = list_evaluations()
    if args.json:
        print(json.dumps({"root": str(evaluations_root()), "evaluations": [
            {"name": e.path.name, "path": str(e.path), "damaged": e.problem}
            | ({} if e.manifest is None else {"manifest": e.manifest.to_dict()}) for e in entries]}))
        return EXIT_OK
    if not entries:
        print(f"No evaluations in {evaluations_root()}")
        return EXIT_OK
    for e in entries:
        m = e.manifest
        if m is None:
            print(f"{e.path.name}  damaged: {e.problem}")
            continue
        value = f"{m.headline_value:.2f}" if m.kind == "vqa" else f"{m.headline_value:.4f}"
        subset = "" if m.subset is None else f" (subset {m.subset.size:,}, seed {m.subset.seed})"
        print(f"{e.path.name}  {m.model_label} on {m.split}{subset}: {m.headline_name} {value}, "
              f"{plural(m.count, 'question' if m.kind == 'vqa' else 'image')}")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    from vqadesk.cli.evaluation_views import format_stored_metrics
    from vqadesk.engine.torch_free.evaluations import open_evaluation

    evaluation = open_evaluation(find_evaluation(args.evaluation))
    if args.json:
        print(json.dumps({"manifest": evaluation.manifest.to_dict(), "metrics": evaluation.metrics}))
        return EXIT_OK
    print(format_stored_metrics(evaluation))
    return EXIT_OK


def run_delete(args: argparse.Namespace) -> int:
    from vqadesk.engine.torch_free.evaluations import delete_evaluation

    folders = [find_evaluation(text) for text in args.evaluations]
    what = folders[0].name if len(folders) == 1 else plural(len(folders), "evaluation")
    if not confirmed(args.yes, f"delete {what}"):
        print("vqadesk: nothing deleted")
        return EXIT_ERROR
    for folder in folders:
        delete_evaluation(folder)
        print(f"deleted {folder}")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from vqadesk.engine.torch_free.evaluations import open_evaluation
    from vqadesk.engine.torch_free.evaluations.report import write_html_report

    evaluation = open_evaluation(find_evaluation(args.evaluation))
    out = Path(args.out or f"{evaluation.path.name}.html")
    write_html_report(evaluation, out, mistakes=args.mistakes)
    print(f"report written to {out}")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    import numpy as np

    from vqadesk.engine.torch_free.evaluations import open_evaluation
    from vqadesk.engine.torch_free.evaluations.export import write_rows_csv
    from vqadesk.metrics.analysis import RIGHT

    evaluation = open_evaluation(find_evaluation(args.evaluation))
    out = Path(args.out or f"{evaluation.path.name}.csv")
    if args.wrong and evaluation.kind != "vqa":
        raise VqadeskError("--wrong is for VQA evaluations (captions have no right or wrong: sort by CIDEr-D)")
    rows = None
    if args.wrong:
        everything = evaluation.rows
        rows = [everything[int(i)] for i in np.flatnonzero(everything.column("accuracy") < RIGHT)]
    count = write_rows_csv(evaluation, out, rows)
    print(f"{plural(count, 'row')} written to {out}")
    return EXIT_OK
