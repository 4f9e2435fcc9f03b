"""Where credentials come from (options, environment, key files, profiles, in that order),
which secret files are refused, and which base URLs are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchtool.config import check_base_url, resolve_credentials
from batchtool.errors import UsageError
from batchtool.network import Network

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


def private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return private(tmp_path / "config.toml", PROFILE)


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


# -- the api key: every source, and the order they are tried in ------------------------------

HTTPS = "https://affiliates.example.com"


def profile_with(tmp_path: Path, *lines: str) -> Path:
    body = "\n".join(["[profiles.p]", f'base_url = "{HTTPS}"', 'api_username = "u"', *lines])
    return private(tmp_path / "precedence.toml", body + "\n")


def key_from(tmp_path: Path, *sources: str) -> str:
    """The key resolved when each of ``sources`` gives one; each source's key is its name."""

    def key_file(label: str) -> str:
        name = label.strip("-$").replace(" ", "_")
        return str(private(tmp_path / f"{name}.key", label + "\n"))

    env: dict[str, str] = {"P_KEY": "profile api_key_env"}
    if "$BATCHTOOL_API_KEY" in sources:
        env["BATCHTOOL_API_KEY"] = "$BATCHTOOL_API_KEY"
    if "$BATCHTOOL_API_KEY_FILE" in sources:
        env["BATCHTOOL_API_KEY_FILE"] = key_file("$BATCHTOOL_API_KEY_FILE")
    lines = []
    if "profile api_key_env" in sources:
        lines.append('api_key_env = "P_KEY"')
    if "profile api_key_file" in sources:
        lines.append(f'api_key_file = "{key_file("profile api_key_file")}"')
    if "profile api_key" in sources:
        lines.append('api_key = "profile api_key"')
    creds = resolve_credentials(
        profile="p",
        config_path=profile_with(tmp_path, *lines),
        environ=env,
        api_key="--api-key" if "--api-key" in sources else None,
        api_key_file=key_file("--api-key-file") if "--api-key-file" in sources else None,
    )
    return creds.api_key


@pytest.mark.parametrize(
    ("sources", "winner"),
    [
        pytest.param(
            ("--api-key", "$BATCHTOOL_API_KEY", "profile api_key"), "--api-key", id="option"
        ),
        pytest.param(
            ("--api-key-file", "$BATCHTOOL_API_KEY", "profile api_key_env"),
            "--api-key-file",
            id="key-file-option-beats-environment",
        ),
        pytest.param(
            ("$BATCHTOOL_API_KEY", "profile api_key_file"),
            "$BATCHTOOL_API_KEY",
            id="environment",
        ),
        pytest.param(
            ("$BATCHTOOL_API_KEY_FILE", "profile api_key"),
            "$BATCHTOOL_API_KEY_FILE",
            id="key-file-environment-beats-profile",
        ),
        pytest.param(("profile api_key_env",), "profile api_key_env", id="profile-api_key_env"),
        pytest.param(("profile api_key_file",), "profile api_key_file", id="profile-key-file"),
        pytest.param(("profile api_key",), "profile api_key", id="profile-api_key"),
    ],
)
def test_where_the_key_comes_from(tmp_path: Path, sources: tuple[str, ...], winner: str) -> None:
    assert key_from(tmp_path, *sources) == winner


def test_key_file_is_its_first_line_without_the_line_ending(tmp_path: Path) -> None:
    key_file = private(tmp_path / "key", "s3cret \r\nsecond line\n")
    creds = resolve_credentials(base_url=HTTPS, api_username="u", api_key_file=key_file, environ={})
    assert creds.api_key == "s3cret "


@pytest.mark.parametrize("content", [pytest.param("", id="empty"), pytest.param("\n", id="blank")])
def test_empty_key_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    key_file = private(tmp_path / "key", content)
    with pytest.raises(UsageError) as info:
        resolve_credentials(base_url=HTTPS, api_username="u", api_key_file=key_file, environ={})
    assert (
        str(info.value) == f"api key file {key_file} is empty — its first line must be the api key"
    )


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        resolve_credentials(
            base_url=HTTPS, api_username="u", api_key_file=tmp_path / "nope", environ={}
        )
    assert str(info.value) == f"api key file {tmp_path / 'nope'} does not exist"


