"""The mesh CA, device keys and certificates, and where they live on disk.

A mesh is one EC P-256 CA. Every device holds its own P-256 key and a certificate signed by the CA
that names its device id twice: CN = the device id, SAN DNS = `<device-id>.meshd.invalid`, with
both clientAuth and serverAuth EKUs (the same certificate serves both ends of a peer connection).

On disk, in `<home>/tls/` (0700):

    ca.crt        the mesh CA certificate (public)
    ca.key        the mesh CA key: only on the machine that ran `meshctl init` (0600)
    device.key    this device's key (0600)
    device.crt    this device's certificate, signed by the CA
    invites.db    outstanding invite codes, hashed (pairing.py; CA holders only)

Private files are written 0600 and refused when group or other may read them (like ssh does).
Only a CA holder can invite new devices: it is the only machine that can sign certificates.

The mesh fingerprint (the mDNS TXT `fp`) is the first 16 hex of SHA-256 over the CA's
SubjectPublicKeyInfo: it tells daemons of different meshes on one LAN apart; it is no secret and
no proof of anything (identity always comes from TLS).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meshd.errors import MeshError
from meshd.security import KeyMaterialError

TLS_DIR = "tls"
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
DEVICE_KEY = "device.key"
DEVICE_CERT = "device.crt"
SAN_SUFFIX = ".meshd.invalid"
# Every device certificate also names this: a client dialling an address whose device id it does
# not know yet (a static peer) checks "some member of my mesh" and learns the id from the peer.
MEMBER_SAN = "member.meshd.invalid"

CA_DAYS = 365 * 30
DEVICE_DAYS = 365 * 20  # long-lived: revocation (forget), not expiry, removes devices
FINGERPRINT_HEX = 16
MAX_PEM = 64 * 1024

_INIT_HINT = "run `meshctl init` on the first machine or `meshctl join CODE` on the others"


def is_device_id(s: str) -> bool:
    return len(s) == 32 and all(c in "0123456789abcdef" for c in s)


def san_for(device_id: str) -> str:
    """The DNS name a device's certificate carries and a client checks (`<id>.meshd.invalid`)."""
    return f"{device_id}{SAN_SUFFIX}"


def tls_dir(home: Path) -> Path:
    return Path(home) / TLS_DIR


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


# -- keys and certificates ---------------------------------------------------------------------


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(pem: bytes) -> x509.Certificate:
    if len(pem) > MAX_PEM:
        raise KeyMaterialError("certificate is too large")
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as e:
        raise KeyMaterialError(f"not a PEM certificate: {e}") from None


def load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise KeyMaterialError(f"not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyMaterialError("private key is not EC P-256")
    return key


def create_ca(name: str = "meshd mesh") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new mesh CA: P-256 key and a self-signed, long-lived CA certificate (path length 0)."""
    key = new_key()
    pub = key.public_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meshd"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{name} {spki_fingerprint(pub)}"),
    ])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_csr(key: ec.EllipticCurvePrivateKey, device_id: str) -> x509.CertificateSigningRequest:
    """A CSR naming `device_id` (CN and SAN), signed by the device's own key."""
    if not is_device_id(device_id):
        raise KeyMaterialError(f"not a device id: {device_id!r}")
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(san_for(device_id))]), critical=False)
        .sign(key, hashes.SHA256())
    )


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def verify_csr(pem: bytes) -> tuple[x509.CertificateSigningRequest, str]:
    """Parse a CSR, check its self-signature, P-256 key and that it names one device id; return it and the id."""
    if len(pem) > MAX_PEM:
        raise KeyMaterialError("certificate request is too large")
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as e:
        raise KeyMaterialError(f"not a PEM certificate request: {e}") from None
    if not csr.is_signature_valid:
        raise KeyMaterialError("certificate request signature is invalid")
    pub = csr.public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey) or not isinstance(pub.curve, ec.SECP256R1):
        raise KeyMaterialError("certificate request key is not EC P-256")
    cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1 or not is_device_id(str(cns[0].value)):
        raise KeyMaterialError("certificate request must name exactly one device id as its CN")
    device_id = str(cns[0].value)
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    if sans and sans != [san_for(device_id)]:
        raise KeyMaterialError("certificate request SAN does not match its device id")
    return csr, device_id


