"""Who may use `/v1` and `/mcp` (API keys, logins, the rule off loopback), and the settings
they come from: ASSISTANT_API_KEYS, and Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
under ASSISTANT_HOST / ASSISTANT_PORT."""

from __future__ import annotations

import base64

import pytest

from assistant import ConfigError, load_settings
from assistant.access import Access, require_keys


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_keys_and_logins_grant_access():
    access = Access(keys=["k1", "k2"], logins=[("alice", "pw:1")])
    assert (
        access.allows("Bearer k1") and access.allows("bearer k2") and access.allows("Bearer  k2 ")
    )
    assert not access.allows("Bearer k3") and not access.allows("Bearer ") and not access.allows("")
    assert not access.allows(None) and not access.allows("k1") and not access.allows("Token k1")
    assert access.allows(_basic("alice", "pw:1"))
    assert not access.allows(_basic("alice", "pw")) and not access.allows(_basic("bob", "pw:1"))
    assert not access.allows("Basic not-base64!") and not access.allows("Basic " + "YWxpY2U=")
    # Keys or logins configured: the Host does not matter (a reverse proxy's public name).
    assert access.allows("Bearer k1", host="news.example.org")


def test_without_keys_only_requests_to_a_loopback_name_go_through():
    # Nothing configured (allowed only on loopback, see below): open to this machine, but
    # not to a reverse proxy's public name or a DNS-rebinding name pointing at 127.0.0.1.
    open_ = Access()
    assert open_.open
    for host in ("127.0.0.1:7860", "127.0.0.1", "localhost:7860", "LOCALHOST", "[::1]:7860", "::1"):
        assert open_.allows(None, host=host), host
    for host in ("news.example.org", "evil.example:7860", "10.0.0.5:7860", "", "[fe80::1]:80"):
        assert not open_.allows(None, host=host), host


def test_off_loopback_the_server_needs_keys():
    require_keys("127.0.0.1", [], loopback=True)
    require_keys("0.0.0.0", ["k"], loopback=False)
    with pytest.raises(ConfigError) as refused:
        require_keys("0.0.0.0", [], loopback=False)
    assert "listens on 0.0.0.0" in str(refused.value)
    assert "ASSISTANT_API_KEYS=key1,key2" in str(refused.value)


def test_api_keys_setting(monkeypatch):
    monkeypatch.setenv("ASSISTANT_API_KEYS", " key-a, key-b ,")
    assert load_settings().keys() == ["key-a", "key-b"]
    monkeypatch.setenv("ASSISTANT_API_KEYS", "key a")
    with pytest.raises(ConfigError, match="ASSISTANT_API_KEYS: key 1 contains a space"):
        load_settings()
    monkeypatch.setenv("ASSISTANT_API_KEYS", ",,")
    with pytest.raises(ConfigError, match="ASSISTANT_API_KEYS has no key"):
        load_settings()
    monkeypatch.delenv("ASSISTANT_API_KEYS")
    assert load_settings().keys() == []


def test_gradio_server_variables_and_their_precedence(monkeypatch):
    assert (load_settings().host, load_settings().port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    assert (load_settings().host, load_settings().port) == ("0.0.0.0", 7861)
    monkeypatch.setenv("ASSISTANT_HOST", "127.0.0.2")
    monkeypatch.setenv("ASSISTANT_PORT", "8080")
    assert (load_settings().host, load_settings().port) == ("127.0.0.2", 8080)
    assert load_settings(host="::1", port=9000).host == "::1"  # keyword overrides still work
    monkeypatch.delenv("ASSISTANT_PORT")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="GRADIO_SERVER_PORT='not-a-port'"):
        load_settings()