def test_relative_key_file_is_a_systemd_credential_when_the_directory_is_set(
    tmp_path: Path,
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    private(credentials / "offerit-key", "from-systemd\n")
    env = {"CREDENTIALS_DIRECTORY": str(credentials)}
    by_option = resolve_credentials(
        base_url=HTTPS, api_username="u", api_key_file="offerit-key", environ=env
    )
    config = profile_with(tmp_path, 'api_key_file = "offerit-key"')
    by_profile = resolve_credentials(profile="p", config_path=config, environ=env)
    assert by_option.api_key == by_profile.api_key == "from-systemd"


def test_relative_paths_in_a_profile_are_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    private(etc / "offerit.key", "beside-the-config\n")
    config = private(
        etc / "config.toml",
        f'[profiles.p]\nbase_url = "{HTTPS}"\napi_username = "u"\n'
        'api_key_file = "offerit.key"\nca_bundle = "ca.pem"\n',
    )
    monkeypatch.chdir(tmp_path)
    creds = resolve_credentials(profile="p", config_path=config, environ={})
    assert creds.api_key == "beside-the-config"
    assert creds.network.ca_bundle == etc / "ca.pem"


def test_key_option_and_key_file_option_contradict(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        key_from(tmp_path, "--api-key", "--api-key-file")
    assert str(info.value) == "--api-key and --api-key-file both give the api key — choose one"


def test_key_and_key_file_variables_contradict(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        key_from(tmp_path, "$BATCHTOOL_API_KEY", "$BATCHTOOL_API_KEY_FILE")
    assert str(info.value) == (
        "$BATCHTOOL_API_KEY and $BATCHTOOL_API_KEY_FILE are both set — unset one of them"
    )


def test_a_profile_that_gives_the_key_two_ways_is_refused(tmp_path: Path) -> None:
    config = profile_with(tmp_path, 'api_key = "k"', 'api_key_env = "P_KEY"')
    with pytest.raises(UsageError) as info:
        resolve_credentials(profile="p", config_path=config, environ={"P_KEY": "x"})
    assert str(info.value) == (
        "profile 'p' gives the api key 2 ways (api_key_env, api_key) — "
        f"keep one of them in {config}"
    )


def test_a_profile_value_of_the_wrong_type_is_named(tmp_path: Path) -> None:
    config = profile_with(tmp_path, "ca_bundle = 3")
    with pytest.raises(UsageError) as info:
        resolve_credentials(profile="p", config_path=config, environ={"BATCHTOOL_API_KEY": "k"})
    assert str(info.value) == f"config file {config}: [profiles.p] ca_bundle must be a string"


# -- secret files other users can open are refused -------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_open_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = private(tmp_path / "key", "k\n")
    key_file.chmod(mode)
    with pytest.raises(UsageError) as info:
        resolve_credentials(base_url=HTTPS, api_username="u", api_key_file=key_file, environ={})
    assert str(info.value) == (
        f"api key file {key_file} holds a secret but other users can open it "
        f"(mode {mode:04o}) — run: chmod 600 {key_file}"
    )


def test_a_config_file_holding_a_key_that_others_can_read_is_refused(config: Path) -> None:
    config.chmod(0o644)
    with pytest.raises(UsageError) as info:
        resolve_credentials(profile="offerit", config_path=config, environ={"OFFERIT_KEY": "k"})
    assert str(info.value) == (
        f"config file {config} holds a secret but other users can open it "
        f"(mode 0644) — run: chmod 600 {config}"
    )


def test_a_config_file_without_a_key_may_be_readable(tmp_path: Path) -> None:
    config = profile_with(tmp_path, 'api_key_env = "P_KEY"')
    config.chmod(0o644)
    creds = resolve_credentials(profile="p", config_path=config, environ={"P_KEY": "k"})
    assert creds.api_key == "k"


def test_a_key_file_behind_a_link_is_judged_by_the_file(tmp_path: Path) -> None:
    # Kubernetes mounts each secret as a symbolic link to a file: its mode is what counts.
    target = private(tmp_path / "..data-key", "k8s-key\n")
    link = tmp_path / "key"
    link.symlink_to(target)
    creds = resolve_credentials(base_url=HTTPS, api_username="u", api_key_file=link, environ={})
    assert creds.api_key == "k8s-key"
    target.chmod(0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        resolve_credentials(base_url=HTTPS, api_username="u", api_key_file=link, environ={})


# -- the way to the installation: CA bundle, client certificate, proxy ------------------------


def test_network_options_win_over_the_profile(tmp_path: Path) -> None:
    config = profile_with(
        tmp_path,
        'api_key_env = "P_KEY"',
        'ca_bundle = "/profile/ca.pem"',
        'client_cert = "/profile/cert.pem"',
        'client_key = "/profile/key.pem"',
        'proxy = "http://profile-proxy:3128"',
    )
    env = {"P_KEY": "k", "HTTPS_PROXY": "http://env-proxy:3128"}
    from_profile = resolve_credentials(profile="p", config_path=config, environ=env).network
    assert from_profile == Network(
        ca_bundle=Path("/profile/ca.pem"),
        client_cert=Path("/profile/cert.pem"),
        client_key=Path("/profile/key.pem"),
        proxy="http://profile-proxy:3128",
    )
    assert from_profile.proxy_note == "through proxy http://profile-proxy:3128 (from profile 'p')"
    from_options = resolve_credentials(
        profile="p",
        config_path=config,
        environ=env,
        ca_bundle="/opt/ca.pem",
        client_cert="/opt/both.pem",
        proxy="option-proxy:8080",
    ).network
    # The certificate and its key come as a pair: an option's certificate holds its own key.
    assert from_options == Network(
        ca_bundle=Path("/opt/ca.pem"),
        client_cert=Path("/opt/both.pem"),
        proxy="http://option-proxy:8080",
    )
    assert from_options.proxy_note == "through proxy http://option-proxy:8080 (from --proxy)"


def test_the_environment_proxy_is_used_when_nothing_else_names_one() -> None:
    creds = resolve_credentials(
        base_url=HTTPS,
        api_username="u",
        api_key="k",
        environ={"HTTPS_PROXY": "http://proxy.corp:3128"},
    )
    assert creds.network.proxy == "http://proxy.corp:3128"
    assert creds.network.proxy_note == "through proxy http://proxy.corp:3128 (from $HTTPS_PROXY)"


def test_repr_shows_neither_the_key_nor_the_proxy_password() -> None:
    creds = resolve_credentials(
        base_url=HTTPS,
        api_username="u",
        api_key="the-api-key",
        proxy="http://alice:hunter2@proxy.corp:3128",
        environ={},
    )
    text = repr(creds)
    assert "the-api-key" not in text and "hunter2" not in text
    assert "http://***@proxy.corp:3128" in text
    assert creds.network.proxy_note == "through proxy http://***@proxy.corp:3128 (from --proxy)"


def local_http(environ: dict[str, str], *, allow_insecure_http: bool = False) -> Network:
    return resolve_credentials(
        base_url="http://127.0.0.1:8080",
        api_username="u",
        api_key="k",
        allow_insecure_http=allow_insecure_http,
        environ=environ,
    ).network


def test_plain_http_through_a_remote_proxy_is_refused_unless_allowed() -> None:
    env = {"HTTP_PROXY": "http://proxy.corp:3128"}
    with pytest.raises(UsageError) as info:
        local_http(env)
    assert str(info.value) == (
        "base URL 'http://127.0.0.1:8080' is plain http and goes through proxy "
        "http://proxy.corp:3128: the api key would cross the network in clear — use https, "
        "name the host in NO_PROXY, or pass --allow-insecure-http if you really mean it"
    )
    assert local_http({**env, "NO_PROXY": "127.0.0.1"}).proxy is None
    assert local_http(env, allow_insecure_http=True).proxy == "http://proxy.corp:3128"
    assert local_http({"HTTP_PROXY": "127.0.0.1:3128"}).proxy == "http://127.0.0.1:3128"


def test_a_client_key_without_its_certificate_is_refused() -> None:
    with pytest.raises(UsageError) as info:
        resolve_credentials(
            base_url=HTTPS, api_username="u", api_key="k", client_key="/k.pem", environ={}
        )
    assert str(info.value) == (
        "a client key was given without its certificate — give client_cert (--client-cert) too"
    )


def test_file_names_given_as_text_from_python_become_paths() -> None:
    network = Network(ca_bundle="/etc/ca.pem")  # type: ignore[arg-type]  # untyped callers do
    assert network.ca_bundle == Path("/etc/ca.pem")
