"""RFC 8058 safety: no mail through smtp whose links lead to this machine, and no one-click
header on a link that is not https (said once a send, not once a message)."""

from __future__ import annotations

import pytest
from postroom.core.config import CONFIG_NAME
from postroom.scheduler import main
from smtp_sink import SmtpSink
from test_delivery import SECRET, digest_site

SMTP = '[mail]\ntransport = "smtp"\n'
PUBLIC_FROM = 'from_address = "digest@notes.example.org"\n'


def site_folder(root, config: str) -> None:
    """A site folder (not opened: its config may be refused)."""
    (root / "content").mkdir(parents=True)
    (root / CONFIG_NAME).write_text(config, encoding="utf-8")


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("POSTROOM_SECRET", SECRET)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://localhost:8000/",  # the default
        "https://LOCALHOST/",
        "http://127.0.0.1:8000/",
        "http://127.8.9.1/",
        "http://[::1]:8000/",
        "https://notes.localhost/",
        # the same machine in other spellings a browser or resolver accepts
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://127.1/",
        "http://2130706433/",
        "http://[::]/",
    ],
)
def test_smtp_with_a_base_url_on_this_machine_is_refused_naming_the_key(tmp_path, capsys, base_url):
    config = f'[site]\nbase_url = "{base_url}"\n' + SMTP + PUBLIC_FROM
    site_folder(tmp_path, config)
    capsys.readouterr()
    assert main(["--site", str(tmp_path), "digest", "send"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"'site.base_url' is {base_url}" in err and "smtp" in err
    # the same site writing its mail to files is fine (a first try on one's own machine)
    (tmp_path / "postroom.toml").write_text(config.replace(SMTP, "[mail]\n"))
    assert main(["--site", str(tmp_path), "check"]) == 0


@pytest.mark.parametrize(
    ("key", "address"),
    [
        ("from_address", "digest@localhost"),  # the default
        ("from_address", "digest@mail.localhost"),
        ("unsubscribe_mailto", "leave@localhost"),
    ],
)
def test_smtp_from_localhost_is_refused_naming_the_key(tmp_path, capsys, key, address):
    config = '[site]\nbase_url = "https://notes.example.org/"\n' + SMTP
    config += PUBLIC_FROM if key != "from_address" else ""
    config += f'{key} = "{address}"\n'
    site_folder(tmp_path, config)
    capsys.readouterr()
    assert main(["--site", str(tmp_path), "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"'mail.{key}' is {address}" in err


def test_the_default_config_with_smtp_is_refused(tmp_path, capsys):
    site_folder(tmp_path, SMTP)
    assert main(["--site", str(tmp_path), "check"]) == 2
    assert "'site.base_url' is http://localhost:8000/" in capsys.readouterr().err


def test_no_one_click_header_for_a_link_that_is_not_https_and_one_warning(tmp_path, capsys):
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink)
        config = site.root / "postroom.toml"
        plain = config.read_text().replace("https://notes", "http://notes")
        config.write_text(plain)
        capsys.readouterr()
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        received = sink.received
    err = capsys.readouterr().err
    assert len(received) == 3
    for r in received:
        assert r.message["List-Unsubscribe-Post"] is None
        assert r.message["List-Unsubscribe"].startswith("<http://notes.example.org/unsubscribe?")
    assert err.count("List-Unsubscribe-Post") == 1  # once for the send, not once a message
    assert "warning: issue 1: site.base_url http://notes.example.org/ is not https" in err


def test_an_https_link_has_the_one_click_header(tmp_path, capsys):
    with SmtpSink() as sink:
        site = digest_site(tmp_path, sink)
        assert main(["--site", str(site.root), "digest", "send"]) == 0
        received = sink.received
    assert {r.message["List-Unsubscribe-Post"] for r in received} == {"List-Unsubscribe=One-Click"}
    assert "List-Unsubscribe-Post" not in capsys.readouterr().err
