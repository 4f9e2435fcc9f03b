"""Installations behind certificates this machine does not know: a real TLS server on 127.0.0.1
(the simulator, with certificates made for the test by trustme), reached by the CLI and the
Python API. A refused certificate is told in words and stops the run within 3 rows (exit 3);
``--ca-bundle`` or the profile's ``ca_bundle`` makes it trusted; mutual TLS works."""

from __future__ import annotations

import csv
import datetime
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner, Result
from conftest import LoopThread
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from batchtool import Credentials, DispatchConfig, Network, resolve_credentials, run_batch
from batchtool.cli import main
from batchtool.simulator import Simulator

ROWS = 8


@pytest.fixture
def ca() -> trustme.CA:
    """A private CA, as a company runs one: no machine trusts it unless told to."""
    return trustme.CA()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "company-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(
    cert: trustme.LeafCert, *, client_ca: trustme.CA | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    if client_ca is not None:  # mutual TLS: no answer without a certificate from this CA
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
def serve(loop_thread: LoopThread) -> Iterator[Callable[[ssl.SSLContext], Simulator]]:
    """Start the simulator over TLS with a server context, in the loop thread."""
    started: list[Simulator] = []

    def start(context: ssl.SSLContext) -> Simulator:
        sim = Simulator(customers=ROWS, ssl_context=context)
        loop_thread.run(sim.start())
        started.append(sim)
        return sim

    yield start
    for sim in started:
        loop_thread.run(sim.stop())


@pytest.fixture
def unlocks(tmp_path: Path) -> Path:
    path = tmp_path / "unlock.csv"
    lines = ["operation,customer_id", *(f"unlock,{i}" for i in range(1, ROWS + 1))]
    path.write_text("\n".join(lines) + "\n")
    return path


def statuses(results: Path) -> list[tuple[str, str]]:
    with results.open(newline="", encoding="utf-8") as fh:
        return [(r["status"], r["error"]) for r in csv.DictReader(fh)]


def run_cli(sim: Simulator, src: Path, *args: str, base_url: str | None = None) -> Result:
    return CliRunner().invoke(
        main,
        [
            "run",
            str(src),
            "--base-url",
            base_url or sim.base_url,
            "--api-username",
            sim.api_username,
            "--results",
            str(src.with_suffix(".results.csv")),
            "--no-journal",
            *args,
        ],
        env={"BATCHTOOL_API_KEY": sim.api_key},
    )


UNKNOWN_CA = (
    "TLS: the certificate of 127.0.0.1 comes from a CA this machine does not trust (a company "
    "or private CA?) — pass that CA's certificate with --ca-bundle PATH"
)


def test_unknown_ca_is_told_in_words_and_stops_the_run_within_3_rows(
    ca: trustme.CA, serve: Callable[[ssl.SSLContext], Simulator], unlocks: Path
) -> None:
    sim = serve(server_context(ca.issue_cert("127.0.0.1")))
    result = run_cli(sim, unlocks, "--concurrency", "1")
    assert result.exit_code == 3, result.output
    assert (
        f"batchtool: aborted: no answer from the server for the first 3 rows: {UNKNOWN_CA}\n"
        in (result.output)
    )
    assert "CERTIFICATE_VERIFY_FAILED" not in result.output
    rows = statuses(unlocks.with_suffix(".results.csv"))
    assert rows[:3] == [("failed", UNKNOWN_CA)] * 3
    assert {status for status, _ in rows[3:]} == {"skipped"}
    assert sim.requests_served == 0


def test_ca_bundle_makes_every_row_ok(
    ca: trustme.CA, ca_bundle: Path, serve: Callable[[ssl.SSLContext], Simulator], unlocks: Path
) -> None:
    sim = serve(server_context(ca.issue_cert("127.0.0.1")))
    result = run_cli(sim, unlocks, "--ca-bundle", str(ca_bundle))
    assert result.exit_code == 0, result.output
    assert statuses(unlocks.with_suffix(".results.csv")) == [("ok", "")] * ROWS
    assert sim.requests_served == ROWS


def test_profile_ca_bundle_from_python(
    ca: trustme.CA,
    ca_bundle: Path,
    serve: Callable[[ssl.SSLContext], Simulator],
    unlocks: Path,
    tmp_path: Path,
) -> None:
    sim = serve(server_context(ca.issue_cert("127.0.0.1")))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.staging]\nbase_url = "{sim.base_url}"\napi_username = "{sim.api_username}"\n'
        f'api_key_env = "STAGING_KEY"\nca_bundle = "{ca_bundle.name}"\n'
    )
    credentials = resolve_credentials(
        profile="staging", config_path=config, environ={"STAGING_KEY": sim.api_key}
    )
    report = run_batch(unlocks, credentials=credentials, results_path=tmp_path / "r.csv")
    assert report.exit_code == 0, report.summary


