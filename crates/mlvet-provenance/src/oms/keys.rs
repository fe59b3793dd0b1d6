//! ECDSA keys on the curves model signing allows (P-256, P-384, P-521), read from PEM (with any
//! text around the block, as GnuTLS `certtool` writes it) or DER, and the signatures they make:
//! ASN.1 DER, over the message hashed with the curve's hash (SHA-256, SHA-384, SHA-512).

use der::Decode as _;
use der::asn1::ObjectIdentifier;
use ecdsa::signature::hazmat::PrehashVerifier as _;
use ecdsa::signature::{Signer as _, Verifier as _};
use pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use sha2::Digest as _;

use super::OmsError;

pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Largest key or certificate file read.
pub const MAX_KEY_FILE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        match oid {
            SECP256R1 => Some(Curve::P256),
            SECP384R1 => Some(Curve::P384),
            SECP521R1 => Some(Curve::P521),
            _ => None,
        }
    }
}

/// A verifying key, with the SubjectPublicKeyInfo it was read from.
#[derive(Debug, Clone)]
pub struct PublicKey {
    key: VerifyingKey,
    spki_der: Vec<u8>,
}

#[derive(Clone)]
enum VerifyingKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let curve = match self {
            VerifyingKey::P256(_) => Curve::P256,
            VerifyingKey::P384(_) => Curve::P384,
            VerifyingKey::P521(_) => Curve::P521,
        };
        write!(f, "VerifyingKey({})", curve.name())
    }
}

/// The hash a digest given to [`PublicKey::verify_prehash`] was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrehashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl PrehashAlgorithm {
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            PrehashAlgorithm::Sha256 => sha2::Sha256::digest(message).to_vec(),
            PrehashAlgorithm::Sha384 => sha2::Sha384::digest(message).to_vec(),
            PrehashAlgorithm::Sha512 => sha2::Sha512::digest(message).to_vec(),
        }
    }
}

impl PublicKey {
    /// From a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, OmsError> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| OmsError::Key(format!("not a public key: {e}")))?;
        if info.algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(OmsError::Key(format!(
                "only elliptic-curve keys are supported (key algorithm {})",
                info.algorithm.oid
            )));
        }
        let curve = info
            .algorithm
            .parameters_oid()
            .ok()
            .and_then(Curve::from_oid)
            .ok_or_else(|| {
                OmsError::Key("unsupported curve (P-256, P-384 or P-521 only)".to_string())
            })?;
        let point = info.subject_public_key.raw_bytes();
        let bad = |e: ecdsa::Error| OmsError::Key(format!("invalid {} point: {e}", curve.name()));
        let key = match curve {
            Curve::P256 => {
                VerifyingKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
            Curve::P384 => {
                VerifyingKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
            Curve::P521 => {
                VerifyingKey::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
        };
        Ok(PublicKey {
            key,
            spki_der: der.to_vec(),
        })
    }

    /// From a key file: a PEM `PUBLIC KEY` block anywhere in the text, or DER.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self, OmsError> {
        match pem_block(bytes, "PUBLIC KEY") {
            Some(der) => Self::from_spki_der(&der?),
            None => Self::from_spki_der(bytes),
        }
    }

    pub fn curve(&self) -> Curve {
        match self.key {
            VerifyingKey::P256(_) => Curve::P256,
            VerifyingKey::P384(_) => Curve::P384,
            VerifyingKey::P521(_) => Curve::P521,
        }
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The PEM text Python's `cryptography` writes for this key (64-column base64, `\n`).
    pub fn canonical_pem(&self) -> String {
        der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &self.spki_der)
            .unwrap_or_default()
    }

    /// The key's identifier in model-signing bundles (`publicKey.hint`): hex SHA-256 of
    /// [`Self::canonical_pem`].
    pub fn hint(&self) -> String {
        crate::hashing::hex(&sha2::Sha256::digest(self.canonical_pem().as_bytes()))
    }

    /// Verifies a DER signature over `message` hashed with the curve's hash.
    pub fn verify(&self, message: &[u8], der_signature: &[u8]) -> bool {
        match &self.key {
            VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            VerifyingKey::P521(k) => p521::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
        }
    }

    /// Verifies a DER signature over `message` hashed with `hash` (certificates signed with a
    /// hash that is not the curve's; model-signing v0.2 certificate bundles, which always used
    /// SHA-256).
    pub fn verify_with(
        &self,
        hash: PrehashAlgorithm,
        message: &[u8],
        der_signature: &[u8],
    ) -> bool {
        let digest = hash.digest(message);
        match &self.key {
            VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
            VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
            VerifyingKey::P521(k) => p521::ecdsa::Signature::from_der(der_signature)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
        }
    }
}

/// A signing key.
pub struct PrivateKey {
    key: SigningKey,
    public: PublicKey,
}

enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

