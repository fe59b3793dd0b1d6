//! CVSS base scores for OSV `severity[]` vectors (v3.0, v3.1, v4.0; v2 as a last resort).
//!
//! Scoring is delegated to the RustSec `cvss` crate. Only the base score is used: OSV records
//! carry base vectors, and threat/environmental metrics describe a deployment mlvet cannot know.
//! (For a v4 vector that does carry threat or environmental metrics, the crate's score includes
//! them, as the v4 specification defines a single score per vector.)

use std::str::FromStr;

use mlvet_core::Severity;

/// Vectors longer than this are refused (a full v4 vector with every metric is ~200 characters).
const MAX_VECTOR_LEN: usize = 512;

/// The base score of a CVSS v3.0/v3.1/v4.0 (or v2) vector and its qualitative rating
/// (0.0 → info, 0.1–3.9 → low, 4.0–6.9 → medium, 7.0–8.9 → high, 9.0–10.0 → critical).
/// `None` when the vector does not parse.
pub fn base_score(vector: &str) -> Option<(f64, Severity)> {
    let vector = vector.trim();
    if vector.is_empty() || vector.len() > MAX_VECTOR_LEN || !vector.is_ascii() {
        return None;
    }
    let parsed = cvss::Cvss::from_str(vector).ok()?;
    let score = parsed.score();
    if !score.is_finite() || !(0.0..=10.0).contains(&score) {
        return None;
    }
    Some((score, rating(score)))
}

/// The CVSS qualitative severity rating scale (identical in v3.x and v4.0).
pub fn rating(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v31_reference_scores() {
        // Scores from the FIRST calculator.
        assert_eq!(
            base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some((9.8, Severity::Critical))
        );
        assert_eq!(
            base_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N"),
            Some((6.8, Severity::Medium))
        );
        assert_eq!(
            base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H"),
            Some((5.5, Severity::Medium))
        );
        assert_eq!(
            base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some((0.0, Severity::Info))
        );
    }

    #[test]
    fn v40_reference_scores() {
        assert_eq!(
            base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            Some((9.3, Severity::Critical))
        );
        assert_eq!(
            base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"),
            Some((5.1, Severity::Medium))
        );
    }

    #[test]
    fn garbage_is_none() {
        for bad in [
            "",
            "CVSS:3.1/",
            "CVSS:9.9/AV:N",
            "hello",
            "CVSS:3.1/AV:Q/AC:L",
            "CVSS:3.1/AV:N/AV:N",
        ] {
            assert_eq!(base_score(bad), None, "{bad}");
        }
    }
}