def issue_device_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    device_id: str,
    public_key: ec.EllipticCurvePublicKey,
    days: int = DEVICE_DAYS,
) -> x509.Certificate:
    """Sign a device certificate: CN and SAN name the device id; client and server auth."""
    if not is_device_id(device_id):
        raise KeyMaterialError(f"not a device id: {device_id!r}")
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(min(now + _dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san_for(device_id)), x509.DNSName(MEMBER_SAN)]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def sign_csr(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, pem: bytes) -> tuple[x509.Certificate, str]:
    """Verify a device's CSR and issue its certificate; returns (certificate, device id)."""
    csr, device_id = verify_csr(pem)
    return issue_device_cert(ca_key, ca_cert, device_id, csr.public_key()), device_id  # type: ignore[arg-type]


def device_id_of(cert: x509.Certificate) -> str:
    """The device id a certificate names (its CN, which must match its single SAN)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1 or not is_device_id(str(cns[0].value)):
        raise KeyMaterialError("certificate does not name a device id")
    device_id = str(cns[0].value)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    if san_for(device_id) not in sans or any(n not in (san_for(device_id), MEMBER_SAN) for n in sans):
        raise KeyMaterialError("certificate SAN does not match its device id")
    return device_id


def device_id_from_san(name: str) -> str | None:
    """`<id>.meshd.invalid` -> id, else None."""
    if name.endswith(SAN_SUFFIX):
        did = name[: -len(SAN_SUFFIX)]
        if is_device_id(did):
            return did
    return None


def verify_device_cert(ca_cert: x509.Certificate, cert: x509.Certificate) -> str:
    """Check that `cert` was signed by the mesh CA and is valid now; return its device id."""
    if cert.issuer != ca_cert.subject:
        raise KeyMaterialError("certificate was not issued by this mesh's CA")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise KeyMaterialError(f"certificate was not issued by this mesh's CA: {e}") from None
    now = _now()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise KeyMaterialError("certificate is not valid now (check the clock)")
    return device_id_of(cert)


def spki_fingerprint(pub: ec.EllipticCurvePublicKey) -> str:
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:FINGERPRINT_HEX]


def ca_fingerprint(ca_cert: x509.Certificate | bytes) -> str:
    """The mesh fingerprint: first 16 hex of SHA-256 of the CA's public key (mDNS TXT `fp`)."""
    if isinstance(ca_cert, bytes):
        ca_cert = load_cert(ca_cert)
    return spki_fingerprint(ca_cert.public_key())  # type: ignore[arg-type]


def cert_fingerprint(pem_or_der: bytes) -> str:
    """SHA-256 over a certificate's DER, full hex."""
    if pem_or_der.lstrip().startswith(b"-----"):
        pem_or_der = load_cert(pem_or_der).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(pem_or_der).hexdigest()


# -- files with owner-only permissions ---------------------------------------------------------


