//! Benchmark of advisory-driven re-matching (`docs/benchmarks.md`, "Monitor"):
//! 10,000 projects × 300 packages (generated: Zipf-skewed package popularity over the real PyPA
//! package names plus synthetic ones, newest versions most used), matched against the real PyPA
//! advisory snapshot. Measured, in one process:
//!
//! 1. the initial full match of every project (cause `inventory`) and a full re-match after a
//!    matcher upgrade (cause `matcher`): time and peak memory;
//! 2. `db import` of one new advisory that hits about 1,000 projects, then the delta, the
//!    set-based re-match, the fan-out, the lifecycle and one signed webhook body per event:
//!    time to the last signed body;
//! 3. the same for the advisory's withdrawal (every finding retracted).
//!
//! Run: `cargo run --release -p mlvet-monitor --example bench_monitor -- [PROJECTS] [PACKAGES] [HITS]`

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use mlvet_db::{Database, NoProgress, PackageKey};
use mlvet_monitor::{
    Cause, Event, FindingRecord, InventoryIndex, Match, MonitorError, ProjectRef, Scope, Triple,
    fan_out, match_triples, reconcile, reconcile_delta, rematch_delta,
};
use mlvet_webhooks::{Envelope, Secret, sign};

const PYPA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/advisories/pypa-advisory-database/vulns"
);

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples an index in `0..weights.len()` from cumulative weights.
fn sample(cumulative: &[f64], rng: &mut Rng) -> usize {
    let total = cumulative.last().copied().unwrap_or(1.0);
    let x = rng.unit() * total;
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len() - 1)
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sum = 0.0;
    weights
        .map(|w| {
            sum += w;
            sum
        })
        .collect()
}

struct Universe {
    names: Vec<String>,
    /// Per name, its versions oldest first.
    versions: Vec<Vec<String>>,
    /// Per project, `(name, version)` indices.
    projects: Vec<Vec<(u32, u16)>>,
    /// `(name, version)` → projects holding it.
    holders: HashMap<(u32, u16), Vec<u32>>,
    name_ids: HashMap<String, u32>,
}