impl PrivateKey {
    /// From a PEM file: `EC PRIVATE KEY` (SEC1, what `openssl ecparam -genkey` writes) or
    /// unencrypted PKCS#8 `PRIVATE KEY`.
    pub fn from_pem_bytes(bytes: &[u8]) -> Result<Self, OmsError> {
        if pem_block(bytes, "ENCRYPTED PRIVATE KEY").is_some() {
            return Err(OmsError::Key(
                "encrypted private keys are not supported: decrypt it first (openssl pkcs8)"
                    .to_string(),
            ));
        }
        let (curve, der, sec1) = if let Some(der) = pem_block(bytes, "EC PRIVATE KEY") {
            let der = der?;
            let parsed = sec1::EcPrivateKey::from_der(&der)
                .map_err(|e| OmsError::Key(format!("invalid EC private key: {e}")))?;
            // The curve is named in the key's parameters (OpenSSL always writes them); a key
            // without them is recognised by its length.
            let curve = match parsed.parameters.and_then(|p| p.named_curve()) {
                Some(oid) => Curve::from_oid(oid),
                None => match parsed.private_key.len() {
                    32 => Some(Curve::P256),
                    48 => Some(Curve::P384),
                    65 | 66 => Some(Curve::P521),
                    _ => None,
                },
            };
            (curve, der, true)
        } else if let Some(der) = pem_block(bytes, "PRIVATE KEY") {
            let der = der?;
            let info = pkcs8::PrivateKeyInfo::from_der(&der)
                .map_err(|e| OmsError::Key(format!("invalid PKCS#8 private key: {e}")))?;
            if info.algorithm.oid != ID_EC_PUBLIC_KEY {
                return Err(OmsError::Key(
                    "only elliptic-curve private keys are supported".to_string(),
                ));
            }
            (
                info.algorithm
                    .parameters_oid()
                    .ok()
                    .and_then(Curve::from_oid),
                der,
                false,
            )
        } else {
            return Err(OmsError::Key(
                "no `EC PRIVATE KEY` or `PRIVATE KEY` PEM block found".to_string(),
            ));
        };
        let curve = curve.ok_or_else(|| {
            OmsError::Key("unsupported curve (P-256, P-384 or P-521 only)".to_string())
        })?;
        let bad = |e: String| OmsError::Key(format!("invalid {} private key: {e}", curve.name()));
        macro_rules! load {
            ($krate:ident, $variant:ident) => {{
                let secret = if sec1 {
                    $krate::SecretKey::from_sec1_der(&der).map_err(|e| bad(e.to_string()))?
                } else {
                    $krate::SecretKey::from_pkcs8_der(&der).map_err(|e| bad(e.to_string()))?
                };
                let spki = secret
                    .public_key()
                    .to_public_key_der()
                    .map_err(|e| bad(e.to_string()))?;
                let signing = $krate::ecdsa::SigningKey::from_slice(&secret.to_bytes())
                    .map_err(|e| bad(e.to_string()))?;
                (SigningKey::$variant(signing), spki.as_bytes().to_vec())
            }};
        }
        let (key, spki) = match curve {
            Curve::P256 => load!(p256, P256),
            Curve::P384 => load!(p384, P384),
            Curve::P521 => load!(p521, P521),
        };
        Ok(PrivateKey {
            key,
            public: PublicKey::from_spki_der(&spki)?,
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// A deterministic (RFC 6979) DER signature over `message` hashed with the curve's hash.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            SigningKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
            SigningKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
            SigningKey::P521(k) => {
                let s: p521::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

/// The DER inside the first `-----BEGIN {label}-----` block of `text`: `None` when there is no
/// such block, `Some(Err)` when it is malformed.
pub fn pem_block(bytes: &[u8], label: &str) -> Option<Result<Vec<u8>, OmsError>> {
    pem_blocks(bytes, label).into_iter().next()
}

/// Every `-----BEGIN {label}-----` block of `text`, in order.
pub fn pem_blocks(bytes: &[u8], label: &str) -> Vec<Result<Vec<u8>, OmsError>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start..];
        let Some(stop) = after.find(&end) else {
            out.push(Err(OmsError::Key(format!(
                "unterminated {label} PEM block"
            ))));
            break;
        };
        let block = &after[..stop + end.len()];
        // Normalise line endings: pem-rfc7468 is strict about them.
        let normalised = block.replace("\r\n", "\n");
        out.push(
            der::pem::decode_vec(normalised.as_bytes())
                .map(|(_, der)| der)
                .map_err(|e| OmsError::Key(format!("invalid {label} PEM block: {e}"))),
        );
        rest = &after[stop + end.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = "../../../shared/corpus/model-signing/keys/certificate";

    fn read(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(KEYS)
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn fixture_key_pair_loads_and_round_trips() {
        let public = PublicKey::from_file_bytes(&read("signing-key-pub.pem")).expect("public");
        assert_eq!(public.curve(), Curve::P384);
        // The reference tool's hint for this key (v1.1.0 fixture, full form).
        assert!(
            public
                .hint()
                .starts_with("e8450dec4eb99dae995da9af1bc2cc9f76ed669e")
        );
        let private = PrivateKey::from_pem_bytes(&read("signing-key.pem")).expect("private");
        assert_eq!(private.public_key().spki_der(), public.spki_der());
        let signature = private.sign(b"message");
        assert!(public.verify(b"message", &signature));
        assert!(!public.verify(b"massage", &signature));
        assert!(!public.verify(b"message", b"\x30\x00"));
    }

    #[test]
    fn every_curve_signs_and_verifies() {
        for pem in [
            p256::SecretKey::from_slice(&[7u8; 32]).map(|k| {
                k.to_sec1_pem(der::pem::LineEnding::LF)
                    .map(|s| s.to_string())
            }),
            p384::SecretKey::from_slice(&[7u8; 48]).map(|k| {
                k.to_sec1_pem(der::pem::LineEnding::LF)
                    .map(|s| s.to_string())
            }),
        ] {
            let pem = pem.expect("key").expect("pem");
            let private = PrivateKey::from_pem_bytes(pem.as_bytes()).expect("load");
            let signature = private.sign(b"m");
            assert!(private.public_key().verify(b"m", &signature));
        }
    }

    proptest::proptest! {
        #[test]
        fn key_parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = PublicKey::from_file_bytes(&bytes);
            let _ = PrivateKey::from_pem_bytes(&bytes);
        }
    }
}
