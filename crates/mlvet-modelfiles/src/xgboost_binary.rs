//! XGBoost's deprecated binary model format (`binf` + the packed C structs XGBoost < 2.1 wrote by
//! default; XGBoost 2.x writes it for `*.deprecated` names, 3.x no longer writes it). Read field by
//! field like `LearnerIO::LoadModel`, every count checked against the bytes that remain; node
//! records are checked for child indices inside the tree, never interpreted further.

/// `LearnerModelParamLegacy`: 136 bytes.
const LEARNER_PARAM: usize = 136;
/// `GBTreeModelParam`: 160 bytes.
const GBTREE_PARAM: usize = 160;
/// `GBLinearModelParam`: 136 bytes.
const GBLINEAR_PARAM: usize = 136;
/// `TreeParam`: 148 bytes; then `Node` (20 bytes) and `RTreeNodeStat` (16 bytes) per node.
const TREE_PARAM: usize = 148;
const NODE: usize = 20;
const NODE_STAT: usize = 16;
/// Longest objective, booster, attribute or metric string accepted.
const MAX_STRING: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("binary model at byte {offset}: {message}")]
pub struct BinaryError {
    pub offset: usize,
    pub message: String,
}

/// Facts read from a validated binary model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryFacts {
    pub version: String,
    pub objective: String,
    pub booster: String,
    pub num_feature: u32,
    pub num_class: i32,
    pub trees: u64,
    pub attributes: Vec<(String, String)>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, message: impl Into<String>) -> BinaryError {
        BinaryError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BinaryError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.err(format!("{n} bytes needed, fewer remain")))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn u32_at(slice: &[u8], i: usize) -> u32 {
        slice
            .get(i..i + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32_at(slice: &[u8], i: usize) -> i32 {
        Self::u32_at(slice, i) as i32
    }

    fn u64(&mut self) -> Result<u64, BinaryError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A count of `item`-byte records, checked against what remains.
    fn count(&mut self, item: usize) -> Result<usize, BinaryError> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|n| n.checked_mul(item).is_some_and(|t| t <= self.remaining()))
            .ok_or_else(|| self.err(format!("{n} records of {item} bytes cannot fit")))
    }

    fn string(&mut self) -> Result<String, BinaryError> {
        let n = self.u64()?;
        if n > MAX_STRING {
            return Err(self.err(format!("string of {n} bytes")));
        }
        let raw = self.take(n as usize)?;
        String::from_utf8(raw.to_vec()).map_err(|_| self.err("string is not UTF-8"))
    }
}

fn is_objective_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '_' | '-'))
}

/// Validates a whole `binf` model.
pub fn parse(bytes: &[u8]) -> Result<BinaryFacts, BinaryError> {
    let mut c = Cursor { bytes, pos: 0 };
    if c.take(4)? != b"binf" {
        return Err(c.err("no `binf` header"));
    }
    let param = c.take(LEARNER_PARAM)?;
    let num_feature = Cursor::u32_at(param, 4);
    let num_class = Cursor::i32_at(param, 8);
    let extra_attrs = Cursor::i32_at(param, 12) != 0;
    let eval_metrics = Cursor::i32_at(param, 16) != 0;
    let (major, minor) = (Cursor::u32_at(param, 20), Cursor::u32_at(param, 24));
    if num_class < 0 || major > 16 {
        return Err(c.err("implausible learner parameters"));
    }
    let objective = c.string()?;
    if !is_objective_name(&objective) {
        return Err(c.err(format!("`{objective}` is not an objective name")));
    }
    let booster = c.string()?;
    let trees = match booster.as_str() {
        "gbtree" | "dart" => {
            let gb = c.take(GBTREE_PARAM)?;
            let num_trees = Cursor::i32_at(gb, 0);
            let num_trees = usize::try_from(num_trees)
                .ok()
                .filter(|n| n.saturating_mul(TREE_PARAM) <= c.remaining())
                .ok_or_else(|| c.err(format!("{num_trees} trees cannot fit")))?;
            for index in 0..num_trees {
                tree(&mut c, index)?;
            }
            c.take(num_trees * 4)?; // tree_info
            if booster == "dart" {
                let drops = c.count(4)?;
                if drops != num_trees {
                    return Err(c.err(format!("{drops} dart weights for {num_trees} trees")));
                }
                c.take(drops * 4)?;
            }
            num_trees as u64
        }
        "gblinear" => {
            c.take(GBLINEAR_PARAM)?;
            let weights = c.count(4)?;
            c.take(weights * 4)?;
            0
        }
        other => return Err(c.err(format!("unknown booster `{other}`"))),
    };
    let mut attributes = Vec::new();
    if extra_attrs {
        let n = c.count(16)?;
        for _ in 0..n {
            attributes.push((c.string()?, c.string()?));
        }
    }
    if eval_metrics {
        let n = c.count(8)?;
        for _ in 0..n {
            c.string()?;
        }
    }
    if c.remaining() != 0 {
        return Err(c.err(format!("{} bytes after the model", c.remaining())));
    }
    Ok(BinaryFacts {
        version: format!("{major}.{minor}"),
        objective,
        booster,
        num_feature,
        num_class,
        trees,
        attributes,
    })
}

