//! A Hub file read by ranges: `Read + Seek` over blocks fetched on demand, so that the analyses
//! written for local files read exactly the bytes they would read locally and nothing else.
//!
//! The first read goes through the Hub's `resolve` URL (one resolver call, `X-Repo-Commit` checked
//! against the pinned commit); the signed URL it redirects to is kept and reused for every later
//! range, without the token. Sequential reads grow a read-ahead window; scattered reads fetch one
//! block. Every byte counts against the file's budget; a read past it fails, and the analysis then
//! reports the file as not fully inspected.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use crate::client::{Answer, HubClient, HubError};

/// Smallest range fetched: a scattered read (a zip local header) costs one block.
pub const BLOCK: u64 = 16 * 1024;
/// Largest read-ahead for sequential reads (4 MiB).
const MAX_READAHEAD_BLOCKS: u64 = 256;

/// What reading one file cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Body bytes received.
    pub bytes_read: u64,
    /// HTTP requests sent (redirect hops and retries of a range included).
    pub requests: u32,
    /// Requests to `/resolve/` URLs (the Hub's "resolvers" rate-limit bucket).
    pub resolver_calls: u32,
    /// The server answered a range request with the whole body (`200`).
    pub range_ignored: bool,
    /// Merged ranges fetched ahead of the analysis (zip local headers).
    pub prefetched_ranges: u32,
    /// Bytes served from a cache of an earlier scan of the same file at the same commit.
    pub cached_bytes: u64,
}

pub struct RemoteFile<'c> {
    client: &'c HubClient,
    repo: String,
    commit: String,
    path: String,
    resolve_url: String,
    size: u64,
    budget: u64,
    /// The URL that served the last range (a signed CDN URL, or the Hub's cache route).
    location: Option<String>,
    reresolved: bool,
    blocks: BTreeMap<u64, Vec<u8>>,
    /// Exact byte ranges fetched by [`RemoteFile::prefetch_ranges`], keyed by start offset
    /// (small scattered reads such as zip local headers, served without a block round trip).
    extents: BTreeMap<u64, Vec<u8>>,
    pos: u64,
    last_block: Option<u64>,
    readahead: u64,
    pub stats: ReadStats,
    /// The first failure; later reads fail with it too.
    pub error: Option<HubError>,
    /// `X-Linked-Etag` of the Hub's redirect (the LFS sha256, quoted).
    pub linked_etag: Option<String>,
}

