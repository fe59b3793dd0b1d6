//! Where advisories come from: the embedded database (crate `mlvet-db`) or memory.

use std::collections::BTreeMap;

use crate::ecosystem::{ecosystem_key, normalize_package_name};
use crate::{Advisory, OsvError};

/// A store of advisories that can answer "which records mention this package?".
///
/// The matcher asks with the canonical OSV ecosystem name ([`crate::Ecosystem::osv_name`]) and the
/// normalised package name. A store should index every `affected[]` entry under
/// `(ecosystem_key(entry.package.ecosystem), normalize_package_name(entry.package.ecosystem,
/// entry.package.name))`, as [`MemorySource`] does, so that display names (`Scrapy`), `Maven:<url>`
/// scopes and case variants find their records.
///
/// Implementations return every record with an `affected[]` entry for the package (withdrawn
/// records included: the matcher decides what to do with them); the matcher then evaluates
/// versions exactly, so returning extra records is harmless and missing ones is not.
pub trait AdvisorySource {
    fn advisories_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<Advisory>, OsvError>;
}

/// Advisories held in memory, indexed by (ecosystem, normalised package name).
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    advisories: Vec<Advisory>,
    index: BTreeMap<(String, String), Vec<usize>>,
}

impl MemorySource {
    pub fn new(advisories: Vec<Advisory>) -> Self {
        let mut index: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (position, advisory) in advisories.iter().enumerate() {
            for affected in &advisory.affected {
                let key = (
                    ecosystem_key(&affected.package.ecosystem),
                    normalize_package_name(&affected.package.ecosystem, &affected.package.name),
                );
                let slot = index.entry(key).or_default();
                if slot.last() != Some(&position) {
                    slot.push(position);
                }
            }
        }
        MemorySource { advisories, index }
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }
}

impl AdvisorySource for MemorySource {
    fn advisories_for(
        &self,
        ecosystem: &str,
        normalized_name: &str,
    ) -> Result<Vec<Advisory>, OsvError> {
        let key = (
            ecosystem_key(ecosystem),
            normalize_package_name(ecosystem, normalized_name),
        );
        Ok(self
            .index
            .get(&key)
            .map(|positions| {
                positions
                    .iter()
                    .filter_map(|&p| self.advisories.get(p).cloned())
                    .collect()
            })
            .unwrap_or_default())
    }
}
