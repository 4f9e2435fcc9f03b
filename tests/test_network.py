"""The run's TLS settings: a CA bundle or client certificate that cannot be used is a usage
error with one line that names the file, raised before anything is sent."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from batchtool.errors import UsageError
from batchtool.network import Network


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def private(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@pytest.fixture
def client(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path]:
    """A client certificate and its key, in two private files."""
    leaf = ca.issue_cert("ops@example.com")
    cert = private(tmp_path / "client.pem", leaf.cert_chain_pems[0].bytes())
    key = private(tmp_path / "client.key", leaf.private_key_pem.bytes())
    return cert, key


def error_of(network: Network) -> str:
    with pytest.raises(UsageError) as info:
        network.ssl_context()
    return str(info.value)


def test_the_bundle_is_trusted_besides_the_system_store(ca: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    context = Network(ca_bundle=bundle).ssl_context()
    assert context is not None
    assert context.cert_store_stats()["x509_ca"] == system + 1
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"",
            "CA bundle {path} holds no PEM certificate — give the CA's certificate(s) in PEM "
            "form (-----BEGIN CERTIFICATE-----)",
            id="empty",
        ),
        pytest.param(
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            "CA bundle {path} holds a damaged certificate — give the CA's certificate(s) in "
            "PEM form, as the CA publishes them",
            id="broken",
        ),
    ],
)
def test_a_bundle_that_is_not_pem_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    assert error_of(Network(ca_bundle=bundle)) == message.format(path=bundle)


def test_a_missing_bundle_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "nope.pem"
    assert error_of(Network(ca_bundle=bundle)) == f"CA bundle {bundle} does not exist"


def test_a_client_certificate_with_its_key_loads(client: tuple[Path, Path]) -> None:
    cert, key = client
    Network(client_cert=cert, client_key=key).ssl_context()
    both = private(cert.with_name("both.pem"), cert.read_bytes() + key.read_bytes())
    Network(client_cert=both).ssl_context()


def test_a_client_certificate_without_a_key_says_where_to_give_it(
    client: tuple[Path, Path],
) -> None:
    cert, _ = client
    assert error_of(Network(client_cert=cert)) == (
        f"client certificate {cert} holds no PEM private key — give the key with "
        "client_key (--client-key)"
    )


def test_a_key_of_another_certificate_is_named(
    ca: trustme.CA, client: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, _ = client
    other = private(tmp_path / "other.key", ca.issue_cert("x").private_key_pem.bytes())
    assert error_of(Network(client_cert=cert, client_key=other)) == (
        f"client key {other} does not belong to client certificate {cert}"
    )


def test_a_key_others_can_read_is_refused(client: tuple[Path, Path]) -> None:
    cert, key = client
    key.chmod(0o644)
    assert error_of(Network(client_cert=cert, client_key=key)) == (
        f"client key {key} holds a secret but other users can open it (mode 0644) — "
        f"run: chmod 600 {key}"
    )


def test_a_key_protected_by_a_passphrase_is_refused_without_asking(
    client: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = client
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    encrypted = private(
        tmp_path / "encrypted.key",
        loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        ),
    )
    assert error_of(Network(client_cert=cert, client_key=encrypted)) == (
        f"client key {encrypted} is protected by a passphrase, which an unattended run cannot "
        f"type — store it decrypted: openssl pkey -in {encrypted} -out KEYFILE, "
        "then chmod 600 KEYFILE"
    )


def test_repr_masks_the_proxy_password() -> None:
    network = Network(ca_bundle=Path("/etc/ca.pem"), proxy="http://u:pw@proxy:3128")
    assert (
        repr(network)
        == "Network(ca_bundle=PosixPath('/etc/ca.pem'), proxy='http://***@proxy:3128')"
    )
