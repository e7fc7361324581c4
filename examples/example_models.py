"""examples/example_models.py — examples/models.txt, the table of the example trainers, for the
Python scripts (tests/hf/check_export.py, tests/golden/make_golden.py, scripts/study/study.py).

    sys.path.insert(0, "<repository>/examples"); import example_models
    example_models.read()          # every row, in the table's order
    example_models.tagged("hf")    # the rows tagged hf

A row is a dict: trainer (<config>_<placement>), config, placement, source, tags (a set), params,
export (None where the cell is `-`) and label.
"""
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.txt")
COLUMNS = ("config", "placement", "source", "tags", "params", "export")


def read(path=PATH):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split(None, len(COLUMNS))
            if len(cells) != len(COLUMNS) + 1:
                raise SystemExit("%s:%d: not '%s label'" % (path, n, " ".join(COLUMNS)))
            row = {k: (None if v == "-" else v) for k, v in zip(COLUMNS, cells)}
            row["tags"] = set(row["tags"].split(",")) if row["tags"] else set()
            row["label"] = cells[-1].strip()
            row["trainer"] = "%s_%s" % (row["config"], row["placement"])
            rows.append(row)
    return rows


def tagged(tag, path=PATH):
    return [r for r in read(path) if tag in r["tags"]]
