"""``.dockerignore`` rules (``dwutil.dockerignore``) and the build-context digest.

The matcher tables follow moby's ``patternmatcher_test.go`` and
``ignorefile_test.go``; the walk tables follow docker-py's
``tests/unit/utils_build_test.py`` (``ExcludePathsTest``). Neighbours:
``controller.desired.hashing.tree_digest``; the end-to-end check against a real daemon
is ``tests/integration/test_dockerignore.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.desired.hashing import tree_digest
from dwutil import dockerignore
from dwutil.dockerignore import BadPattern, PatternMatcher, parse

# (pattern, path, excluded) — moby TestMatches / TestMatch, MatchesOrParentMatches semantics.
SINGLE = [
    ("**", "file", True), ("**/", "file", True), ("**", "dir/file", True),
    ("**/", "dir/file", True), ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True), ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True), ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True), ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True), ("**file", "dir/file", True), ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True), ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True), ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True), ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True), ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False), ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True), ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True), (".*", ".foo", True), (".*", "foo", False),
    ("abc.def", "abcdef", False), ("abc.def", "abc.def", True), ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False), ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True), ("abc/**", "abc", False),
    ("abc/**", "abc/def", True), ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True), ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True), ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3+g08-py3.whl", True),
    ("a\\*b", "a*b", True), ("a\\*b", "ab", False), ("a\\*b", "axb", False),
    # TestMatch (filepath.Match syntax)
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "abc", True), ("a*", "ab/c", True), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True),
    ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False),
    ("[a-ζ]*", "\u03b1", True), ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False), ("a*b", "a/b", False),
    ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True), ("[x\\-]", "-", True),
    ("[x\\-]", "z", False), ("[\\-x]", "-", True), ("[\\-x]", "a", False), ("*x", "xxx", True),
    # *.go only at the top level; **/*.go anywhere; a folder pattern covers what is below
    ("*.go", "main.go", True), ("*.go", "cmd/main.go", False), ("**/*.go", "cmd/x/main.go", True),
    ("docs", "docs/a/b.md", True), ("docs/", "docs/README.md", True), ("doc", "docs/x", False),
    ("/foo/a.py", "foo/a.py", True), ("./a.py", "a.py", True), ("a.py/", "a.py", True),
    ("foo/whoops/../a.py", "foo/a.py", True), ("foo/../../a.py", "a.py", False),
    ("*.LOG", "x.log", False),  # case-sensitive, like moby on Linux
]

# (patterns, path, excluded) — several patterns: the last matching one decides.
MULTI = [
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy-1.0-py3.whl", False),
    (["*.md", "!README*.md", "README-secret.md"], "README-bis.md", False),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "trash.md", True),
    ([], "any/path/there", False),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), SINGLE)
def test_one_pattern(pattern: str, path: str, excluded: bool) -> None:
    assert PatternMatcher(parse(pattern)).matches(path) is excluded


@pytest.mark.parametrize(("patterns", "path", "excluded"), MULTI)
def test_last_matching_pattern_wins(patterns: list[str], path: str, excluded: bool) -> None:
    assert PatternMatcher(patterns).matches(path) is excluded


@pytest.mark.parametrize("pattern", [
    "[", "a[", "[^", "[^bc", "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]", "\\", "!"])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(BadPattern):
        PatternMatcher(parse(pattern))


def test_parse_comments_blanks_whitespace_and_leading_slash() -> None:
    text = ("\ufefftest1\n/test2\n/a/file/here\n\n  lastfile  \n# this is a comment\n"
            "! /inverted/abs/path\n   # indented comment\n./x/../y/\n/\n")
    assert parse(text) == ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path",
                           "y", "/"]
    assert parse("!\n! \n") == ["!", "!"]


# docker-py's ExcludePathsTest tree.
DIRS = ["foo", "foo/bar", "bar", "target", "target/subdir", "subdir", "subdir/target",
        "subdir/target/subdir", "subdir/subdir2", "subdir/subdir2/target",
        "subdir/subdir2/target/subdir"]
FILES = ["Dockerfile", "Dockerfile.alt", ".dockerignore", "a.py", "a.go", "b.py", "cde.py",
         "foo/a.py", "foo/b.py", "foo/bar/a.py", "bar/a.py", "foo/Dockerfile3",
         "target/file.txt", "target/subdir/file.txt", "subdir/file.txt",
         "subdir/target/file.txt", "subdir/target/subdir/file.txt", "subdir/subdir2/file.txt",
         "subdir/subdir2/target/file.txt", "subdir/subdir2/target/subdir/file.txt"]
ALL = set(FILES)
SUBDIR = {f for f in FILES if f.startswith("subdir/")}

WALK = [
    ([""], None, ALL),
    (["*"], None, {"Dockerfile", ".dockerignore"}),
    (["Dockerfile", ".dockerignore"], None, ALL),
    (["*"], "Dockerfile.alt", {"Dockerfile.alt", ".dockerignore"}),
    (["*"], "foo/Dockerfile3", {"foo/Dockerfile3", ".dockerignore"}),
    (["*"], "./foo/Dockerfile3", {"foo/Dockerfile3", ".dockerignore"}),
    (["foo/"], "foo/Dockerfile3", ALL - {"foo/a.py", "foo/b.py", "foo/bar/a.py"}),
    (["a.py"], None, ALL - {"a.py"}),
    (["*.py"], None, ALL - {"a.py", "b.py", "cde.py"}),
    (["*.py", "!b.py"], None, ALL - {"a.py", "cde.py"}),
    (["*.*", "!*.go"], None, ALL - {"a.py", "b.py", "cde.py", "Dockerfile.alt"}),
    (["?.py"], None, ALL - {"a.py", "b.py"}),
    (["/foo/a.py"], None, ALL - {"foo/a.py"}),
    (["*/a.py"], None, ALL - {"foo/a.py", "bar/a.py"}),
    (["foo"], None, ALL - {"foo/a.py", "foo/b.py", "foo/bar/a.py", "foo/Dockerfile3"}),
    (["foo", "!foo/bar/a.py"], None, ALL - {"foo/a.py", "foo/b.py", "foo/Dockerfile3"}),
    (["foo", "!foo/bar"], None, ALL - {"foo/a.py", "foo/b.py", "foo/Dockerfile3"}),
    (["foo", "!foo/*.py"], None, ALL - {"foo/bar/a.py", "foo/Dockerfile3"}),
    (["**/a.py"], None, ALL - {"a.py", "foo/a.py", "foo/bar/a.py", "bar/a.py"}),
    (["foo/**/bar"], None, ALL - {"foo/bar/a.py"}),
    (["**/target/*/*"], None, ALL - {"target/subdir/file.txt", "subdir/target/subdir/file.txt",
                                     "subdir/subdir2/target/subdir/file.txt"}),
    (["subdir/**"], None, ALL - SUBDIR),
    (["**", "!bar", "!foo/bar"], None, {"foo/bar/a.py", "bar/a.py", "Dockerfile",
                                         ".dockerignore"}),
    # an exception with a wildcard may re-include below an excluded folder (BuildKit does;
    # docker-py would not look): such files count, so a change is never missed
    (["*", "!*/b.py"], None, {"foo/b.py", "Dockerfile", ".dockerignore"}),
    (["foo", "!**/a.py"], None, ALL - {"foo/b.py", "foo/Dockerfile3"}),
]

EMPTIED: dict[tuple[str, ...], set[str]] = {
    ("*/a.py",): {"bar/"},
    ("**/a.py",): {"bar/", "foo/bar/"},
    ("**/target/*/*",): {"target/subdir/", "subdir/target/subdir/",
                         "subdir/subdir2/target/subdir/"},
    ("subdir/**",): {"subdir/"},
}


def make_tree(root: Path, dirs: list[str], files: list[str]) -> Path:
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(f"content of {f}\n")
    return root


def sent(root: Path, dockerfile: str | None = None) -> set[str]:
    return {rel for rel, _ in dockerignore.walk(root, dockerfile)}


@pytest.mark.parametrize(("patterns", "dockerfile", "expected"), WALK)
def test_walk_lists_what_docker_sends(tmp_path: Path, patterns: list[str],
                                      dockerfile: str | None, expected: set[str]) -> None:
    make_tree(tmp_path, DIRS, FILES)
    (tmp_path / ".dockerignore").write_text("\n".join(patterns) + "\n")
    got = sent(tmp_path, dockerfile)
    assert {rel for rel in got if not rel.endswith("/")} == expected
    # a sent folder whose content is all excluded is still sent, as an empty folder
    assert {rel for rel in got if rel.endswith("/")} == EMPTIED.get(tuple(patterns), set())


def test_walk_lists_empty_folders_and_links_without_following(tmp_path: Path) -> None:
    make_tree(tmp_path, ["empty", "logs", "real"], ["Dockerfile", "logs/a.log", "real/x"])
    (tmp_path / "dirlink").symlink_to("real")
    (tmp_path / "filelink").symlink_to("Dockerfile")
    (tmp_path / ".dockerignore").write_text("logs/*\nreal\n")
    assert sent(tmp_path) == {"Dockerfile", ".dockerignore", "dirlink", "filelink",
                              "empty/", "logs/"}


def test_malformed_dockerignore_excludes_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path, [], ["Dockerfile", "a.log", ".dockerignore"])
    (tmp_path / ".dockerignore").write_text("*.log\n[oops\n")
    assert sent(tmp_path) == {"Dockerfile", "a.log", ".dockerignore"}


# --- the digest -----------------------------------------------------------------------------


def context(root: Path) -> Path:
    make_tree(root, ["node_modules/pkg", ".git", "src"], [
        "Dockerfile", "app.py", "debug.log", ".env", "src/main.py", ".git/HEAD",
        "node_modules/pkg/index.js", "node_modules/keep.txt"])
    (root / ".dockerignore").write_text(
        "# local junk\n*.log\n.git\n/.env\nnode_modules/\n!node_modules/keep.txt\n")
    return root


@pytest.mark.parametrize("rel", ["debug.log", "new.log", ".git/HEAD", ".git/refs/x", ".env",
                                 "node_modules/pkg/index.js", "node_modules/new/x.js"])
def test_changing_an_ignored_file_keeps_the_digest(tmp_path: Path, rel: str) -> None:
    root = context(tmp_path)
    before = tree_digest(root)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text("changed\n")
    assert tree_digest(root) == before


@pytest.mark.parametrize("rel", ["app.py", "src/main.py", "src/new.py", "node_modules/keep.txt",
                                 "Dockerfile", ".dockerignore", "src/sub/x"])
def test_changing_a_sent_file_changes_the_digest(tmp_path: Path, rel: str) -> None:
    root = context(tmp_path)
    before = tree_digest(root)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    with (root / rel).open("a") as fh:
        fh.write("changed\n")
    assert tree_digest(root) != before


def test_ignored_dockerfile_and_dockerignore_still_count(tmp_path: Path) -> None:
    make_tree(tmp_path, [], ["Dockerfile", "Dockerfile.prod", "app"])
    (tmp_path / ".dockerignore").write_text("Dockerfile*\n.dockerignore\n")
    before, prod = tree_digest(tmp_path), tree_digest(tmp_path, "Dockerfile.prod")
    (tmp_path / "Dockerfile.prod").write_text("FROM scratch\n")
    assert tree_digest(tmp_path) == before, "Dockerfile.prod is ignored when not the Dockerfile"
    assert tree_digest(tmp_path, "Dockerfile.prod") != prod
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert tree_digest(tmp_path) != before
    before = tree_digest(tmp_path)
    (tmp_path / ".dockerignore").write_text("Dockerfile*\n.dockerignore\n#\n")
    assert tree_digest(tmp_path) != before


def test_dockerfile_outside_the_context_is_not_read(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "ctx", [], ["app"])
    outside = tmp_path / "Dockerfile"
    outside.write_text("FROM scratch\n")
    assert dockerignore.dockerfile_in_context(root, "../Dockerfile") is None
    assert dockerignore.dockerfile_in_context(root, str(outside)) is None
    assert dockerignore.dockerfile_in_context(root, str(root / "sub/D")) == "sub/D"
    before = tree_digest(root, "../Dockerfile")
    outside.write_text("FROM busybox\n")
    assert tree_digest(root, "../Dockerfile") == before


def test_links_empty_folders_and_modes_count(tmp_path: Path) -> None:
    root = make_tree(tmp_path, ["real"], ["Dockerfile", "real/x"])
    (root / "dirlink").symlink_to("real")
    digests = {tree_digest(root)}
    (root / "real" / "x").write_text("followed?\n")  # the link is not followed ...
    (root / "dirlink").unlink()
    (root / "dirlink").symlink_to("elsewhere")  # ... but its target counts
    digests.add(tree_digest(root))
    (root / "empty").mkdir()
    digests.add(tree_digest(root))
    os.chmod(root / "Dockerfile", 0o755)
    digests.add(tree_digest(root))
    assert len(digests) == 4


def test_digest_unchanged_for_contexts_without_dockerignore(tmp_path: Path) -> None:
    """The format of earlier versions is kept: no needless rebuild after an upgrade."""
    root = make_tree(tmp_path, ["sub/deeper", "b"], [
        "Dockerfile", "a.txt", "sub/s", "sub/deeper/d", "b/zz"])
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() or path.name == "a.txt" else 0o644)
    (root / "link").symlink_to("a.txt")
    (root / "broken").symlink_to("missing")
    assert tree_digest(root) == "bc155b6bae4d70f5d603131e7e8dbf3d"
