"""The photos of a folder, listed lazily and always in the same order.

``iter_photos(root, recursive)`` lists one folder at a time with
``os.scandir`` and yields its photos sorted by name, then goes into its
subfolders (sorted too), so two runs over the same folder see the same
photos in the same order and memory holds one folder's names, not the
tree's: 100,000 photos cost what their largest folder costs.

A photo is a file with an image suffix (``vqadesk.data.coco_naming.PHOTO_SUFFIXES``)
whose name does not start with a dot. Its ``key`` is its path relative to
``root`` in POSIX form (``"2019/beach day.jpg"``): the same name in two
subfolders gives two keys. ``coco_id`` is the COCO image id its name carries
(``COCO_val2014_000000262148.jpg``), else None. Hidden files and folders,
and every file that is not a photo (the progress file, results, ``.txt``
sidecars), are skipped.

Symbolic links: a link to a folder is followed only when the folder it
resolves to lies inside ``root``, and every real folder is listed once, so
a link to a parent (a loop) or a second link to the same folder adds
nothing. A link to a file is followed wherever the file is: it neither
widens the walk nor loops, and folders of links into a photo collection are
a common way to make a dataset. Broken links are skipped. ``on_skip(key,
reason)`` hears about every link left out.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vqadesk.data.coco_naming import coco_id_from_name, is_photo_name
from vqadesk.errors import VqadeskError

SkipListener = Callable[[str, str], None]


@dataclass(frozen=True)
class Photo:
    """One photo of a job: ``key`` (its path relative to the job's root, POSIX), ``path``, ``coco_id``."""

    key: str
    path: Path
    coco_id: int | None = None


@dataclass(frozen=True)
class PhotoSurvey:
    """How many photos a listing holds, and how many of them carry a COCO id in their name."""

    photos: int
    coco_named: int


def iter_photos(root: str | os.PathLike[str], recursive: bool = False, *,
                on_skip: SkipListener | None = None) -> Iterator[Photo]:
    """The photos under ``root`` (its subfolders too when ``recursive``), lazily, in a repeatable order."""
    base = Path(root)
    for relative, name in _walk(base, recursive, on_skip):
        key = f"{relative}/{name}" if relative else name
        yield Photo(key=key, path=base / key, coco_id=coco_id_from_name(name))


def count_photos(root: str | os.PathLike[str], recursive: bool = False) -> int:
    """How many photos ``iter_photos`` yields, from names only (for a progress bar's total)."""
    return survey_photos(root, recursive).photos


def survey_photos(root: str | os.PathLike[str], recursive: bool = False) -> PhotoSurvey:
    """``count_photos`` and how many of those names carry a COCO id, in one listing."""
    photos = coco_named = 0
    for _, name in _walk(Path(root), recursive, None):
        photos += 1
        coco_named += coco_id_from_name(name) is not None
    return PhotoSurvey(photos, coco_named)


def check_photo_folder(root: str | os.PathLike[str], option: str = "--images") -> Path:
    """``root`` as a Path, or one line saying why it is not a folder of photos one can list."""
    path = Path(root)
    if not path.is_dir():
        problem = "does not exist" if not path.exists() else "is not a folder"
        raise VqadeskError(f"{path}: {problem} ({option} takes the folder of the photos)")
    if not os.access(path, os.R_OK | os.X_OK):
        raise VqadeskError(f"{path}: cannot be read (permission denied)")
    return path


def photos_from_files(paths: Iterable[str | os.PathLike[str]], root: str | os.PathLike[str] | None = None
                      ) -> Iterator[Photo]:
    """Photos for files picked one by one (a split, a selection): keyed relative to ``root`` when
    they lie inside it, else by their absolute POSIX path, so two files never share a key."""
    base = Path(root).absolute() if root is not None else None
    for raw in paths:
        path = Path(raw)
        absolute = path.absolute()
        key = absolute.as_posix()
        if base is not None and absolute.is_relative_to(base):
            key = absolute.relative_to(base).as_posix()
        yield Photo(key=key, path=path, coco_id=coco_id_from_name(path.name))


def _walk(root: Path, recursive: bool, on_skip: SkipListener | None) -> Iterator[tuple[str, str]]:
    """``(folder relative to root in POSIX form, file name)`` of every photo, folder by folder."""
    real_root = os.path.realpath(root)
    seen: set[tuple[int, int]] = set()  # (device, inode) of every folder listed: no loops, no repeats
    root_stat = os.stat(root)
    seen.add((root_stat.st_dev, root_stat.st_ino))
    pending: list[str] = [""]  # a stack of folders still to list, relative to root
    while pending:
        relative = pending.pop()
        folder = root / relative if relative else root
        files, folders = _list_folder(folder, relative, real_root, seen, recursive, on_skip)
        for name in files:
            yield relative, name
        # Reversed onto the stack, so subfolders are listed in sorted order, each one depth first.
        pending.extend(reversed([f"{relative}/{name}" if relative else name for name in folders]))


def _list_folder(folder: Path, relative: str, real_root: str, seen: set[tuple[int, int]], recursive: bool,
                 on_skip: SkipListener | None) -> tuple[list[str], list[str]]:
    """The sorted photo names and (when ``recursive``) the sorted subfolders to enter of one folder."""
    files: list[str] = []
    subfolders: list[tuple[bool, str, tuple[int, int]]] = []  # (is a link, name, (device, inode))
    try:
        entries = os.scandir(folder)
    except OSError as exc:
        if relative == "":
            raise VqadeskError(f"{folder}: cannot be listed ({exc.strerror or exc})") from None
        if on_skip is not None:
            on_skip(relative, f"folder cannot be listed ({exc.strerror or exc})")
        return [], []
    with entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            key = f"{relative}/{entry.name}" if relative else entry.name
            found = _kind(entry, real_root, key, on_skip)
            if found is None:
                continue
            is_link, info = found
            if info is None:
                if is_photo_name(entry.name):
                    files.append(entry.name)
            elif recursive:
                subfolders.append((is_link, entry.name, (info.st_dev, info.st_ino)))
    files.sort()
    # Real folders claim their inode before links do, so a link beside its target never wins.
    folders: list[str] = []
    for _is_link, name, identity in sorted(subfolders):
        if identity in seen:
            if on_skip is not None:
                key = f"{relative}/{name}" if relative else name
                on_skip(key, "a folder already listed (a link loop or a second way to it)")
            continue
        seen.add(identity)
        folders.append(name)
    folders.sort()
    return files, folders


def _kind(entry: os.DirEntry[str], real_root: str, key: str,
          on_skip: SkipListener | None) -> tuple[bool, os.stat_result | None] | None:
    """(is a link, None) for a file; (is a link, its stat) for a folder to walk; None for anything else
    (a broken link, a device, a link to a folder outside the root). A plain file costs no stat call."""
    try:
        if entry.is_file(follow_symlinks=False):
            return False, None
        is_link = entry.is_symlink()
        info = entry.stat(follow_symlinks=True)
    except OSError:
        if on_skip is not None:
            on_skip(key, "broken link" if _is_link(entry) else "cannot be read")
        return None
    if stat.S_ISREG(info.st_mode):
        return is_link, None
    if not stat.S_ISDIR(info.st_mode):
        return None
    if is_link and not _inside(os.path.realpath(entry.path), real_root):
        if on_skip is not None:
            on_skip(key, "link to a folder outside the photo folder")
        return None
    return is_link, info


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False