impl<'c> RemoteFile<'c> {
    pub fn new(
        client: &'c HubClient,
        repo: &str,
        commit: &str,
        path: &str,
        resolve_url: String,
        size: u64,
        budget: u64,
    ) -> Self {
        RemoteFile {
            client,
            repo: repo.to_string(),
            commit: commit.to_string(),
            path: path.to_string(),
            resolve_url,
            size,
            budget,
            location: None,
            reresolved: false,
            blocks: BTreeMap::new(),
            extents: BTreeMap::new(),
            pos: 0,
            last_block: None,
            readahead: 1,
            stats: ReadStats::default(),
            error: None,
            linked_etag: None,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether every byte of the file has been fetched (it can then be hashed).
    pub fn fully_read(&self) -> bool {
        self.size == 0 || (0..self.block_count()).all(|b| self.blocks.contains_key(&b))
    }

    fn block_count(&self) -> u64 {
        self.size.div_ceil(BLOCK)
    }

    /// The whole content, when fully read.
    pub fn content(&self) -> Option<Vec<u8>> {
        if !self.fully_read() {
            return None;
        }
        let mut out = Vec::with_capacity(usize::try_from(self.size).ok()?);
        for block in self.blocks.values() {
            out.extend_from_slice(block);
        }
        Some(out)
    }

    /// Reads the rest of the file (for files read whole: configs the folder pass needs).
    pub fn read_all(&mut self) -> Result<Vec<u8>, HubError> {
        let mut block = 0;
        while block < self.block_count() {
            if !self.blocks.contains_key(&block) {
                self.fetch_blocks(block, MAX_READAHEAD_BLOCKS)?;
            }
            block += 1;
        }
        self.content().ok_or_else(|| HubError::BadResponse {
            url: self.resolve_url.clone(),
            message: "incomplete read".to_string(),
        })
    }

    /// Fetches the byte ranges `[start, end)` concurrently from the signed URL already resolved,
    /// merged first: ranges closer than `gap` bytes become one request (the bytes in between
    /// cost less than a round trip), then, while more than `max_requests` remain, the closest
    /// neighbours are merged as long as the extra bytes stay within `max_extra` in total. A hint
    /// only, as a hint should be: the analysis reads exactly what it would read
    /// locally, and whatever a failed range left out is fetched on demand.
    pub fn prefetch_ranges(&mut self, ranges: &[(u64, u64)], plan: &RangePlan) {
        let Some(location) = self.location.clone() else {
            return;
        };
        let runs = coalesce(ranges, self.size, plan);
        let wanted: u64 = runs.iter().map(|(a, b)| b - a).sum();
        if runs.is_empty() || self.stats.bytes_read + wanted > self.budget {
            return;
        }
        let client = self.client;
        let size = self.size;
        let location = location.as_str();
        let per_thread = runs.len().div_ceil(plan.parallel.max(1));
        let results: Vec<FetchedRun> = std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|&(a, b)| ((a, b), fetch_exact(client, location, a, b - 1, size)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for ((start, _), bytes) in results {
            self.stats.requests += 1;
            if let Some(bytes) = bytes {
                self.stats.bytes_read += bytes.len() as u64;
                self.stats.prefetched_ranges += 1;
                self.extents.insert(start, bytes);
            }
        }
    }

    /// Everything fetched so far (blocks and extents), for a cache of this file's reads.
    pub fn export(&self) -> CachedReads {
        let mut ranges: Vec<(u64, Vec<u8>)> = self
            .blocks
            .iter()
            .map(|(block, bytes)| (block * BLOCK, bytes.clone()))
            .collect();
        ranges.extend(
            self.extents
                .iter()
                .map(|(start, bytes)| (*start, bytes.clone())),
        );
        ranges.sort_by_key(|(start, _)| *start);
        CachedReads {
            size: self.size,
            ranges,
        }
    }

    /// Serves earlier reads of the same file (same commit, same path) without the network;
    /// anything else the analysis asks for is fetched as usual. Ranges that do not fit the
    /// file are ignored.
    pub fn seed(&mut self, cached: &CachedReads) {
        if cached.size != self.size {
            return;
        }
        for (start, bytes) in &cached.ranges {
            let Some(end) = start.checked_add(bytes.len() as u64) else {
                continue;
            };
            if end > self.size || bytes.is_empty() {
                continue;
            }
            self.stats.cached_bytes += bytes.len() as u64;
            let block = start / BLOCK;
            let full_block = BLOCK.min(self.size - block * BLOCK);
            if start % BLOCK == 0 && bytes.len() as u64 == full_block {
                self.blocks.insert(block, bytes.clone());
            } else {
                self.extents.insert(*start, bytes.clone());
            }
        }
    }

    /// The prefetched extent holding byte `pos`, with the offset of `pos` in it.
    fn extent_at(&self, pos: u64) -> Option<(&[u8], usize)> {
        let (start, bytes) = self.extents.range(..=pos).next_back()?;
        let offset = usize::try_from(pos - start).ok()?;
        (offset < bytes.len()).then_some((bytes.as_slice(), offset))
    }

    fn fail(&mut self, error: HubError) -> io::Error {
        let message = error.to_string();
        self.error.get_or_insert(error);
        io::Error::other(message)
    }

    /// Fetches up to `count` missing blocks from `first` on, in one range.
    fn fetch_blocks(&mut self, first: u64, count: u64) -> Result<(), HubError> {
        let mut last = first;
        while last + 1 < self.block_count()
            && last + 1 < first + count
            && !self.blocks.contains_key(&(last + 1))
        {
            last += 1;
        }
        let start = first * BLOCK;
        let end = ((last + 1) * BLOCK).min(self.size) - 1;
        let wanted = end - start + 1;
        if self.stats.bytes_read + wanted > self.budget {
            return Err(HubError::Budget {
                path: self.path.clone(),
                budget: self.budget,
                why: format!("{} bytes read, {wanted} more needed", self.stats.bytes_read),
            });
        }
        let bytes = self.fetch_range(start, end)?;
        self.store(start, &bytes);
        Ok(())
    }

    fn store(&mut self, start: u64, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(BLOCK as usize).enumerate() {
            let block = start / BLOCK + i as u64;
            let complete = chunk.len() as u64 == BLOCK.min(self.size.saturating_sub(block * BLOCK));
            if complete {
                self.blocks.entry(block).or_insert_with(|| chunk.to_vec());
            }
        }
    }

    /// `[start, end]` (inclusive), through the cached location or a fresh resolve.
    fn fetch_range(&mut self, start: u64, end: u64) -> Result<Vec<u8>, HubError> {
        loop {
            let url = self
                .location
                .clone()
                .unwrap_or_else(|| self.resolve_url.clone());
            let answer = self.follow(&url, start, end)?;
            let from_cdn = !self.client.is_hub_origin(&answer.url);
            match answer.status {
                206 => return self.checked_partial(answer, start, end),
                200 => return self.whole_answer(answer, start, end),
                400 | 403 | 410 | 416 if from_cdn && !self.reresolved => {
                    // The signed URL expired or was refused: re-resolve once.
                    drop(answer);
                    self.location = None;
                    self.reresolved = true;
                }
                416 => {
                    return Err(HubError::BadResponse {
                        url: answer.url.clone(),
                        message: format!(
                            "416 for bytes={start}-{end} of a {}-byte file ({})",
                            self.size,
                            answer.header("content-range").unwrap_or("no Content-Range")
                        ),
                    });
                }
                _ => {
                    let authed =
                        self.client.authenticated() && self.client.is_hub_origin(&answer.url);
                    return Err(answer.into_error(
                        &self.repo,
                        &self.commit,
                        Some(&self.path),
                        authed,
                    ));
                }
            }
        }
    }

    /// GET with redirects followed by hand; checks the Hub's headers on every Hub hop.
    fn follow(&mut self, url: &str, start: u64, end: u64) -> Result<Answer, HubError> {
        let client = self.client;
        let commit = self.commit.clone();
        let path = self.path.clone();
        let size = self.size;
        let mut requests = 0;
        let mut resolver_calls = 0;
        let mut linked_etag = None;
        let answer = client.get_following(url, Some((start, end)), |answer| {
            requests += 1;
            let on_hub = client.is_hub_origin(&answer.url);
            if on_hub && answer.url.contains("/resolve/") {
                resolver_calls += 1;
            }
            if on_hub
                && let Some(got) = answer.header("x-repo-commit")
                && got != commit
            {
                return Err(HubError::CommitMismatch {
                    path: path.clone(),
                    expected: commit.clone(),
                    got: got.to_string(),
                });
            }
            if on_hub && let Some(etag) = answer.header("x-linked-etag") {
                linked_etag = Some(etag.trim_matches('"').to_string());
            }
            if on_hub
                && let Some(linked) = answer
                    .header("x-linked-size")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                && linked != size
            {
                return Err(HubError::BadResponse {
                    url: answer.url.clone(),
                    message: format!("X-Linked-Size {linked} differs from the listed size {size}"),
                });
            }
            Ok(())
        });
        self.stats.requests += requests;
        self.stats.resolver_calls += resolver_calls;
        if linked_etag.is_some() {
            self.linked_etag = linked_etag;
        }
        let answer = answer?;
        if (200..300).contains(&answer.status) {
            // Remember where ranges are served from (the signed URL, never with the token).
            self.location = Some(answer.url.clone());
        }
        Ok(answer)
    }

    fn checked_partial(
        &mut self,
        answer: Answer,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, HubError> {
        let url = answer.url.clone();
        let bad = |message: String| HubError::BadResponse {
            url: url.clone(),
            message,
        };
        let range = answer
            .header("content-range")
            .ok_or_else(|| bad("206 without Content-Range".to_string()))?
            .to_string();
        let (a, b, total) = parse_content_range(&range)
            .ok_or_else(|| bad(format!("unreadable Content-Range `{range}`")))?;
        if a != start || b > end || b < a {
            return Err(bad(format!("asked bytes={start}-{end}, got `{range}`")));
        }
        if total.is_some_and(|t| t != self.size) {
            return Err(bad(format!(
                "Content-Range total differs from the listed size {}: `{range}`",
                self.size
            )));
        }
        if answer
            .header("content-encoding")
            .is_some_and(|e| !e.eq_ignore_ascii_case("identity"))
        {
            return Err(bad("range answered with an encoded body".to_string()));
        }
        let expected = b - a + 1;
        let body = answer.read_body(expected)?;
        self.stats.bytes_read += body.len() as u64;
        if body.len() as u64 != expected {
            return Err(bad(format!(
                "short body: {} of {expected} bytes",
                body.len()
            )));
        }
        if b != end {
            // Fewer bytes than asked is allowed only at the end of the file.
            if b + 1 != self.size {
                return Err(bad(format!("asked bytes={start}-{end}, got `{range}`")));
            }
        }
        Ok(body)
    }

    /// The server ignored `Range` and sends the whole file: read it from the start within the
    /// budget (keeping what was read), else give up on the file.
    fn whole_answer(&mut self, answer: Answer, start: u64, end: u64) -> Result<Vec<u8>, HubError> {
        self.stats.range_ignored = true;
        if answer
            .header("content-encoding")
            .is_some_and(|e| !e.eq_ignore_ascii_case("identity"))
        {
            return Err(HubError::BadResponse {
                url: answer.url.clone(),
                message: "the server ignored Range and compressed the body".to_string(),
            });
        }
        let remaining = self.budget.saturating_sub(self.stats.bytes_read);
        let limit = remaining.min(self.size);
        let body = answer.read_body(limit)?;
        self.stats.bytes_read += body.len() as u64;
        let got = body.len() as u64;
        if got > self.size {
            return Err(HubError::BadResponse {
                url: self.resolve_url.clone(),
                message: "body longer than the listed size".to_string(),
            });
        }
        self.store(0, &body);
        if got > end {
            return Ok(body[start as usize..=end as usize].to_vec());
        }
        Err(HubError::Budget {
            path: self.path.clone(),
            budget: self.budget,
            why: format!("the server ignores Range; only the first {got} bytes fit in the budget"),
        })
    }
}

/// A prefetched run `[start, end)` and its bytes (`None` when the request failed).
type FetchedRun = ((u64, u64), Option<Vec<u8>>);

/// `[start, end]` (inclusive) from an already signed URL; `None` unless a `206` with exactly
/// that range.
fn fetch_exact(client: &HubClient, url: &str, start: u64, end: u64, size: u64) -> Option<Vec<u8>> {
    let answer = client.send(url, Some((start, end))).ok()?;
    if answer.status != 206
        || answer
            .header("content-encoding")
            .is_some_and(|e| !e.eq_ignore_ascii_case("identity"))
    {
        return None;
    }
    let (a, b, total) = parse_content_range(answer.header("content-range")?)?;
    if a != start || b != end || total.is_some_and(|t| t != size) {
        return None;
    }
    let body = answer.read_body(end - start + 1).ok()?;
    (body.len() as u64 == end - start + 1).then_some(body)
}

/// The bytes of one file read by an earlier scan: `(offset, bytes)` ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedReads {
    pub size: u64,
    pub ranges: Vec<(u64, Vec<u8>)>,
}

impl CachedReads {
    /// Bytes held.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(_, b)| b.len() as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// `size`, then `count` × (`offset`, `length`, bytes), little-endian u64s.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.len() as usize + self.ranges.len() * 16);
        out.extend(self.size.to_le_bytes());
        out.extend((self.ranges.len() as u64).to_le_bytes());
        for (start, bytes) in &self.ranges {
            out.extend(start.to_le_bytes());
            out.extend((bytes.len() as u64).to_le_bytes());
            out.extend(bytes);
        }
        out
    }

    /// The inverse of [`CachedReads::encode`]; `None` for anything malformed.
    pub fn decode(mut bytes: &[u8]) -> Option<CachedReads> {
        let next = |bytes: &mut &[u8]| -> Option<u64> {
            let (head, rest) = bytes.split_at_checked(8)?;
            *bytes = rest;
            Some(u64::from_le_bytes(head.try_into().ok()?))
        };
        let size = next(&mut bytes)?;
        let count = next(&mut bytes)?;
        let mut ranges = Vec::new();
        for _ in 0..count {
            let start = next(&mut bytes)?;
            let len = usize::try_from(next(&mut bytes)?).ok()?;
            let (body, rest) = bytes.split_at_checked(len)?;
            ranges.push((start, body.to_vec()));
            bytes = rest;
        }
        bytes.is_empty().then_some(CachedReads { size, ranges })
    }
}

/// How scattered ranges are turned into requests.
#[derive(Debug, Clone, Copy)]
pub struct RangePlan {
    /// Ranges closer than this are always fetched as one.
    pub gap: u64,
    /// Aim for at most this many requests...
    pub max_requests: usize,
    /// ...spending at most this many extra (unneeded) bytes in total to get there.
    pub max_extra: u64,
    /// Concurrent requests.
    pub parallel: usize,
}

/// Sorted, clipped to `size`, overlapping and near ranges merged (see [`RangePlan`]).
pub fn coalesce(ranges: &[(u64, u64)], size: u64, plan: &RangePlan) -> Vec<(u64, u64)> {
    let mut sorted: Vec<(u64, u64)> = ranges
        .iter()
        .map(|&(a, b)| (a.min(size), b.min(size)))
        .filter(|(a, b)| a < b)
        .collect();
    sorted.sort_unstable();
    let mut runs: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
    for (a, b) in sorted {
        match runs.last_mut() {
            Some(last) if a <= last.1.saturating_add(plan.gap) => last.1 = last.1.max(b),
            _ => runs.push((a, b)),
        }
    }
    if runs.len() > plan.max_requests {
        // Merge across the smallest gaps first while the extra bytes fit the allowance.
        let mut gaps: Vec<(u64, usize)> = runs
            .windows(2)
            .enumerate()
            .map(|(i, w)| (w[1].0 - w[0].1, i))
            .collect();
        gaps.sort_unstable();
        let mut merge_after = vec![false; runs.len()];
        let mut extra = 0u64;
        let mut count = runs.len();
        for (gap, i) in gaps {
            if count <= plan.max_requests || extra + gap > plan.max_extra {
                break;
            }
            extra += gap;
            merge_after[i] = true;
            count -= 1;
        }
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(count);
        let mut joining = false;
        for (i, run) in runs.into_iter().enumerate() {
            match merged.last_mut() {
                Some(last) if joining => last.1 = run.1,
                _ => merged.push(run),
            }
            joining = merge_after[i];
        }
        runs = merged;
    }
    runs
}

/// `bytes a-b/N` or `bytes a-b/*`.
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

impl Read for RemoteFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = &self.error {
            return Err(io::Error::other(error.to_string()));
        }
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        let block = self.pos / BLOCK;
        if !self.blocks.contains_key(&block)
            && let Some((extent, offset)) = self.extent_at(self.pos)
        {
            let n = (extent.len() - offset).min(buf.len());
            buf[..n].copy_from_slice(&extent[offset..offset + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        if !self.blocks.contains_key(&block) {
            let sequential = self.last_block.is_some_and(|last| block == last + 1);
            self.readahead = if sequential {
                (self.readahead * 2).min(MAX_READAHEAD_BLOCKS)
            } else {
                1
            };
            // A read spanning several blocks fetches them together.
            let last_needed = (self.pos + buf.len() as u64 - 1).min(self.size - 1) / BLOCK;
            let span = last_needed - block + 1;
            if let Err(error) = self.fetch_blocks(block, self.readahead.max(span)) {
                return Err(self.fail(error));
            }
        }
        self.last_block = Some(block);
        let Some(data) = self.blocks.get(&block) else {
            return Err(io::Error::other("block missing after fetch"));
        };
        let offset = (self.pos - block * BLOCK) as usize;
        let available = data.len().saturating_sub(offset);
        let n = available.min(buf.len());
        buf[..n].copy_from_slice(&data[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteFile<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 0-9/100"),
            Some((0, 9, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((5, 5, None)));
        assert_eq!(parse_content_range("bytes */100"), None);
    }

    #[test]
    fn cached_reads_round_trip_and_reject_garbage() {
        let reads = CachedReads {
            size: 100,
            ranges: vec![(0, vec![1, 2, 3]), (50, vec![9; 10])],
        };
        assert_eq!(CachedReads::decode(&reads.encode()), Some(reads.clone()));
        let mut bad = reads.encode();
        bad.pop();
        assert_eq!(CachedReads::decode(&bad), None);
        assert_eq!(CachedReads::decode(&[1, 2, 3]), None);
    }

    const PLAN: RangePlan = RangePlan {
        gap: 100,
        max_requests: 3,
        max_extra: 1_000,
        parallel: 2,
    };

    #[test]
    fn near_ranges_merge_and_far_ones_merge_only_within_the_allowance() {
        // Overlap and a gap under 100 merge; the rest is 4 runs > 3, so the smallest gap (500)
        // merges; the next (2000) exceeds the allowance.
        let runs = coalesce(
            &[
                (0, 10),
                (5, 20),
                (50, 60),
                (560, 570),
                (2570, 2580),
                (10_000, 10_010),
            ],
            20_000,
            &PLAN,
        );
        assert_eq!(runs, vec![(0, 570), (2570, 2580), (10_000, 10_010)]);
        // Clipped to the size, empty ranges dropped.
        assert_eq!(coalesce(&[(5, 5), (90, 200)], 100, &PLAN), vec![(90, 100)]);
    }

    proptest::proptest! {
        #[test]
        fn coalesced_runs_cover_every_range_in_order(
            ranges in proptest::collection::vec((0u64..100_000, 1u64..500), 0..60),
        ) {
            let ranges: Vec<(u64, u64)> = ranges.into_iter().map(|(a, l)| (a, a + l)).collect();
            let runs = coalesce(&ranges, 90_000, &PLAN);
            for w in runs.windows(2) {
                proptest::prop_assert!(w[0].1 < w[1].0);
            }
            for (a, b) in ranges {
                let (a, b) = (a.min(90_000), b.min(90_000));
                if a < b {
                    proptest::prop_assert!(runs.iter().any(|r| r.0 <= a && b <= r.1));
                }
            }
        }
    }
}