impl Universe {
    fn generate(projects: usize, packages: usize, rng: &mut Rng) -> Universe {
        let mut names: Vec<String> = std::fs::read_dir(PYPA)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| {
                        mlvet_osv::normalize_package_name("PyPI", &e.file_name().to_string_lossy())
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let real = names.len();
        for i in 0..(3_000usize.saturating_sub(real)) {
            names.push(format!("synthetic-pkg-{i:05}"));
        }
        // Shuffle so that popularity is independent of being a real, advisory-bearing name.
        for i in (1..names.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            names.swap(i, j);
        }
        let versions: Vec<Vec<String>> = names
            .iter()
            .map(|_| {
                let count = 5 + (rng.next() % 36) as usize;
                let major_span = 1 + rng.next() % 3;
                (0..count)
                    .map(|i| {
                        let major = (i as u64 * major_span) / count as u64;
                        format!("{major}.{}.{}", i % 17, i % 3)
                    })
                    .collect()
            })
            .collect();
        let name_weights =
            cumulative((0..names.len()).map(|rank| 1.0 / ((rank + 1) as f64).powf(1.1)));
        let version_weights: Vec<Vec<f64>> = versions
            .iter()
            .map(|v| cumulative((0..v.len()).map(|i| 0.8f64.powi((v.len() - 1 - i) as i32))))
            .collect();
        let mut inventory = Vec::with_capacity(projects);
        let mut holders: HashMap<(u32, u16), Vec<u32>> = HashMap::new();
        for p in 0..projects {
            let mut chosen = BTreeSet::new();
            while chosen.len() < packages.min(names.len()) {
                chosen.insert(sample(&name_weights, rng) as u32);
            }
            let list: Vec<(u32, u16)> = chosen
                .into_iter()
                .map(|n| (n, sample(&version_weights[n as usize], rng) as u16))
                .collect();
            for pair in &list {
                holders.entry(*pair).or_default().push(p as u32);
            }
            inventory.push(list);
        }
        let name_ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Universe {
            names,
            versions,
            projects: inventory,
            holders,
            name_ids,
        }
    }

    fn triple(&self, (n, v): (u32, u16)) -> Triple {
        Triple {
            ecosystem: "PyPI".into(),
            name: self.names[n as usize].clone(),
            version: self.versions[n as usize][v as usize].clone(),
        }
    }

    fn pair(&self, triple: &Triple) -> Option<(u32, u16)> {
        let n = *self.name_ids.get(&triple.name)?;
        let v = self.versions[n as usize]
            .iter()
            .position(|v| *v == triple.version)?;
        Some((n, v as u16))
    }
}

impl InventoryIndex for Universe {
    fn versions(&self, key: &PackageKey) -> Result<Vec<String>, MonitorError> {
        let Some(&n) = self.name_ids.get(&key.name) else {
            return Ok(Vec::new());
        };
        Ok(self.versions[n as usize]
            .iter()
            .enumerate()
            .filter(|(v, _)| self.holders.contains_key(&(n, *v as u16)))
            .map(|(_, text)| text.clone())
            .collect())
    }
}

fn project(p: usize) -> ProjectRef {
    ProjectRef {
        id: format!("p{p:05}"),
        name: format!("project {p}"),
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// One signed body per event, as the delivery worker would send it.
fn sign_all(events: &[Event], secret: &Secret) -> usize {
    let mut signed = 0;
    for (i, event) in events.iter().enumerate() {
        let body =
            Envelope::new(event.event_type.as_str(), 1_700_000_000, event.data.clone()).to_body();
        let signature = sign(secret, &format!("msg_{i}"), 1_700_000_000, &body);
        signed += usize::from(!signature.is_empty());
    }
    signed
}

struct Run {
    import: Duration,
    rematch: Duration,
    lifecycle: Duration,
    sign: Duration,
    total: Duration,
    triples: usize,
    changed: usize,
    projects: usize,
    events: BTreeSet<String>,
    event_count: usize,
}

/// Imports `record`, then processes the new generation end to end.
fn advisory_round(
    db: &mut Database,
    universe: &Universe,
    findings: &mut [Vec<FindingRecord>],
    record: &str,
    secret: &Secret,
) -> Run {
    let start = Instant::now();
    db.import_bytes("advisory.json", record.as_bytes(), &NoProgress)
        .expect("import");
    let import = start.elapsed();
    let to = db.current_generation().expect("generation");
    let delta = db.delta(to - 1, to).expect("delta");
    let before = db.view_at(to - 1).expect("view");
    let result = rematch_delta(&delta, &before, &*db, universe).expect("rematch");
    let rematch = start.elapsed() - import;
    let by_project = fan_out(&result.changes, |triple| {
        universe
            .pair(triple)
            .and_then(|pair| universe.holders.get(&pair))
            .map(|ps| ps.iter().map(|p| project(*p as usize).id).collect())
            .unwrap_or_default()
    });
    let mut events = vec![Event::advisories_updated(&delta, by_project.len())];
    for (id, changes) in &by_project {
        let p: usize = id[1..].parse().expect("id");
        let out = reconcile_delta(&project(p), &findings[p], changes, to);
        for record in out.records {
            match findings[p].iter_mut().find(|f| f.id == record.id) {
                Some(slot) => *slot = record,
                None => findings[p].push(record),
            }
        }
        events.extend(out.events);
    }
    let lifecycle = start.elapsed() - import - rematch;
    let signed = sign_all(&events, secret);
    let total = start.elapsed();
    Run {
        import,
        rematch,
        lifecycle,
        sign: total - import - rematch - lifecycle,
        total,
        triples: result.triples_evaluated,
        changed: result.changes.len(),
        projects: by_project.len(),
        events: events
            .iter()
            .map(|e| e.event_type.as_str().to_string())
            .collect(),
        event_count: signed,
    }
}

fn full_match(
    db: &Database,
    universe: &Universe,
    findings: &mut [Vec<FindingRecord>],
    cause: Cause,
    generation: u64,
) -> (Duration, Duration, usize, usize) {
    let start = Instant::now();
    let mut pairs: Vec<(u32, u16)> = universe.holders.keys().copied().collect();
    pairs.sort_unstable();
    let triples: Vec<Triple> = pairs.iter().map(|p| universe.triple(*p)).collect();
    let matched = match_triples(db, &triples).expect("match");
    let matching = start.elapsed();
    let by_pair: HashMap<(u32, u16), Vec<Match>> = matched
        .into_iter()
        .filter(|(_, m)| !m.is_empty())
        .filter_map(|(t, m)| universe.pair(&t).map(|p| (p, m)))
        .collect();
    let mut events = 0;
    for (p, inventory) in universe.projects.iter().enumerate() {
        let held: BTreeSet<Triple> = inventory
            .iter()
            .map(|pair| universe.triple(*pair))
            .collect();
        let matches: Vec<(Triple, Vec<Match>)> = inventory
            .iter()
            .filter_map(|pair| {
                by_pair
                    .get(pair)
                    .map(|m| (universe.triple(*pair), m.clone()))
            })
            .collect();
        let out = reconcile(
            &project(p),
            &findings[p],
            &held,
            &matches,
            &Scope::Project,
            cause,
            generation,
        );
        for record in out.records {
            match findings[p].iter_mut().find(|f| f.id == record.id) {
                Some(slot) => *slot = record,
                None => findings[p].push(record),
            }
        }
        events += out.events.len();
    }
    (matching, start.elapsed(), triples.len(), events)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let projects = args.first().copied().unwrap_or(10_000);
    let packages = args.get(1).copied().unwrap_or(300);
    let hits = args.get(2).copied().unwrap_or(1_000);
    let mut out = std::io::stdout().lock();

    let dir = tempfile::tempdir()?;
    let mut db = Database::open_or_create(dir.path())?;
    db.import_path(Path::new(PYPA), &NoProgress)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    let universe = Universe::generate(projects, packages, &mut rng);
    writeln!(
        out,
        "generated {projects} projects x {packages} packages: {} distinct (name, version) triples, {} names, in {:.1?}; peak RSS {:.0} MiB",
        universe.holders.len(),
        universe.names.len(),
        start.elapsed(),
        peak_rss_mib()
    )?;

    let mut findings: Vec<Vec<FindingRecord>> = vec![Vec::new(); projects];
    let generation = db.current_generation()?;
    let (matching, total, triples, events) =
        full_match(&db, &universe, &mut findings, Cause::Inventory, generation);
    let open: usize = findings.iter().map(Vec::len).sum();
    writeln!(
        out,
        "initial match: {triples} triples matched in {matching:.2?}, {projects} projects reconciled in {total:.2?} total; {open} findings, {events} events; peak RSS {:.0} MiB",
        peak_rss_mib()
    )?;
    let (matching, total, _, events) =
        full_match(&db, &universe, &mut findings, Cause::Matcher, generation);
    writeln!(
        out,
        "full re-match after a matcher upgrade: matching {matching:.2?}, with lifecycle {total:.2?}; {events} events (same results: none); peak RSS {:.0} MiB",
        peak_rss_mib()
    )?;

    // The target: a synthetic name held by at least `hits` projects; affect its oldest versions
    // until about `hits` projects are covered.
    let mut best: Option<(u32, usize, usize)> = None;
    for n in 0..universe.names.len() as u32 {
        if !universe.names[n as usize].starts_with("synthetic-") {
            continue;
        }
        let mut covered = 0;
        for v in 0..universe.versions[n as usize].len() as u16 {
            covered += universe.holders.get(&(n, v)).map_or(0, Vec::len);
            if covered >= hits {
                if best.is_none_or(|(_, _, c)| covered < c) {
                    best = Some((n, v as usize, covered));
                }
                break;
            }
        }
    }
    let (n, last, covered) = best.ok_or("no package is held by enough projects")?;
    let name = &universe.names[n as usize];
    let fixed = universe.versions[n as usize].get(last + 1).cloned();
    let mut events_json = vec![serde_json::json!({"introduced": "0"})];
    match &fixed {
        Some(f) => events_json.push(serde_json::json!({"fixed": f})),
        None => events_json
            .push(serde_json::json!({"last_affected": universe.versions[n as usize][last]})),
    }
    let mut record = serde_json::json!({
        "id": "GHSA-bench-mark-0001",
        "modified": "2026-12-01T00:00:00Z",
        "published": "2026-12-01T00:00:00Z",
        "aliases": ["CVE-2026-99999"],
        "summary": "benchmark advisory",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"package": {"ecosystem": "PyPI", "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": events_json}]}]
    });
    let secret = Secret::generate()?;
    let run = advisory_round(
        &mut db,
        &universe,
        &mut findings,
        &record.to_string(),
        &secret,
    );
    report(
        &mut out,
        &format!("new advisory on {name} (projects holding an affected version: {covered})"),
        &run,
    )?;
    record["modified"] = "2026-12-02T00:00:00Z".into();
    record["withdrawn"] = "2026-12-02T00:00:00Z".into();
    let run = advisory_round(
        &mut db,
        &universe,
        &mut findings,
        &record.to_string(),
        &secret,
    );
    report(&mut out, "withdrawal of that advisory", &run)?;
    writeln!(out, "peak RSS {:.0} MiB", peak_rss_mib())?;
    Ok(())
}

fn report(out: &mut impl Write, what: &str, run: &Run) -> std::io::Result<()> {
    writeln!(
        out,
        "{what}: import {:.2?}, delta+re-match {:.2?} ({} triples evaluated, {} changed), fan-out+lifecycle {:.2?} ({} projects), sign {:.2?}; total {:.2?}; {} signed bodies ({:?})",
        run.import,
        run.rematch,
        run.triples,
        run.changed,
        run.lifecycle,
        run.projects,
        run.sign,
        run.total,
        run.event_count,
        run.events
    )
}