@pytest.mark.parametrize(
    ("make_cert", "base_host", "message"),
    [
        pytest.param(
            lambda ca: ca.issue_cert("affiliates.example.com"),
            "127.0.0.1",
            "TLS: the certificate of 127.0.0.1 is made out to another host name — use the name "
            "it was issued for in the base URL (--ca-bundle cannot fix a wrong name)",
            id="wrong-address",
        ),
        pytest.param(
            lambda ca: ca.issue_cert("127.0.0.1"),
            "localhost",
            "TLS: the certificate of localhost is made out to another host name — use the name "
            "it was issued for in the base URL (--ca-bundle cannot fix a wrong name)",
            id="wrong-name",
        ),
        pytest.param(
            lambda ca: ca.issue_cert(
                "127.0.0.1",
                not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
                not_after=datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC),
            ),
            "127.0.0.1",
            "TLS: the certificate of 127.0.0.1 has expired — the installation must renew it, or "
            "this machine's clock is wrong (--ca-bundle cannot fix this)",
            id="expired",
        ),
    ],
)
def test_each_certificate_problem_has_its_own_words(
    ca: trustme.CA,
    ca_bundle: Path,
    serve: Callable[[ssl.SSLContext], Simulator],
    unlocks: Path,
    make_cert: Callable[[trustme.CA], trustme.LeafCert],
    base_host: str,
    message: str,
) -> None:
    sim = serve(server_context(make_cert(ca)))
    base_url = f"https://{base_host}:{sim.port}"
    result = run_cli(sim, unlocks, "--ca-bundle", str(ca_bundle), base_url=base_url)
    assert result.exit_code == 3, result.output
    assert f"the first 3 rows: {message}\n" in result.output
    assert ("failed", message) in statuses(unlocks.with_suffix(".results.csv"))


def self_signed(host: str, directory: Path) -> tuple[Path, Path]:
    """A certificate signed by its own key, as a staging installation makes one: files of the
    certificate and of its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "staging")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "staging.pem", directory / "staging.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_self_signed_certificate_is_named_and_can_be_trusted(
    serve: Callable[[ssl.SSLContext], Simulator], unlocks: Path, tmp_path: Path
) -> None:
    cert, key = self_signed("127.0.0.1", tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sim = serve(context)
    message = (
        "TLS: the certificate of 127.0.0.1 is self-signed, so nothing vouches for it — if it "
        "is the installation's own, pass that certificate with --ca-bundle PATH"
    )
    refused = run_cli(sim, unlocks)
    assert refused.exit_code == 3, refused.output
    assert f"the first 3 rows: {message}\n" in refused.output
    trusted = run_cli(sim, unlocks, "--ca-bundle", str(cert))
    assert trusted.exit_code == 0, trusted.output
    assert sim.requests_served == ROWS


def test_https_to_a_plain_http_port_is_told_in_words(
    loop_thread: LoopThread, tmp_path: Path
) -> None:
    sim = Simulator(customers=1)
    loop_thread.run(sim.start())
    try:
        src = tmp_path / "one.csv"
        src.write_text("operation,customer_id\nunlock,1\n")
        run_batch(
            src,
            credentials=Credentials(f"https://127.0.0.1:{sim.port}", "u", "k"),
            results_path=tmp_path / "r.csv",
        )
    finally:
        loop_thread.run(sim.stop())
    assert statuses(tmp_path / "r.csv") == [
        (
            "failed",
            "TLS: 127.0.0.1 did not answer in TLS — if the installation speaks plain http on "
            "that port, its base URL starts with http://",
        )
    ]


@pytest.fixture
def mutual_tls(
    ca: trustme.CA, serve: Callable[[ssl.SSLContext], Simulator], tmp_path: Path
) -> tuple[Simulator, Path, Path]:
    """A server that answers only clients with a certificate from its client CA; that client's
    certificate and key files."""
    client_ca = trustme.CA()
    sim = serve(server_context(ca.issue_cert("127.0.0.1"), client_ca=client_ca))
    leaf = client_ca.issue_cert("nightly-sync@example.com")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return sim, cert, key


def test_mutual_tls_with_a_client_certificate(
    mutual_tls: tuple[Simulator, Path, Path], ca_bundle: Path, unlocks: Path
) -> None:
    sim, cert, key = mutual_tls
    result = run_cli(
        sim,
        unlocks,
        "--ca-bundle",
        str(ca_bundle),
        "--client-cert",
        str(cert),
        "--client-key",
        str(key),
    )
    assert result.exit_code == 0, result.output
    assert sim.requests_served == ROWS


def test_mutual_tls_from_python_without_the_certificate_gets_nowhere(
    mutual_tls: tuple[Simulator, Path, Path], ca_bundle: Path, unlocks: Path, tmp_path: Path
) -> None:
    sim, cert, key = mutual_tls
    without = Credentials(
        sim.base_url, sim.api_username, sim.api_key, network=Network(ca_bundle=ca_bundle)
    )
    # The server hangs up on a client without a certificate: a lost connection, retried.
    once = DispatchConfig(max_attempts=1)
    report = run_batch(
        unlocks, credentials=without, results_path=tmp_path / "a.csv", dispatch_config=once
    )
    assert report.exit_code == 3
    assert sim.requests_served == 0
    network = Network(ca_bundle=ca_bundle, client_cert=cert, client_key=key)
    with_cert = Credentials(sim.base_url, sim.api_username, sim.api_key, network=network)
    report = run_batch(unlocks, credentials=with_cert, results_path=tmp_path / "b.csv")
    assert report.exit_code == 0, report.summary


def test_a_bad_bundle_is_a_usage_error_before_anything_is_sent(
    ca: trustme.CA, serve: Callable[[ssl.SSLContext], Simulator], unlocks: Path, tmp_path: Path
) -> None:
    sim = serve(server_context(ca.issue_cert("127.0.0.1")))
    missing = tmp_path / "nope.pem"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(unlocks),
            "--base-url",
            sim.base_url,
            "--api-username",
            sim.api_username,
            "--ca-bundle",
            str(missing),
            "--results",
            str(tmp_path / "r.csv"),
        ],
        env={"BATCHTOOL_API_KEY": sim.api_key},
    )
    assert result.exit_code == 2, result.output
    assert result.output == f"batchtool: error: CA bundle {missing} does not exist\n"
    assert sim.requests_served == 0
    # No results, no journal, no lock: nothing to resume or clean up after a usage error.
    assert [p.name for p in tmp_path.iterdir()] == ["unlock.csv"]
