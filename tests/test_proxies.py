"""Which proxy a run goes through: the environment read as curl and requests read it."""

from __future__ import annotations

import pytest

from batchtool.errors import UsageError
from batchtool.proxies import ProxyChoice, bypasses, choose_proxy

HTTPS = "https://affiliates.example.com"


def from_env(environ: dict[str, str], base_url: str = HTTPS) -> ProxyChoice:
    return choose_proxy(base_url, explicit=None, explicit_source="", environ=environ)


@pytest.mark.parametrize(
    ("environ", "base_url", "expected"),
    [
        pytest.param(
            {"HTTPS_PROXY": "http://p:1"}, HTTPS, ("http://p:1", "$HTTPS_PROXY"), id="upper"
        ),
        pytest.param(
            {"https_proxy": "http://p:2"}, HTTPS, ("http://p:2", "$https_proxy"), id="lower"
        ),
        pytest.param(
            {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"},
            HTTPS,
            ("http://lower:1", "$https_proxy"),
            id="lower-wins",
        ),
        pytest.param(
            {"https_proxy": "", "HTTPS_PROXY": "http://upper:1"},
            HTTPS,
            ("http://upper:1", "$HTTPS_PROXY"),
            id="empty-is-unset",
        ),
        pytest.param(
            {"HTTP_PROXY": "http://p:1"}, HTTPS, (None, ""), id="http-proxy-not-for-https"
        ),
        pytest.param(
            {"HTTP_PROXY": "http://p:1", "HTTPS_PROXY": "http://q:1"},
            "http://127.0.0.1:8080",
            ("http://p:1", "$HTTP_PROXY"),
            id="http-proxy-for-http",
        ),
        pytest.param(
            {"HTTPS_PROXY": "proxy.corp:3128"},
            HTTPS,
            ("http://proxy.corp:3128", "$HTTPS_PROXY"),
            id="no-scheme-means-http",
        ),
        pytest.param(
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"},
            HTTPS,
            (None, ""),
            id="no-proxy",
        ),
        pytest.param(
            {"HTTPS_PROXY": "http://p:1", "no_proxy": "other.com", "NO_PROXY": "example.com"},
            HTTPS,
            ("http://p:1", "$HTTPS_PROXY"),
            id="no-proxy-lower-wins",
        ),
        pytest.param({"ALL_PROXY": "socks5://p:1"}, HTTPS, (None, ""), id="all-proxy-not-read"),
    ],
)
def test_proxy_from_the_environment(
    environ: dict[str, str], base_url: str, expected: tuple[str | None, str]
) -> None:
    choice = from_env(environ, base_url)
    assert (choice.url, choice.source) == expected


def test_an_explicit_proxy_wins_and_ignores_no_proxy() -> None:
    choice = choose_proxy(
        HTTPS,
        explicit="http://mine:8080",
        explicit_source="--proxy",
        environ={"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"},
    )
    assert choice == ProxyChoice("http://mine:8080", "--proxy")


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "expected"),
    [
        pytest.param("affiliates.example.com", 443, "affiliates.example.com", True, id="exact"),
        pytest.param("affiliates.example.com", 443, "example.com", True, id="subdomain"),
        pytest.param("affiliates.example.com", 443, ".example.com", True, id="leading-dot"),
        pytest.param("example.com", 443, ".example.com", True, id="leading-dot-domain-itself"),
        pytest.param("notexample.com", 443, "example.com", False, id="not-a-suffix-match"),
        pytest.param("AFFILIATES.example.com", 443, "Example.COM", True, id="any-case"),
        pytest.param("a.example.com", 443, "other.org, example.com", True, id="list-with-spaces"),
        pytest.param("a.example.com", 443, "*", True, id="star"),
        pytest.param("a.example.com", 443, "*.example.com", False, id="star-is-not-a-glob"),
        pytest.param("a.example.com", 443, "example.com:443", True, id="port-matches"),
        pytest.param("a.example.com", 8443, "example.com:443", False, id="port-differs"),
        pytest.param("10.1.2.3", 443, "10.0.0.0/8", True, id="cidr"),
        pytest.param("11.1.2.3", 443, "10.0.0.0/8", False, id="outside-cidr"),
        pytest.param("127.0.0.1", 443, "127.0.0.1", True, id="address"),
        pytest.param("::1", 443, "::1", True, id="ipv6"),
        pytest.param("[::1]", 443, "[::1]:443", True, id="ipv6-with-port"),
        pytest.param("10.1.2.3", 443, "10.1.2.3.example.com", False, id="address-is-not-a-name"),
        pytest.param("a.example.com", 443, "", False, id="empty"),
    ],
)
def test_no_proxy(host: str, port: int, no_proxy: str, expected: bool) -> None:
    assert bypasses(host, port, no_proxy) is expected


def test_no_proxy_compares_the_default_port_of_the_scheme() -> None:
    environ = {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "affiliates.example.com:443"}
    assert from_env(environ).url is None
    assert from_env(environ, "https://affiliates.example.com:8443").url == "http://p:1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "socks5://alice:pw@p:1080",
            "proxy 'socks5://***@p:1080' from $HTTPS_PROXY is not an http:// or https:// "
            "proxy URL — give e.g. http://proxy.example.com:3128",
            id="socks",
        ),
        pytest.param(
            "http://p:port",
            "proxy 'http://p:port' from $HTTPS_PROXY is malformed — "
            "give e.g. http://proxy.example.com:3128",
            id="bad-port",
        ),
        pytest.param(
            "http://[proxy",
            "proxy 'http://[proxy' from $HTTPS_PROXY is malformed — "
            "give e.g. http://proxy.example.com:3128",
            id="bad-brackets",
        ),
        pytest.param(
            "http://",
            "proxy 'http://' from $HTTPS_PROXY is not an http:// or https:// proxy URL — "
            "give e.g. http://proxy.example.com:3128",
            id="no-host",
        ),
    ],
)
def test_a_proxy_that_is_not_usable_is_named_without_its_password(value: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        from_env({"HTTPS_PROXY": value})
    assert str(info.value) == message
