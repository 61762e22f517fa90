"""The dependency direction of SPEC §2, checked on the source: the pure engines import no Django and
nothing from the Django side of reviewapp, and statuses are assigned only in workflow.py."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE_PACKAGES = [ROOT / "reviewapp" / "flagging", ROOT / "generation"]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE_PACKAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_packages_import_no_django_and_nothing_from_reviewapp(package):
    offenders = []
    for path in package.rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            inside_flagging = name == "reviewapp.flagging" or name.startswith("reviewapp.flagging.")
            if top == "django" or (top == "reviewapp" and not inside_flagging):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
            if package.name == "generation" and top == "reviewapp":
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


@pytest.mark.parametrize("module", ["reviewapp.flagging", "generation"])
def test_pure_packages_load_without_django(module):
    """Importing them in a fresh interpreter must not pull Django in, directly or indirectly."""
    code = f"import sys, {module}; assert not [m for m in sys.modules if m.split('.')[0] == 'django']"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def _status_writes(tree: ast.AST) -> list[int]:
    """Lines that assign `.status` or pass `status=` to update()/create()/update_or_create()."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [node.lineno for t in targets if isinstance(t, ast.Attribute) and t.attr == "status"]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"update", "create", "update_or_create", "get_or_create"}
        ):
            lines += [node.lineno for kw in node.keywords if kw.arg == "status"]
    return lines


# Files that may write statuses, and why.
STATUS_WRITERS = {
    "reviewapp/workflow.py": "the transitions",
    # Bulk benchmark and query-count data, inserted straight into the tables (every row valid under
    # the constraints); it runs no transition and is never called by the app.
    "reviewapp/pagebench.py": "bulk data for make bench and the query-count tests",
}


def test_only_workflow_writes_statuses():
    offenders = []
    for path in (ROOT / "reviewapp").rglob("*.py"):
        if str(path.relative_to(ROOT)) in STATUS_WRITERS or "migrations" in path.parts:
            continue
        for line in _status_writes(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert not offenders, offenders


def test_the_status_check_catches_a_write():
    assert _status_writes(ast.parse("draft.status = 'approved'\nDraft.objects.update(status='x')")) == [1, 2]
