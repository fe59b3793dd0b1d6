//! The signature file: a Sigstore bundle (v0.3 media type) holding a DSSE envelope whose payload
//! is an in-toto statement. Parsed leniently where the reference tool's releases differ (`keyid`
//! null, empty or absent; `publicKey.hint` or the older `rawBytes` + `keyDetails`; missing
//! `tlogEntries`), strictly where security depends on it (media type, payload type, one
//! signature read, base64).

use base64::Engine as _;
use serde::Deserialize;

use super::OmsError;

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest signature file read.
pub const MAX_SIGNATURE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawMaterial,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    public_key: Option<RawPublicKey>,
    x509_certificate_chain: Option<RawChain>,
    certificate: Option<RawCertificate>,
    #[serde(default)]
    tlog_entries: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    hint: Option<String>,
    raw_bytes: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawChain {
    certificates: Vec<RawCertificate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCertificate {
    raw_bytes: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawSignature>,
}

#[derive(Debug, Deserialize)]
struct RawSignature {
    sig: String,
}

/// How the bundle says it can be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// Key method. `hint` (v1.1+) identifies the key; older bundles embed the PEM (`rawBytes`).
    PublicKey {
        hint: Option<String>,
        embedded_pem: Option<Vec<u8>>,
    },
    /// Certificate method: signing certificate first, DER.
    CertificateChain(Vec<Vec<u8>>),
    /// Keyless Sigstore: a Fulcio certificate and transparency-log entries.
    Keyless {
        certificate: Vec<u8>,
        tlog_entries: usize,
    },
}

impl Material {
    pub fn method(&self) -> &'static str {
        match self {
            Material::PublicKey { .. } => "key",
            Material::CertificateChain(_) => "certificate",
            Material::Keyless { .. } => "sigstore",
        }
    }
}

/// A parsed signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub material: Material,
    pub payload_type: String,
    /// The statement bytes exactly as signed.
    pub payload: Vec<u8>,
    /// DER ECDSA signature (the first of the envelope's signatures, as the reference reads it).
    pub signature: Vec<u8>,
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, OmsError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| OmsError::Bundle(format!("{field} is not base64: {e}")))
}

impl Bundle {
    pub fn parse(bytes: &[u8]) -> Result<Self, OmsError> {
        if bytes.len() > MAX_SIGNATURE_BYTES {
            return Err(OmsError::Bundle(format!(
                "the signature file is larger than {MAX_SIGNATURE_BYTES} bytes"
            )));
        }
        let raw: RawBundle = serde_json::from_slice(bytes)
            .map_err(|e| OmsError::Bundle(format!("not a Sigstore bundle: {e}")))?;
        if raw.media_type != BUNDLE_MEDIA_TYPE {
            return Err(OmsError::Bundle(format!(
                "unsupported bundle media type {:?} (expected {BUNDLE_MEDIA_TYPE})",
                raw.media_type
            )));
        }
        let envelope = raw.dsse_envelope.ok_or_else(|| {
            OmsError::Bundle(
                "the bundle holds no DSSE envelope (message signatures are not model signatures)"
                    .to_string(),
            )
        })?;
        let material = raw.verification_material;
        let material = if let Some(chain) = material.x509_certificate_chain {
            if chain.certificates.is_empty() {
                return Err(OmsError::Bundle("empty certificate chain".to_string()));
            }
            if chain.certificates.len() > super::certs::MAX_CERTIFICATES {
                return Err(OmsError::Bundle("too many certificates".to_string()));
            }
            Material::CertificateChain(
                chain
                    .certificates
                    .iter()
                    .map(|c| b64("certificate", &c.raw_bytes))
                    .collect::<Result<_, _>>()?,
            )
        } else if let Some(certificate) = material.certificate {
            Material::Keyless {
                certificate: b64("certificate", &certificate.raw_bytes)?,
                tlog_entries: material.tlog_entries.map_or(0, |t| t.len()),
            }
        } else if let Some(key) = material.public_key {
            Material::PublicKey {
                hint: key.hint.filter(|h| !h.is_empty()),
                embedded_pem: key
                    .raw_bytes
                    .map(|r| b64("publicKey.rawBytes", &r))
                    .transpose()?,
            }
        } else {
            return Err(OmsError::Bundle(
                "the bundle has no public key, certificate chain or certificate".to_string(),
            ));
        };
        let signature = envelope
            .signatures
            .first()
            .ok_or_else(|| OmsError::Bundle("the DSSE envelope has no signature".to_string()))?;
        Ok(Bundle {
            material,
            payload_type: envelope.payload_type,
            payload: b64("dsseEnvelope.payload", &envelope.payload)?,
            signature: b64("dsseEnvelope.signatures[0].sig", &signature.sig)?,
        })
    }
}

/// DSSE v1 pre-authentication encoding: `DSSEv1 <len> <type> <len> <payload>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// What model_signing v0.2 signed by mistake: the header spelled `DSSEV1` and the payload as
/// Python's `repr` of a `bytes` object (`b'…'` with escapes). The reference verifier accepts it
/// for compatibility, so this one does too.
pub fn pae_compat(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    format!(
        "DSSEV1 {} {} {} {}",
        payload_type.len(),
        payload_type,
        payload.len(),
        python_bytes_repr(payload)
    )
    .into_bytes()
}

/// Python's `repr(bytes)`.
pub fn python_bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(quote);
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if char::from(byte) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn bytes_repr_matches_python() {
        assert_eq!(python_bytes_repr(b"{\"a\": 1}\n"), "b'{\"a\": 1}\\n'");
        assert_eq!(python_bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(python_bytes_repr(b"'\"\x00\xff"), "b'\\'\"\\x00\\xff'");
    }

    proptest::proptest! {
        #[test]
        fn bundle_parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Bundle::parse(&bytes);
        }

        #[test]
        fn bundle_parser_never_panics_on_json_shapes(
            media in "[a-z./+0-9-]{0,40}",
            payload in "[A-Za-z0-9+/=]{0,40}",
            hint in proptest::option::of("[0-9a-f]{0,64}"),
        ) {
            let json = serde_json::json!({
                "mediaType": media,
                "verificationMaterial": {"publicKey": {"hint": hint}},
                "dsseEnvelope": {"payload": payload, "payloadType": "x", "signatures": [{"sig": payload}]}
            });
            let _ = Bundle::parse(json.to_string().as_bytes());
        }
    }
}
