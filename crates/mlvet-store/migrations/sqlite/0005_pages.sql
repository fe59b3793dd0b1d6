-- The web pages (issue 11 §4, issue 12 §3): a package's dependencies as its lockfile records
-- them, so that a finding can be shown under the direct requirement that brings it.
-- `depends_on` holds the normalised names (PEP 503: no white space) this package depends on
-- within its source file, separated by single spaces; '' when the file records a graph and the
-- package has no dependency, NULL where the file records no graph (requirements, SBOMs,
-- graph-less lockfiles).
ALTER TABLE packages ADD COLUMN depends_on TEXT;
