"""Seed files on disk: finding them, reading them without blocking, decoding them or naming why not.

A seed folder comes from elsewhere: it may hold a FIFO (``open()`` of one waits for a writer,
forever, while the index is locked), a device, a socket, or text saved as UTF-16 or Latin-1.
Each becomes a reason a person can act on instead of a hang or a vague "binary".
"""

from __future__ import annotations

import codecs
import os
import stat
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .text import encodable

# Jekyll's Markdown extensions (its markdown_ext: markdown, mkdown, mkdn, mkd, md), any case, and plain text
SEED_SUFFIXES = (".md", ".markdown", ".mkdown", ".mkdn", ".mkd", ".txt")
SNIFF_BYTES = 8192  # how much of a file the encoding guesses look at
_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "UTF-32 LE", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "UTF-32 BE", "utf-32-be"),
    (codecs.BOM_UTF16_LE, "UTF-16 LE", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "UTF-16 BE", "utf-16-be"),
)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_ASCII_LETTERS = string.ascii_letters.encode()
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\r\f\v\x1b")


class SeedFileError(Exception):
    """A seed file that cannot be indexed; the message says why, for a person to act on."""


@dataclass(frozen=True)
class SeedProblem:
    """A file that was skipped, with the reason."""

    path: str
    reason: str


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symbolic link"),
    ):
        if test(mode):
            return name
    return "unknown file type"


