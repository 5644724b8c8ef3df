"""Whether an input is a QRDA Category III document, decided without importing the reader (`qrda.py`):
`rulesctl score` asks this of every submission file."""

from __future__ import annotations

from pathlib import Path


def looks_like_xml(text: str | bytes) -> bool:
    """An XML document, judged by its first non-space character (after a byte-order mark)."""
    head = text[:4096]
    if isinstance(head, bytes):
        for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
            if head.startswith(bom):
                head = head[len(bom):].decode(codec, errors="ignore")
                break
        else:
            head = head.decode("latin-1")
    return head.lstrip("\ufeff \t\r\n").startswith("<")


def is_qrda_file(path: str | Path) -> bool:
    """A submission file to read as QRDA III: named *.xml, or whose first non-space character is `<`."""
    p = Path(path)
    if p.suffix.lower() == ".xml":
        return True
    try:
        with p.open("rb") as fh:
            return looks_like_xml(fh.read(4096))
    except OSError:
        return False