fn tree(c: &mut Cursor<'_>, index: usize) -> Result<(), BinaryError> {
    let param = c.take(TREE_PARAM)?;
    let nodes = Cursor::i32_at(param, 4);
    let nodes = usize::try_from(nodes)
        .ok()
        .filter(|n| *n > 0 && n.saturating_mul(NODE + NODE_STAT) <= c.remaining())
        .ok_or_else(|| c.err(format!("tree {index}: {nodes} nodes cannot fit")))?;
    let records = c.take(nodes * NODE)?;
    for node in 0..nodes {
        let at = node * NODE;
        let (left, right) = (
            Cursor::i32_at(records, at + 4),
            Cursor::i32_at(records, at + 8),
        );
        let inside = |child: i32| child == -1 || (child > 0 && (child as usize) < nodes);
        if !inside(left) || !inside(right) {
            return Err(c.err(format!(
                "tree {index}, node {node}: child index outside the tree"
            )));
        }
    }
    c.take(nodes * NODE_STAT)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-tree, one-node `binary:logistic` model laid out as XGBoost 2.1 writes it.
    fn sample() -> Vec<u8> {
        let mut b = b"binf".to_vec();
        let mut param = vec![0u8; LEARNER_PARAM];
        param[4] = 4; // num_feature
        param[20] = 2; // major
        param[24] = 1; // minor
        b.extend(param);
        for s in ["binary:logistic", "gbtree"] {
            b.extend((s.len() as u64).to_le_bytes());
            b.extend(s.as_bytes());
        }
        let mut gb = vec![0u8; GBTREE_PARAM];
        gb[0] = 1;
        b.extend(gb);
        let mut tp = vec![0u8; TREE_PARAM];
        tp[4] = 1;
        b.extend(tp);
        let mut node = vec![0u8; NODE];
        node[4..8].copy_from_slice(&(-1i32).to_le_bytes());
        node[8..12].copy_from_slice(&(-1i32).to_le_bytes());
        b.extend(node);
        b.extend([0u8; NODE_STAT]);
        b.extend([0u8; 4]);
        b
    }

    #[test]
    fn a_minimal_model_validates() {
        let facts = parse(&sample()).expect("valid");
        assert_eq!(facts.trees, 1);
        assert_eq!(facts.version, "2.1");
        assert_eq!(facts.objective, "binary:logistic");
    }

    #[test]
    fn children_outside_the_tree_and_trailing_bytes_are_refused() {
        let mut bad = sample();
        let node = bad.len() - 4 - NODE_STAT - NODE;
        bad[node + 4..node + 8].copy_from_slice(&7i32.to_le_bytes());
        assert!(parse(&bad).is_err());
        let mut long = sample();
        long.push(0);
        assert!(parse(&long).is_err());
        assert!(parse(&sample()[..100]).is_err());
    }
}
