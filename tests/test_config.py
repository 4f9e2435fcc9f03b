"""Where credentials come from, and which base URLs are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchtool.config import check_base_url, resolve_credentials
from batchtool.errors import UsageError

PROFILE = """
[profiles.offerit]
base_url = "https://affiliates.example.com"
api_username = "offerit_admin"
api_key_env = "OFFERIT_KEY"

[profiles.nats]
base_url = "https://nats.example.com/api"
api_username = "n4n_admin"
api_key = "from-file"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(PROFILE)
    return path


def test_options_win_over_environment_and_profile(config: Path) -> None:
    creds = resolve_credentials(
        base_url="https://other.example.com",
        api_username="me",
        api_key="opt-key",
        profile="nats",
        config_path=config,
        environ={"BATCHTOOL_API_KEY": "env-key"},
    )
    assert (creds.base_url, creds.api_username, creds.api_key) == (
        "https://other.example.com",
        "me",
        "opt-key",
    )


def test_environment_wins_over_profile(config: Path) -> None:
    creds = resolve_credentials(
        profile="nats", config_path=config, environ={"BATCHTOOL_API_KEY": "env-key"}
    )
    assert creds.api_key == "env-key"
    assert creds.base_url == "https://nats.example.com/api"


def test_profile_reads_key_from_named_environment_variable(config: Path) -> None:
    creds = resolve_credentials(
        profile="offerit", config_path=config, environ={"OFFERIT_KEY": "k1"}
    )
    assert creds.api_key == "k1"
    assert creds.api_username == "offerit_admin"


def test_profile_key_variable_unset_is_a_clear_error(config: Path) -> None:
    with pytest.raises(UsageError, match=r"\$OFFERIT_KEY, which is not set"):
        resolve_credentials(profile="offerit", config_path=config, environ={})


def test_unknown_profile_lists_the_known_ones(config: Path) -> None:
    with pytest.raises(
        UsageError, match=r"profile 'trackfinity' not found .* known profiles: nats, offerit"
    ):
        resolve_credentials(profile="trackfinity", config_path=config, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        resolve_credentials(profile="x", config_path=tmp_path / "nope.toml", environ={})


def test_missing_credentials_name_what_to_give() -> None:
    with pytest.raises(
        UsageError, match=r"missing --api-username / \$BATCHTOOL_API_USERNAME, --api-key"
    ):
        resolve_credentials(base_url="https://a.example.com", environ={})


def test_key_is_never_in_repr(config: Path) -> None:
    creds = resolve_credentials(profile="nats", config_path=config, environ={})
    assert "from-file" not in repr(creds)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:8080", id="loopback-v4"),
        pytest.param("http://localhost:8080/api", id="localhost"),
        pytest.param("http://[::1]:9000", id="loopback-v6"),
        pytest.param("https://affiliates.example.com", id="https"),
    ],
)
def test_accepted_base_urls(url: str) -> None:
    check_base_url(url)


def test_plain_http_to_another_host_is_refused_unless_allowed() -> None:
    with pytest.raises(UsageError, match=r"in clear .* --allow-insecure-http"):
        check_base_url("http://affiliates.example.com")
    check_base_url("http://affiliates.example.com", allow_insecure_http=True)


@pytest.mark.parametrize("url", ["affiliates.example.com", "ftp://x.example.com", "https://"])
def test_not_an_http_url(url: str) -> None:
    with pytest.raises(UsageError, match="not an http"):
        check_base_url(url)
