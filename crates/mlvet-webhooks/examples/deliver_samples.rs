//! Delivers signed sample events to a receiver, retrying each until it is accepted, for the
//! reference verification in `scripts/verify_webhooks.py` (an independent Standard Webhooks
//! verifier checks every request, retries included).
//!
//! Usage: `deliver_samples URL SECRET COUNT` (the URL may be loopback: private destinations are
//! allowed here, as `--allow-private-webhooks` does for the server).

use std::time::Duration;

use mlvet_webhooks::{
    Deliverer, DeliveryConfig, Envelope, Message, Outcome, Secret, new_message_id,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, secret, count] = args.as_slice() else {
        return Err("usage: deliver_samples URL SECRET COUNT".into());
    };
    let secret = Secret::parse(secret)?;
    let count: usize = count.parse()?;
    let deliverer = Deliverer::new(DeliveryConfig {
        timeout: Duration::from_secs(10),
        allow_private: true,
        ..DeliveryConfig::default()
    });
    let types = [
        "finding.created",
        "finding.updated",
        "finding.resolved",
        "finding.retracted",
        "advisories.updated",
    ];
    let mut attempts_total = 0;
    for i in 0..count {
        let id = new_message_id()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        let envelope = Envelope::new(
            types[i % types.len()],
            now,
            serde_json::json!({
                "project": {"id": format!("p{i}"), "name": format!("projet «{i}» — ünïcode")},
                "finding": {"id": format!("f{i}"), "package": {"ecosystem": "PyPI", "name": "torch", "version": "1.12.0"},
                            "advisory": {"id": "PYSEC-2022-43015", "aliases": ["CVE-2022-45907"]},
                            "severity": "critical", "state": "open"},
            }),
        );
        let body = envelope.to_body();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            let attempt = deliverer.deliver(
                url,
                &secret,
                &Message {
                    id: &id,
                    timestamp,
                    body: &body,
                },
            );
            match attempt.outcome {
                Outcome::Delivered => break,
                Outcome::Retry if attempts < 5 => continue,
                other => {
                    return Err(format!(
                        "{id}: {} after {attempts} attempts: {attempt:?}",
                        other.as_str()
                    )
                    .into());
                }
            }
        }
        attempts_total += attempts;
    }
    use std::io::Write;
    writeln!(
        std::io::stdout().lock(),
        "{{\"messages\": {count}, \"attempts\": {attempts_total}}}"
    )?;
    Ok(())
}