def _check_owner_only(path: Path, *, is_dir: bool) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise KeyMaterialError(f"cannot read {path}: {e.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise KeyMaterialError(f"{path} is a symbolic link; refusing to use it")
    if is_dir != stat.S_ISDIR(st.st_mode):
        raise KeyMaterialError(f"{path} is not a {'folder' if is_dir else 'regular file'}")
    if os.name == "posix":
        if st.st_uid != os.getuid():
            raise KeyMaterialError(f"{path} belongs to another user (uid {st.st_uid}); refusing to use it")
        if st.st_mode & 0o077:
            raise KeyMaterialError(
                f"{path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); refusing to use it",
                hint=f"chmod {'700' if is_dir else '600'} {path}",
            )


def ensure_tls_dir(home: Path) -> Path:
    """Create `<home>/tls` as 0700 (and the home as 0700 if missing); refuse an unsafe existing one."""
    d = tls_dir(home)
    try:
        Path(home).mkdir(parents=True, exist_ok=True, mode=0o700)
        d.mkdir(mode=0o700, exist_ok=True)
    except OSError as e:
        raise KeyMaterialError(f"cannot create {d}: {e.strerror}") from None
    _check_owner_only(d, is_dir=True)
    return d


def write_private(path: Path, data: bytes) -> None:
    """Write a file atomically with mode 0600 (never visible with wider permissions)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise KeyMaterialError(f"cannot write {path}: {e.strerror}") from None


def read_private(path: Path) -> bytes:
    """Read a key file, refusing it when group/other can access it or it is not ours."""
    _check_owner_only(path, is_dir=False)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyMaterialError(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_PEM:
        raise KeyMaterialError(f"{path} is too large")
    return data


@dataclass(frozen=True)
class MeshMaterial:
    """This device's trust material: the mesh CA, its key and certificate (and the CA key if held)."""

    home: Path
    ca_cert_pem: bytes
    device_key_pem: bytes
    device_cert_pem: bytes
    device_id: str
    fingerprint: str
    ca_key_pem: bytes | None = None

    @property
    def is_ca_holder(self) -> bool:
        return self.ca_key_pem is not None

    @property
    def ca_cert(self) -> x509.Certificate:
        return load_cert(self.ca_cert_pem)

    @property
    def ca_key(self) -> ec.EllipticCurvePrivateKey:
        if self.ca_key_pem is None:
            raise KeyMaterialError("this device does not hold the mesh CA key", hint="invite from the machine that ran `meshctl init`")
        return load_key(self.ca_key_pem)


def has_material(home: Path) -> bool:
    d = tls_dir(home)
    return (d / CA_CERT).exists() and (d / DEVICE_KEY).exists() and (d / DEVICE_CERT).exists()


def load_material(home: Path, *, expect_device_id: str | None = None) -> MeshMaterial:
    """Load and check `<home>/tls/`: permissions, CA signature on the device cert, key match."""
    d = tls_dir(home)
    if not has_material(home):
        raise KeyMaterialError(f"this machine is not part of a mesh yet (no certificates in {d})", hint=_INIT_HINT)
    _check_owner_only(d, is_dir=True)
    try:
        ca_pem = (d / CA_CERT).read_bytes()
        dev_pem = (d / DEVICE_CERT).read_bytes()
    except OSError as e:
        raise KeyMaterialError(f"cannot read certificates in {d}: {e.strerror}") from None
    key_pem_ = read_private(d / DEVICE_KEY)
    ca_key_pem = read_private(d / CA_KEY) if (d / CA_KEY).exists() else None
    ca = load_cert(ca_pem)
    dev = load_cert(dev_pem)
    device_id = verify_device_cert(ca, dev)
    key = load_key(key_pem_)
    if key.public_key().public_numbers() != dev.public_key().public_numbers():  # type: ignore[union-attr]
        raise KeyMaterialError(f"{d / DEVICE_KEY} does not match {d / DEVICE_CERT}")
    if ca_key_pem is not None and load_key(ca_key_pem).public_key().public_numbers() != ca.public_key().public_numbers():  # type: ignore[union-attr]
        raise KeyMaterialError(f"{d / CA_KEY} does not match {d / CA_CERT}")
    if expect_device_id is not None and device_id != expect_device_id:
        raise KeyMaterialError(
            f"the certificate in {d} names device {device_id[:12]}, but this device is {expect_device_id[:12]}",
            hint="the home was copied from another machine; run `meshctl join` here with a new invite",
        )
    return MeshMaterial(Path(home), ca_pem, key_pem_, dev_pem, device_id, ca_fingerprint(ca), ca_key_pem)


def save_material(
    home: Path,
    *,
    ca_cert_pem: bytes,
    device_key_pem: bytes,
    device_cert_pem: bytes,
    ca_key_pem: bytes | None = None,
) -> None:
    d = ensure_tls_dir(home)
    if ca_key_pem is not None:
        write_private(d / CA_KEY, ca_key_pem)
    elif (d / CA_KEY).exists():
        (d / CA_KEY).unlink()  # a joined device never keeps a stale CA key of another mesh
    write_private(d / DEVICE_KEY, device_key_pem)
    write_private(d / DEVICE_CERT, device_cert_pem)
    write_private(d / CA_CERT, ca_cert_pem)


def init_mesh(home: Path, device_id: str, *, force: bool = False, name: str = "meshd mesh") -> MeshMaterial:
    """Create a mesh: CA + this device's key and certificate in `<home>/tls/`.

    Refuses to replace an existing mesh unless `force` (which orphans every device paired so far).
    """
    if has_material(home) and not force:
        try:
            fp = load_material(home).fingerprint
        except MeshError:
            fp = "?"
        raise KeyMaterialError(
            f"this machine already belongs to a mesh (fingerprint {fp}); refusing to replace it",
            hint="use `meshctl init --force` to create a new mesh (every paired device must then join again)",
        )
    ca_key, ca = create_ca(name)
    key = new_key()
    cert = issue_device_cert(ca_key, ca, device_id, key.public_key())
    save_material(home, ca_cert_pem=cert_pem(ca), device_key_pem=key_pem(key), device_cert_pem=cert_pem(cert), ca_key_pem=key_pem(ca_key))
    return load_material(home, expect_device_id=device_id)


def mesh_fingerprint(home: Path) -> str | None:
    """The mesh fingerprint of this home (mDNS TXT `fp`), or None when it has no mesh yet."""
    try:
        ca = (tls_dir(home) / CA_CERT).read_bytes()
        return ca_fingerprint(ca)
    except (OSError, MeshError):
        return None