def not_regular(mode: int) -> str:
    """The reason for skipping a file of this mode."""
    return f"not a regular file ({file_kind(mode)})"


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; SeedFileError otherwise. Never blocks.

    stat() first, so a FIFO or device is never even opened; O_NONBLOCK and fstat() because the
    file may be swapped for a FIFO between the two calls (open() of a FIFO then returns at once).
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise SeedFileError(not_regular(mode))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise SeedFileError(f"cannot read file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SeedFileError(not_regular(st.st_mode))
        if st.st_size > limit:
            raise SeedFileError(f"file is {st.st_size:,} bytes; the limit is {limit:,}")
        chunks: list[bytes] = []
        remaining = limit + 1  # one byte more tells a file that grew past the limit meanwhile
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise SeedFileError(f"file grew past the limit of {limit:,} bytes while being read")
        return data
    except OSError as exc:
        raise SeedFileError(f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def discover(root: Path) -> tuple[list[str], list[SeedProblem]]:
    """Seed files below ``root`` as sorted POSIX relative paths, plus the ones that cannot be read.

    Skipped with a reason: links that point outside ``root``, anything that is not a regular file
    (a FIFO would block the reader forever, a device could stream without end), and folders that
    cannot be listed (their path ends with "/": ``unlisted_folders``).
    """
    root = root.resolve()
    base = str(root) + os.sep
    found: list[str] = []
    problems: list[SeedProblem] = []
    # os.scandir: the entry's type comes with the listing, so a regular file costs no extra
    # system call; this runs over every file on every update (20k files: 0.04 s)
    pending = [(str(root), "")]
    while pending:
        dirpath, prefix = pending.pop()
        try:
            with os.scandir(dirpath) as listing:
                entries = list(listing)
        except OSError as exc:
            if not prefix:
                raise  # the seed folder itself: the command says why and changes nothing
            # named, never passed over in silence: an update keeps what its files held
            problems.append(SeedProblem(prefix, f"{UNLISTED}: {exc.strerror or exc}"))
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()  # through links too, and links to directories are not walked
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    pending.append((entry.path, prefix + name + "/"))
                continue
            if not name.lower().endswith(SEED_SUFFIXES):
                continue
            reason = _unreadable_reason(entry, base) or _name_reason(prefix + name)
            if reason:
                problems.append(SeedProblem(prefix + name, reason))
            else:
                found.append(prefix + name)
    return sorted(found), sorted(problems, key=lambda p: p.path)


UNLISTED = "cannot list this folder, so its files keep the documents they had (a full build leaves them out)"


def unlisted_folders(problems: list[SeedProblem]) -> tuple[str, ...]:
    """The folders ``discover`` could not list, as path prefixes ("sub/")."""
    return tuple(p.path for p in problems if p.path.endswith("/"))


def _name_reason(path: str) -> str:
    """Why a file's path cannot name an item (bytes that are not UTF-8), or ''."""
    return "" if encodable(path) else "its name is not UTF-8: rename it (with UTF-8 characters) to index it"


def _unreadable_reason(entry: os.DirEntry, base: str) -> str:
    """Why a seed-named directory entry is not a file to read, or ''."""
    if entry.is_symlink():
        target = os.path.realpath(entry.path)
        if not target.startswith(base):
            return "symbolic link points outside the seed folder; not followed"
        try:
            mode = os.stat(target).st_mode
        except OSError as exc:
            return f"symbolic link does not point to a regular file ({exc.strerror or exc})"
        return "" if stat.S_ISREG(mode) else f"symbolic link whose target is {not_regular(mode)}"
    try:
        if entry.is_file(follow_symlinks=False):
            return ""
        return not_regular(entry.stat(follow_symlinks=False).st_mode)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"


def _looks_like_text(text: str) -> bool:
    """Whether decoded text is made of printable characters (a wrong guess gives many others)."""
    text = text.rstrip("\ufffd")  # the sample may end inside a character
    odd = sum(1 for ch in text if ch == "\ufffd" or not (ch.isprintable() or ch in "\t\n\r"))
    return bool(text) and odd <= len(text) * 0.02


def _wide_encoding(sample: bytes) -> str:
    """The UTF-16/32 encoding a sample without a byte-order mark reads as text in, or ''.

    Text in these encodings has zero bytes in fixed places: UTF-16 LE of Latin text in every
    odd byte, UTF-32 LE in the top two bytes of every four; the text test then confirms it.
    """
    n = len(sample) - len(sample) % 4
    if n < 4:
        return ""
    sample = sample[:n]
    zeros = [sample[k::4].count(0) / (n // 4) for k in range(4)]
    even, odd = (zeros[0] + zeros[2]) / 2, (zeros[1] + zeros[3]) / 2
    if zeros[2] > 0.9 and zeros[3] > 0.9 and zeros[0] < 0.5:
        name, codec = "UTF-32 LE", "utf-32-le"
    elif zeros[0] > 0.9 and zeros[1] > 0.9 and zeros[3] < 0.5:
        name, codec = "UTF-32 BE", "utf-32-be"
    elif odd > 0.3 and even < 0.1:
        name, codec = "UTF-16 LE", "utf-16-le"
    elif even > 0.3 and odd < 0.1:
        name, codec = "UTF-16 BE", "utf-16-be"
    else:
        return ""
    return name if _looks_like_text(sample.decode(codec, errors="replace")) else ""


def _legacy_guess(data: bytes) -> str:
    """'; looks like …' for text in a Western 8-bit encoding, else ''."""
    try:
        data.decode("cp1252")  # five bytes are undefined in Windows-1252: then it is something else
    except UnicodeDecodeError:
        return ""
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    letters = len(data) - len(data.translate(None, _ASCII_LETTERS))
    # accented letters among mostly ASCII ones; Cyrillic or Greek code pages are mostly high bytes
    return "; looks like Latin-1/Windows-1252" if high <= 0.3 * (letters + high) else ""


def decode_text(data: bytes) -> str:
    """The text of a seed file (UTF-8, with or without a BOM), or SeedFileError naming what it is."""
    for bom, name, codec in _BOMS:
        if data.startswith(bom):
            if _looks_like_text(data[len(bom) : SNIFF_BYTES].decode(codec, errors="replace")):
                raise SeedFileError(f"not UTF-8 ({name} with a byte-order mark; save the file as UTF-8)")
            break
    sample = data[:SNIFF_BYTES]
    if 0 in sample:
        wide = _wide_encoding(sample)
        if wide:
            raise SeedFileError(f"not UTF-8 (looks like {wide}; save the file as UTF-8)")
        raise SeedFileError("file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # utf-8-sig counts offsets after the BOM it removed
        offset = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
        if controls > len(sample) * 0.05:  # binary without zero bytes (text has none of these)
            raise SeedFileError("file is binary, not text") from None
        raise SeedFileError(
            f"not UTF-8 (invalid byte 0x{data[offset]:02x} at offset {offset}{_legacy_guess(data)};"
            " save the file as UTF-8)"
        ) from None


class SeedFolderEmpty(Exception):
    """An update that would drop documents the seed folder still has, or seems to: nothing was changed.

    No seed file at all where the index was built from some (a mistyped path, a mount not there), or a
    rebuild while a folder cannot be listed (it would leave that folder's files out).
    """


def refuse_to_drop(
    seeds_dir: Path,
    documents: int,
    indexed: Iterable[str] = (),
    listing: tuple[list[str], list[SeedProblem]] | None = None,
) -> None:
    """SeedFolderEmpty before a rebuild the folder as listed would empty, or cut.

    ``documents``: the live index's; ``indexed``: the files it was built from, so that a folder it
    cannot list refuses only when it held some of them; ``listing``: ``discover``'s, when made already.
    """
    paths, problems = listing if listing is not None else discover(seeds_dir)
    # only a folder that held indexed files ("lost+found" at a mount's root holds none)
    unlisted = tuple(f for f in unlisted_folders(problems) if any(rel.startswith(f) for rel in indexed))
    if documents and not paths and not problems:
        raise SeedFolderEmpty(
            f"{seeds_dir} holds no seed files: is it the right folder, and mounted? The index keeps its"
            f" {documents:,} documents; 'index --full' rebuilds it from the folder as it is"
        )
    if unlisted:
        raise SeedFolderEmpty(
            f"cannot list {', '.join(unlisted)} in {seeds_dir}, and this update must rebuild the index, which"
            " would leave its files out: the index is unchanged; let it be listed, or run 'index --full'"
        )
