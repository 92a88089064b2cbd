"""The adapters' HTTP session: the environment is read once, unless proxies need requests to
read it per call."""

import pytest

from agency.platforms.base import new_session

PROXY_VARIABLES = ["http_proxy", "https_proxy", "all_proxy", "no_proxy"]


@pytest.fixture
def no_proxies(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_without_proxies_the_ca_bundle_is_read_once(no_proxies, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/agency-test-bundle.pem")
    session = new_session()
    assert session.trust_env is False
    assert session.verify == "/etc/ssl/certs/agency-test-bundle.pem"


def test_without_any_ca_variable_certificates_are_still_verified(no_proxies, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session = new_session()
    assert session.verify is True


def test_with_a_proxy_requests_keeps_reading_the_environment(no_proxies, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    session = new_session()
    assert session.trust_env is True
    proxies = session.merge_environment_settings(
        "https://mastodon.social/api/v1/statuses", {}, None, None, None
    )["proxies"]
    assert proxies["https"] == "http://proxy.internal:3128"
