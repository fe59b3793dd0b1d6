//! The certificate method: the bundle carries the signing certificate first, then the
//! certificates up to (not always including) a root; the verifier supplies the trusted roots.
//! Validated as the reference tool does with OpenSSL: a path from the signing certificate to a
//! trusted certificate, every signature on it checked, every certificate valid at the signing
//! certificate's `notBefore` (the reference sets the store's time to it), issuers marked as CAs,
//! and the signing certificate allowed to sign (key usage `digitalSignature`, or extended key
//! usage `codeSigning`).

use der::asn1::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::signature::Verifier as _;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use super::OmsError;
use super::keys::{ID_EC_PUBLIC_KEY, PrehashAlgorithm, PublicKey};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// Longest certificate path followed (OpenSSL's default depth is 100; real chains have 2–4).
const MAX_DEPTH: usize = 16;
/// Most certificates accepted from a bundle or a trust file.
pub const MAX_CERTIFICATES: usize = 1024;

/// A parsed certificate with its DER.
#[derive(Debug, Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    pub cert: Certificate,
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Self, OmsError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| OmsError::Certificate(format!("invalid certificate: {e}")))?;
        Ok(Cert {
            der: der.to_vec(),
            cert,
        })
    }

    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    fn is_ca(&self) -> bool {
        extension::<BasicConstraints>(&self.cert, BASIC_CONSTRAINTS).is_some_and(|b| b.ca)
    }

    fn self_signed(&self) -> bool {
        self.cert.tbs_certificate.subject == self.cert.tbs_certificate.issuer
            && self.signed_by(self)
    }

    fn valid_at(&self, unix_seconds: u64) -> bool {
        let validity = &self.cert.tbs_certificate.validity;
        let from = validity.not_before.to_unix_duration().as_secs();
        let to = validity.not_after.to_unix_duration().as_secs();
        from <= unix_seconds && unix_seconds <= to
    }

    /// Whether `issuer` signed this certificate.
    fn signed_by(&self, issuer: &Cert) -> bool {
        if self.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
            return false;
        }
        let Ok(tbs) = self.cert.tbs_certificate.to_der() else {
            return false;
        };
        let Some(signature) = self.cert.signature.as_bytes() else {
            return false;
        };
        let spki = &issuer.cert.tbs_certificate.subject_public_key_info;
        let algorithm = self.cert.signature_algorithm.oid;
        if spki.algorithm.oid == RSA_ENCRYPTION {
            let Ok(key) = rsa::RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes())
            else {
                return false;
            };
            let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                return false;
            };
            return match algorithm {
                SHA256_WITH_RSA => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
                    .verify(&tbs, &signature)
                    .is_ok(),
                SHA384_WITH_RSA => rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key)
                    .verify(&tbs, &signature)
                    .is_ok(),
                SHA512_WITH_RSA => rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key)
                    .verify(&tbs, &signature)
                    .is_ok(),
                _ => false,
            };
        }
        if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
            let Ok(spki_der) = spki.to_der() else {
                return false;
            };
            let Ok(key) = PublicKey::from_spki_der(&spki_der) else {
                return false;
            };
            let hash = match algorithm {
                ECDSA_WITH_SHA256 => PrehashAlgorithm::Sha256,
                ECDSA_WITH_SHA384 => PrehashAlgorithm::Sha384,
                ECDSA_WITH_SHA512 => PrehashAlgorithm::Sha512,
                _ => return false,
            };
            return key.verify_with(hash, &tbs, signature);
        }
        false
    }

    /// The certificate's key, when it is one model signing can use.
    pub fn public_key(&self) -> Result<PublicKey, OmsError> {
        let der = self
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| OmsError::Certificate(e.to_string()))?;
        PublicKey::from_spki_der(&der)
    }
}

fn extension<'a, T: der::Decode<'a>>(cert: &'a Certificate, oid: ObjectIdentifier) -> Option<T> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .and_then(|e| T::from_der(e.extn_value.as_bytes()).ok())
}

/// Every `CERTIFICATE` PEM block of a trust file.
pub fn certificates_from_pem(bytes: &[u8]) -> Result<Vec<Cert>, OmsError> {
    let blocks = super::keys::pem_blocks(bytes, "CERTIFICATE");
    if blocks.is_empty() {
        return Err(OmsError::Certificate(
            "no CERTIFICATE PEM block found".to_string(),
        ));
    }
    if blocks.len() > MAX_CERTIFICATES {
        return Err(OmsError::Certificate(format!(
            "more than {MAX_CERTIFICATES} certificates"
        )));
    }
    blocks
        .into_iter()
        .map(|der| Cert::from_der(&der?))
        .collect()
}

/// Validates `chain` (signing certificate first) against `trusted`; returns the signing key and
/// the subjects on the path, signing certificate first.
pub fn verify_chain(
    chain: &[Cert],
    trusted: &[Cert],
) -> Result<(PublicKey, Vec<String>), OmsError> {
    let leaf = chain
        .first()
        .ok_or_else(|| OmsError::Certificate("the bundle carries no certificate".to_string()))?;
    let time = leaf
        .cert
        .tbs_certificate
        .validity
        .not_before
        .to_unix_duration()
        .as_secs();
    let mut path = vec![leaf.subject()];
    let mut current = leaf;
    let untrusted = chain.get(1..).unwrap_or_default();
    for _ in 0..MAX_DEPTH {
        if !current.valid_at(time) {
            return Err(OmsError::Certificate(format!(
                "certificate {} is not valid at the signing time",
                current.subject()
            )));
        }
        // Like OpenSSL without partial chains: the path ends at a trusted self-signed root.
        if current.self_signed() && trusted.iter().any(|t| t.der == current.der) {
            return finish(leaf, path);
        }
        let issuer = trusted
            .iter()
            .chain(untrusted.iter())
            .find(|c| c.der != current.der && current.signed_by(c));
        let Some(issuer) = issuer else {
            return Err(OmsError::Certificate(format!(
                "unable to get the issuer of {}: no trusted or bundled certificate signed it",
                current.subject()
            )));
        };
        if !issuer.is_ca() {
            return Err(OmsError::Certificate(format!(
                "{} issued a certificate but is not a CA",
                issuer.subject()
            )));
        }
        path.push(issuer.subject());
        current = issuer;
    }
    Err(OmsError::Certificate(
        "certificate path too long".to_string(),
    ))
}

fn finish(leaf: &Cert, path: Vec<String>) -> Result<(PublicKey, Vec<String>), OmsError> {
    let digital_signature = extension::<KeyUsage>(&leaf.cert, KEY_USAGE)
        .is_some_and(|usage| usage.0.contains(KeyUsages::DigitalSignature));
    let code_signing = extension::<ExtendedKeyUsage>(&leaf.cert, EXTENDED_KEY_USAGE)
        .is_some_and(|usage| usage.0.contains(&CODE_SIGNING));
    if !digital_signature && !code_signing {
        return Err(OmsError::Certificate(format!(
            "signing certificate {} cannot be used for signing (no digitalSignature key usage or codeSigning extended key usage)",
            leaf.subject()
        )));
    }
    Ok((leaf.public_key()?, path))
}
