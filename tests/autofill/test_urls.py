"""Parsing what users paste: accepted forms, and everything the exact-host allowlist must refuse."""

from __future__ import annotations

import pytest

from modelmate.autofill.urls import Target, UnsupportedSource, parse


@pytest.mark.parametrize(("value", "expected"), [
    ("meta-llama/Llama-3.1-8B-Instruct", Target("huggingface", "meta-llama/Llama-3.1-8B-Instruct")),
    ("  Qwen/Qwen2.5-7B  ", Target("huggingface", "Qwen/Qwen2.5-7B")),
    ("https://huggingface.co/org/name", Target("huggingface", "org/name")),
    ("https://huggingface.co/org/name/tree/main", Target("huggingface", "org/name")),
    ("https://huggingface.co/org/name/blob/main/config.json", Target("huggingface", "org/name")),
    ("http://www.huggingface.co/org/name?library=transformers#top", Target("huggingface", "org/name")),
    ("https://hf.co/org/name", Target("huggingface", "org/name")),
    ("https://www.hf.co/org/name", Target("huggingface", "org/name")),
    ("hf.co/org/name", Target("huggingface", "org/name")),
    ("huggingface.co/org/name", Target("huggingface", "org/name")),
    ("https://HuggingFace.co/Org/Name", Target("huggingface", "Org/Name")),
    ("https://huggingface.co/gpt2", Target("huggingface", "gpt2")),
    ("https://github.com/owner/repo", Target("github", "owner/repo")),
    ("https://www.github.com/owner/repo.git", Target("github", "owner/repo")),
    ("github.com/owner/repo/tree/main/src", Target("github", "owner/repo")),
    ("https://github.com/owner/my.repo_v2/issues/1", Target("github", "owner/my.repo_v2")),
])
def test_accepted_forms(value, expected):
    assert parse(value) == expected


@pytest.mark.parametrize("value", [
    "", "   ", "x" * 600,
    # look-alike hosts and hosts hidden in paths or user info (RELIABILITY 15)
    "https://huggingface.co.evil.com/org/name", "huggingface.co.evil.com/org", "https://evil.com/huggingface.co/x/y",
    "evil.com/huggingface.co/x", "https://user@huggingface.co@evil.com/x/y", "https://huggingface.co@evil.com/x/y",
    "https://evil.com@huggingface.co/x/y", "https://user:pass@github.com/o/r", "https://huggingface.co./org/name",
    "https://xhuggingface.co/org/name", "https://huggingface.com/org/name", "https://gist.github.com/o/r",
    "https://api.github.com/repos/o/r", "https://huggingface.co%2eevil.com/a/b",
    # internal addresses, ports, IP literal tricks (RELIABILITY 14)
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1/org/name", "http://[::ffff:127.0.0.1]/a/b",
    "http://[::1]/a/b", "http://0x7f000001/a/b", "http://2130706433/a/b", "http://localhost/a/b",
    "https://huggingface.co:8443/org/name", "https://github.com:22/o/r", "127.0.0.1/x", "169.254.169.254/latest",
    # schemes
    "file:///etc/passwd", "gopher://huggingface.co/_x", "javascript:alert(1)", "ftp://huggingface.co/org/name",
    "data:text/html,hi", "//evil.com/a/b",
    # not a model repository / malformed ids
    "https://huggingface.co/datasets/org/name", "https://huggingface.co/spaces/org/name", "https://huggingface.co/",
    "https://github.com/owner", "https://github.com/", "a/b/c", "org/../x", "https://huggingface.co/../../x",
    "https://github.com/../etc", "org/na me", "org/na\nme", "org\\name", "-bad/name", "org/name--x",
])
def test_refused(value):
    with pytest.raises(UnsupportedSource):
        parse(value)
