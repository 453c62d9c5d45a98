"""``vqadesk models list|download|remove``: the models vqadesk can run, and getting pretrained ones.

    vqadesk models list [--json]
    vqadesk models download hf:ORG/NAME[@REVISION] [--yes]
    vqadesk models remove hf:ORG/NAME[@REVISION] [--yes]

``list`` shows the bundled and the user's own models, the pretrained models in the Hugging Face
cache (with their size on disk) and the catalogue of recommended ones (download size, licence,
whether downloaded). ``download`` says what it will fetch and asks before it starts (``--yes``
skips the question; without a terminal to ask on, ``--yes`` is required); it shows a progress
bar on stderr, and Ctrl+C stops it with the partial file kept: the same command resumes.
``remove`` frees the disk space again. Nothing is downloaded by any other command.
"""

from __future__ import annotations

import argparse
import json
import sys

from vqadesk.cli.options import add_json_option, confirmed, missing_action
from vqadesk.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from vqadesk.text.counts import plural


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list models; download or remove pretrained models from the Hugging Face Hub",
        description="The models vqadesk can run: bundled, your own, and pretrained ones from the "
        "Hugging Face Hub (hf:ORG/NAME), which are downloaded only by 'vqadesk models download'.",
    )
    parser.set_defaults(func=lambda args: missing_action(parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    listing = actions.add_parser("list", help="bundled, own and downloaded models, and the catalogue")
    add_json_option(listing)
    listing.set_defaults(func=run_list)

    download = actions.add_parser(
        "download", help="download a pretrained model into the Hugging Face cache",
        description="Download the files a pretrained model needs (config, processor, tokenizer, "
        "safetensors weights) into the Hugging Face cache. Safe to interrupt: run it again to resume.",
    )
    download.add_argument("reference", metavar="hf:ORG/NAME[@REVISION]", help="the model on the Hub")
    download.add_argument("--yes", action="store_true", help="do not ask before downloading")
    download.set_defaults(func=run_download)

    remove = actions.add_parser("remove", help="delete a downloaded model from the Hugging Face cache")
    remove.add_argument(
        "reference", metavar="hf:ORG/NAME[@REVISION]", help="the model (every revision, or the one named)"
    )
    remove.add_argument("--yes", action="store_true", help="do not ask before deleting")
    remove.set_defaults(func=run_remove)


# -- list -----------------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    from vqadesk.engine.torch_free.hub.cache import downloaded_models
    from vqadesk.engine.torch_free.hub.catalogue import CATALOGUE
    from vqadesk.engine.torch_free.hub.references import cache_dir
    from vqadesk.engine.torch_free.model_registry import list_models

    own = list_models()
    downloaded = downloaded_models()
    have = {(model.repo_id.casefold(), ref) for model in downloaded for ref in (*model.refs, model.commit)}
    catalogue = [(entry, (entry.repo_id.casefold(), entry.revision) in have) for entry in CATALOGUE]
    if args.json:
        print(json.dumps({
            "models": [
                {"name": m.name, "kind": m.kind.value, "source": m.source, "path": str(m.path),
                 "description": m.description} for m in own
            ],
            "hub_cache": str(cache_dir()),
            "downloaded": [
                {"reference": m.reference.text, "repo_id": m.repo_id, "commit": m.commit, "refs": list(m.refs),
                 "architecture": m.architecture, "kind": m.kind.value, "size_on_disk": m.size_on_disk,
                 "folder": str(m.folder)} for m in downloaded
            ],
            "catalogue": [
                {"reference": e.reference_text, "repo_id": e.repo_id, "revision": e.revision, "kind": e.kind.value,
                 "architecture": e.architecture, "title": e.title, "licence": e.licence,
                 "download_bytes": e.download_bytes, "ram_bytes": e.ram_bytes, "summary": e.summary,
                 "recommended": e.recommended, "downloaded": done} for e, done in catalogue
            ],
        }))
        return EXIT_OK
    _print_list(own, downloaded, catalogue, cache_dir())
    return EXIT_OK


def _print_list(own, downloaded, catalogue, hub_cache) -> None:
    from vqadesk.engine.torch_free.hub.sizes import format_bytes

    print("Bundled and your own models (--model NAME):")
    for model in own:
        print(f"  {model.name:<28} {model.kind.value:<11} {model.source:<8} {model.description}")
    if not own:
        print("  (none)")
    print(f"\nDownloaded from the Hugging Face Hub ({hub_cache}):")
    for model in downloaded:
        print(f"  {model.reference.text:<46} {model.kind.value:<11} {format_bytes(model.size_on_disk):>9}  "
              f"{model.architecture}")
    if not downloaded:
        print("  (none)")
    print("\nCatalogue (vqadesk models download REFERENCE):")
    for entry, done in catalogue:
        state = "downloaded" if done else format_bytes(entry.download_bytes)
        star = " (recommended)" if entry.recommended else ""
        print(f"  {entry.reference_text:<46} {entry.kind.value:<11} {state:>10}  {entry.licence:<13} "
              f"{entry.title}{star}")


# -- download -------------------------------------------------------------------------------------


def run_download(args: argparse.Namespace) -> int:
    from vqadesk.engine.torch_free.hub.downloads import check_free_space, plan_download
    from vqadesk.engine.torch_free.hub.sizes import format_bytes

    plan = plan_download(args.reference)
    name = plan.reference.text
    print(f"{name}: revision {plan.revision} (commit {plan.commit[:12]}), {plural(len(plan.files), 'file')}, "
          f"{format_bytes(plan.total_bytes)}")
    if plan.complete:
        print("  every file is already in the Hugging Face cache")
    else:
        if plan.cached_bytes:
            print(f"  {format_bytes(plan.cached_bytes)} already in the cache, {format_bytes(plan.remaining_bytes)} "
                  "to download")
        print(f"  into {plan.cache_folder} ({format_bytes(plan.free_bytes)} free)")
        check_free_space(plan)
        if not confirmed(args.yes, f"download {name} ({format_bytes(plan.remaining_bytes)})"):
            print("vqadesk: nothing downloaded", file=sys.stderr)
            return EXIT_ERROR
    return _download_with_bar(plan)


def _download_with_bar(plan) -> int:
    from tqdm import tqdm

    from vqadesk.engine.torch_free.hub.downloads import download
    from vqadesk.engine.torch_free.hub.sizes import format_bytes

    done = plan.cached_bytes
    bar = tqdm(total=plan.total_bytes, initial=done, unit="B", unit_scale=True, file=sys.stderr,
               disable=plan.complete, dynamic_ncols=True)
    events = download(plan)
    try:
        for event in events:
            bar.set_description(event.file, refresh=False)
            bar.update(event.done - done)
            done = event.done
    except KeyboardInterrupt:
        bar.close()
        print(f"vqadesk: interrupted; {format_bytes(done)} of {format_bytes(plan.total_bytes)} kept: "
              "run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        events.close()  # a stopped download closes its partial file (kept) and its lock now
        bar.close()
    print(f"{plan.reference.text} is ready: --model {plan.reference.text}")
    return EXIT_OK


# -- remove ---------------------------------------------------------------------------------------


def run_remove(args: argparse.Namespace) -> int:
    from vqadesk.engine.torch_free.hub.cache import removal_bytes, remove
    from vqadesk.engine.torch_free.hub.downloads import as_reference
    from vqadesk.engine.torch_free.hub.sizes import format_bytes

    reference = as_reference(args.reference)
    size = removal_bytes(reference)
    if not confirmed(args.yes, f"delete {reference.text} ({format_bytes(size)}) from the Hugging Face cache"):
        print("vqadesk: nothing removed", file=sys.stderr)
        return EXIT_ERROR
    removal = remove(reference)
    print(f"{reference.text} removed: {format_bytes(removal.freed_bytes)} freed")
    return EXIT_OK
