"""Derive the WordNet 3.0 hypernym graph above the 1000 ImageNet classes.

ImageNet's class ids are WordNet 3.0 noun synsets: ``n02123159`` is the synset at byte offset
02123159 of WordNet 3.0's ``data.noun``. This script reads that file (Debian's ``wordnet-base``
package installs it in ``/usr/share/wordnet``), follows every hypernym pointer (``@``, and
``@i`` for instances) from each class up to ``entity``, and writes the synsets it met, each with
its first lemma and its direct hypernyms, to ``resources/wordnet_hypernyms.json`` with the
provenance (WordNet version, file and its SHA-256, the command). The licence text printed at the
top of ``data.noun`` goes to ``resources/WordNet-LICENSE.txt``.

Run from the repository root::

    python scripts/derive_wordnet_hypernyms.py --wordnet /usr/share/wordnet

The output is deterministic: running it again on the same files gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

HYPERNYM_POINTERS = ("@", "@i")
WORDNET_VERSION = "3.0"


def parse_data_noun(path: Path) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """Every noun synset as ``{offset: (first lemma, [hypernym offsets])}``, and the licence
    lines of the file's header (the lines that start with two spaces and a line number)."""
    synsets: dict[str, tuple[str, list[str]]] = {}
    licence: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("  "):
                number, _, text = line.strip("\n").lstrip().partition(" ")
                if number.isdigit():
                    licence.append(text.rstrip())
                continue
            fields = line.split(" | ", 1)[0].split()
            offset, word_count = fields[0], int(fields[3], 16)
            lemma = fields[4].replace("_", " ")
            position = 4 + 2 * word_count
            pointer_count = int(fields[position])
            hypernyms = []
            for i in range(pointer_count):
                symbol, target, pos = fields[position + 1 + 4 * i: position + 4 + 4 * i]
                if symbol in HYPERNYM_POINTERS and pos == "n":
                    hypernyms.append(target)
            synsets[offset] = (lemma, hypernyms)
    return synsets, licence


def read_class_ids(path: Path) -> list[str]:
    """The ``nXXXXXXXX`` ids of a labels file (``wnid<TAB>name`` or ``wnid name, ...`` lines)."""
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        first = line.replace("\t", " ").split(" ", 1)[0]
        if len(first) == 9 and first.startswith("n") and first[1:].isdigit():
            ids.append(first)
    return ids


def hypernym_graph(synsets: dict[str, tuple[str, list[str]]],
                   class_ids: list[str]) -> dict[str, dict[str, object]]:
    """The classes and all their ancestors: ``{"n...": {"name": ..., "hypernyms": [...]}}``."""
    graph: dict[str, dict[str, object]] = {}
    pending = [wnid[1:] for wnid in class_ids]
    while pending:
        offset = pending.pop()
        if f"n{offset}" in graph:
            continue
        if offset not in synsets:
            raise SystemExit(f"synset n{offset} is not in data.noun: is this WordNet 3.0?")
        name, hypernyms = synsets[offset]
        graph[f"n{offset}"] = {"name": name, "hypernyms": [f"n{h}" for h in hypernyms]}
        pending.extend(hypernyms)
    return dict(sorted(graph.items()))


def _dump(document: dict) -> str:
    """JSON with one synset a line: compact, and a re-derivation diffs line by line."""
    lines = ['{"provenance": ' + json.dumps(document["provenance"], ensure_ascii=False) + ",",
             ' "synsets": {']
    items = list(document["synsets"].items())
    for i, (wnid, entry) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"  {json.dumps(wnid)}: {json.dumps(entry, ensure_ascii=False)}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"),
                        help="the folder holding WordNet 3.0's data.noun")
    parser.add_argument("--classes", type=Path, default=Path("resources/imagenet_classes.txt"))
    parser.add_argument("--out", type=Path, default=Path("resources/wordnet_hypernyms.json"))
    parser.add_argument("--licence-out", type=Path, default=Path("resources/WordNet-LICENSE.txt"))
    args = parser.parse_args(argv)
    data_noun = args.wordnet / "data.noun"
    synsets, licence = parse_data_noun(data_noun)
    if not any(f"WordNet {WORDNET_VERSION} Copyright" in line for line in licence):
        print(f"{data_noun}: its header does not name WordNet {WORDNET_VERSION}",
              file=sys.stderr)
        return 1
    class_ids = read_class_ids(args.classes)
    graph = hypernym_graph(synsets, class_ids)
    document = {
        "provenance": {
            "source": f"WordNet {WORDNET_VERSION} (Princeton University), data.noun",
            "data_noun_sha256": hashlib.sha256(data_noun.read_bytes()).hexdigest(),
            "classes": f"{args.classes.as_posix()} ({len(class_ids)} classes)",
            "pointers": "hypernym (@) and instance hypernym (@i)",
            "command": "python scripts/derive_wordnet_hypernyms.py --wordnet /usr/share/wordnet",
            "licence": "WordNet 3.0 licence, resources/WordNet-LICENSE.txt",
        },
        "synsets": graph,
    }
    args.out.write_text(_dump(document), encoding="utf-8")
    args.licence_out.write_text("\n".join(licence).strip() + "\n", encoding="utf-8")
    print(f"{len(graph)} synsets above {len(class_ids)} classes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
