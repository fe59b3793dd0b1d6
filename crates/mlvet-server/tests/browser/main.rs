//! The web app in a real headless Chromium, driven over WebDriver (`webdriver.rs`): sign in,
//! upload a lockfile from the project form, read its findings, triage one with the keyboard
//! alone, filter the AI & ML vulnerabilities view; every page at phone width and in dark
//! mode; hostile package names and advisory text stay inert; a page of another origin cannot
//! post the app's forms. A full-page screenshot of each page lands in
//! `<target dir>/browser-screenshots/` for review (each path is printed).
//!
//! The suite is skipped with a note when Chromium or chromedriver is missing, and mandatory
//! (it fails) when `MLVET_TEST_CHROMEDRIVER` is set, as `.ci/run` does. SQLite only: the
//! HTTP suites cover both backends; this one covers what only a browser shows.

#[path = "../common/mod.rs"]
mod common;
mod webdriver;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use common::{Server, import_advisories};
use mlvet_store::Role;
use serde_json::{Value, json};
use webdriver::{Browser, ENTER, TAB};

const PASSWORD: &str = "correct horse battery";
/// A Poetry lockfile: torch 1.12.0 and jinja2 2.10 have real advisories in the fixture data.
const POETRY_LOCK: &str = r#"[[package]]
name = "torch"
version = "1.12.0"
description = "Tensors and dynamic neural networks"
optional = false
python-versions = ">=3.7"

[[package]]
name = "jinja2"
version = "2.10"
description = "A template engine"
optional = false
python-versions = "*"

[[package]]
name = "requests"
version = "2.31.0"
description = "HTTP"
optional = false
python-versions = ">=3.7"

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "0000"
"#;
/// The torch advisory the lockfile is known to hit (CVE-2022-45907).
const TORCH_ADVISORY: &str = "PYSEC-2022-43015";

/// One browser at a time: the suite runs on small shared machines.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// A server with the fixture advisories, a browser, and this test's turn.
struct Site {
    browser: Browser,
    server: Server,
    files: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Site {
    /// `None` when the browser is optional here and unavailable (the note is printed).
    fn open(name: &str) -> Option<Site> {
        let turn = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
        let browser = Browser::start(name)?;
        let server = Server::start(None, |config| config.insecure_cookies = true);
        import_advisories(server.data.path());
        Some(Site {
            browser,
            server,
            files: tempfile::tempdir().expect("tempdir"),
            _turn: turn,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    fn user(&self, email: &str, team: &str, role: Role) {
        self.server
            .app
            .store
            .create_user(email, team, role, PASSWORD)
            .expect("user");
    }

    /// Signs in through the login form and lands on the projects page.
    fn sign_in(&self, email: &str) {
        let b = &self.browser;
        b.goto(&self.url("/login"));
        b.type_into(&b.find("#email"), email);
        b.type_into(&b.find("#password"), PASSWORD);
        b.click(&b.find("form#login button[type=submit]"));
        b.wait_for_path("/projects");
        assert_eq!(b.path(), "/projects");
    }

    /// A file on disk for a file input.
    fn file(&self, name: &str, content: &str) -> String {
        let path = self.files.path().join(name);
        std::fs::write(&path, content).expect("write file");
        path.display().to_string()
    }

    /// The team's findings of `project` through the API.
    fn findings(&self, token: &str, project: i64) -> Vec<Value> {
        let answer = self
            .server
            .get(&format!("/api/v1/projects/{project}/findings"), token);
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn project_names(&self, token: &str) -> Vec<String> {
        let answer = self.server.get("/api/v1/projects", token);
        assert_eq!(answer.status, 200, "{}", answer.text);
        let mut names: Vec<String> = answer.body["projects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// Uploads through the API and waits for the scan; the job.
    fn upload(&self, token: &str, project: i64, filename: &str, body: &str) -> Value {
        let job = self
            .server
            .upload(token, project, filename, body.as_bytes());
        assert_eq!(job["state"], "succeeded", "{job}");
        job
    }
}

fn body_text(browser: &Browser) -> String {
    browser
        .script("return document.body.innerText;", json!([]))
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn finding_with_advisory(findings: &[Value], advisory: &str) -> Value {
    findings
        .iter()
        .find(|f| f["advisory"]["id"] == advisory)
        .cloned()
        .unwrap_or_else(|| panic!("no finding for {advisory} in {findings:?}"))
}

/// Tabs from the top of the page to the element matching `css` (bounded), checking that every
/// element the focus passes shows a visible outline; returns how many Tabs it took.
fn tab_to(browser: &Browser, css: &str) -> usize {
    let mut unstyled = Vec::new();
    for presses in 1..=400 {
        browser.keys(TAB);
        let focus = browser.script(
            "const e = document.activeElement;\
             const s = getComputedStyle(e);\
             return {hit: e.matches(arguments[0]), visible: e !== document.body &&\
                     s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,\
                     what: e.outerHTML.slice(0, 120)};",
            json!([css]),
        );
        if focus["visible"] != true {
            unstyled.push(focus["what"].to_string());
        }
        if focus["hit"] == true {
            assert!(
                unstyled.is_empty(),
                "focus without a visible outline: {unstyled:?}"
            );
            return presses;
        }
    }
    panic!(
        "400 Tabs never reached {css}; last focus {}",
        browser.focused()
    );
}

#[test]
fn sign_in_upload_a_lockfile_read_and_triage_its_findings_by_keyboard() {
    let Some(site) = Site::open("journey") else {
        return;
    };
    let b = &site.browser;
    site.user("ana@example.com", "red", Role::Member);
    let token = site.server.token("red", Role::Viewer);

    b.goto(&site.url("/projects"));
    b.wait_for_path("/login");
    b.screenshot("01-login");
    site.sign_in("ana@example.com");
    b.screenshot("02-projects-empty");

    // A project from the portfolio's form, submitted with Enter.
    let name = b.find("#project-name");
    b.type_into(&name, "vision-service");
    b.type_into(&name, ENTER);
    b.wait_for_path("/projects/");
    let project: i64 = b
        .path()
        .trim_start_matches("/projects/")
        .parse()
        .expect("project id in the URL");

    // Upload the lockfile with the project page's form; the job page refreshes until done.
    let lockfile = site.file("poetry.lock", POETRY_LOCK);
    b.type_into(&b.find("#upload-file"), &lockfile);
    b.click(&b.find("form#upload button[type=submit]"));
    b.wait_for_path("/jobs/");
    b.wait_for("the scan to finish", Duration::from_secs(60), |b| {
        !b.find_all("#job[data-state=succeeded], #job[data-state=failed]")
            .is_empty()
    });
    assert!(
        !b.find_all("#job[data-state=succeeded]").is_empty(),
        "{}",
        body_text(b)
    );
    b.screenshot("03-job");
    b.click(&b.find("main a[href^='/projects/']"));
    b.wait_for_path(&format!("/projects/{project}"));

    // The page shows what the API stored: every finding, the torch advisory among them.
    let findings = site.findings(&token, project);
    assert!(!findings.is_empty());
    assert_eq!(b.find_all("article.finding").len(), findings.len());
    let torch = finding_with_advisory(&findings, TORCH_ADVISORY);
    let id = torch["id"].as_i64().expect("finding id");
    let article = b.find(&format!("#finding-{id}"));
    let shown = b.text(&article);
    assert!(shown.contains(TORCH_ADVISORY), "{shown}");
    assert!(shown.contains("torch 1.12.0"), "{shown}");
    assert_eq!(b.attribute(&article, "data-state").as_deref(), Some("open"));
    let open = b.text(&b.find("#counts li[data-state=open] .n"));
    assert_eq!(open, findings.len().to_string());
    let inventory = body_text(b);
    for package in ["torch", "jinja2", "requests"] {
        assert!(
            inventory.contains(package),
            "{package} not in the inventory"
        );
    }
    b.screenshot("04-project");

    // Triage with the keyboard alone: Tab to the finding's form, choose, type, Enter.
    b.goto(&site.url(&format!("/projects/{project}")));
    let presses = tab_to(b, &format!("#triage-{id}"));
    assert!(presses > 1);
    b.keys("acc"); // type-ahead in the select: "accepted risk"
    b.keys(TAB);
    assert_eq!(b.focused(), format!("input#reason-{id}[reason]"));
    let reason = "Only CPU inference on our own checkpoints; torch.jit never sees input";
    b.keys(reason);
    b.keys(TAB);
    assert_eq!(b.focused(), format!("input#expires-{id}[expires]"));
    b.keys("12312030"); // month, day, year in the en-US date field
    let typed = b.script(
        "return document.getElementById(arguments[0]).value;",
        json!([format!("expires-{id}")]),
    );
    assert_eq!(typed, "2030-12-31");
    // Chromium's date field may keep the focus for its picker button: Tab on to the button.
    tab_to(b, &format!("#finding-{id} form.triage button[type=submit]"));
    b.keys(ENTER);
    b.wait_for("the triaged finding", Duration::from_secs(30), |b| {
        b.find_all(&format!("#finding-{id}[data-state=suppressed]"))
            .len()
            == 1
    });
    let triaged = b.text(&b.find(&format!("#finding-{id} .triaged")));
    assert!(triaged.contains("accepted_risk"), "{triaged}");
    assert!(triaged.contains("until 2030-12-31"), "{triaged}");
    assert!(triaged.contains(reason), "{triaged}");
    let stored = finding_with_advisory(&site.findings(&token, project), TORCH_ADVISORY);
    assert_eq!(stored["state"], "suppressed", "{stored}");
    assert_eq!(stored["triage"]["triage"], "accepted_risk", "{stored}");
    assert_eq!(stored["triage"]["expires"], "2030-12-31", "{stored}");
    assert_eq!(stored["triage"]["reason"], reason, "{stored}");
    b.screenshot("05-project-triaged");

    // The AI & ML vulnerabilities view, from the navigation, filtered by a CVE id.
    b.click(&b.find("nav a[href='/advisories']"));
    b.wait_for_path("/advisories");
    let listed = site.server.get("/api/v1/advisories?ml=true", &token);
    assert_eq!(
        b.find_all("tr.advisory").len(),
        listed.body["advisories"].as_array().map_or(0, Vec::len)
    );
    b.screenshot("06-advisories");
    let search = b.find("#f-q");
    b.type_into(&search, "CVE-2022-45907");
    b.type_into(&search, ENTER);
    b.wait_for_path("/advisories?");
    assert!(b.path().contains("q=CVE-2022-45907"), "{}", b.path());
    let rows = b.find_all("tr.advisory");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        b.attribute(&rows[0], "data-id").as_deref(),
        Some(TORCH_ADVISORY)
    );
    b.screenshot("07-advisories-filtered");

    // Its page lists the team's affected project, which links back.
    b.click(&b.find(&format!(
        "tr.advisory a[href='/advisories/{TORCH_ADVISORY}']"
    )));
    b.wait_for_path(&format!("/advisories/{TORCH_ADVISORY}"));
    let affected = b.find("#affected-projects li.project a");
    assert_eq!(b.text(&affected), "vision-service");
    b.screenshot("08-advisory");
    b.click(&affected);
    b.wait_for_path(&format!("/projects/{project}"));

    // "Scan your ML stack" with the same lockfile picked in the file input: a one-off report,
    // worst first, with the same advisories and nothing stored.
    b.click(&b.find("nav a[href='/scan']"));
    b.wait_for_path("/scan");
    b.type_into(&b.find("#scan-files"), &lockfile);
    b.click(&b.find("form#scan button[type=submit]"));
    b.wait_for("the scan report", Duration::from_secs(60), |b| {
        !b.find_all("#report").is_empty()
    });
    let input = b.text(&b.find("#report li.input"));
    assert!(input.starts_with("poetry.lock: vulnerable"), "{input}");
    let reported: Vec<String> = b
        .find_all("#report article.finding dd.advisory a")
        .iter()
        .map(|a| b.text(a))
        .collect();
    let mut stored: Vec<String> = findings
        .iter()
        .filter_map(|f| f["advisory"]["id"].as_str().map(str::to_string))
        .collect();
    let mut sorted = reported.clone();
    sorted.sort();
    stored.sort();
    assert_eq!(
        sorted, stored,
        "the one-off report matches the project's findings"
    );
    let ranks = b.script(
        "return [...document.querySelectorAll('#report article.finding')]\
           .map(a => ['critical', 'high', 'medium', 'low', 'info'].indexOf(a.dataset.severity));",
        json!([]),
    );
    let ranks: Vec<i64> = ranks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "worst first: {ranks:?}"
    );
    b.screenshot("09-scan-report");
    assert_eq!(
        site.project_names(&token),
        vec!["vision-service".to_string()]
    );
    assert_eq!(site.findings(&token, project).len(), findings.len());
}

/// The pages of a project with findings, a triaged one, and the scan and advisory views.
fn every_page(site: &Site) -> Vec<(&'static str, String)> {
    site.user("bo@example.com", "blue", Role::Member);
    let token = site.server.token("blue", Role::Member);
    let project = site
        .server
        .create_project(&token, "a-rather-long-project-name-for-a-phone-screen");
    let job = site.upload(&token, project, "poetry.lock", POETRY_LOCK);
    let finding = finding_with_advisory(&site.findings(&token, project), TORCH_ADVISORY);
    let triaged = site.server.json(
        "PATCH",
        &format!("/api/v1/findings/{}", finding["id"]),
        &token,
        &json!({"triage": "fix_planned", "reason": "upgrade in the next sprint", "expires": "2030-01-31"}),
    );
    assert_eq!(triaged.status, 200, "{}", triaged.text);
    vec![
        ("login", "/login".to_string()),
        ("projects", "/projects".to_string()),
        ("project", format!("/projects/{project}")),
        ("job", format!("/jobs/{}", job["id"])),
        ("scan", "/scan".to_string()),
        ("advisories", "/advisories".to_string()),
        ("advisory", format!("/advisories/{TORCH_ADVISORY}")),
        ("not-found", "/projects/999999".to_string()),
    ]
}

#[test]
fn every_page_fits_a_phone_and_follows_the_dark_colour_scheme() {
    let Some(site) = Site::open("phone") else {
        return;
    };
    let b = &site.browser;
    let pages = every_page(&site);
    b.viewport(390, 844, true);
    b.color_scheme(false);
    for (name, path) in &pages {
        if *name == "login" {
            b.goto(&site.url(path));
        } else {
            if b.path() == "/login" || !b.find_all("form#login").is_empty() {
                site.sign_in("bo@example.com");
            }
            b.goto(&site.url(path));
        }
        b.screenshot(&format!("{name}-phone"));
        assert_readable(b, name, true);
        // A phone widens the layout viewport to fit content that does not fit.
        let width = b.script(
            "return [document.scrollingElement.scrollWidth, window.innerWidth];",
            json!([]),
        );
        assert_eq!(width[1], 390, "{name}: wider than a phone: {width}");
        assert!(
            !b.scrolls_sideways(),
            "{name} scrolls sideways on a phone: {width}"
        );

        let light = background(b);
        b.color_scheme(true);
        let dark = background(b);
        assert_ne!(light, dark, "{name}: dark mode changes the background");
        assert!(luminance(&dark) < 0.2, "{name}: dark background {dark}");
        assert!(luminance(&light) > 0.8, "{name}: light background {light}");
        b.screenshot(&format!("{name}-phone-dark"));
        assert_readable(b, &format!("{name} (dark)"), false);
        b.color_scheme(false);
    }

    // The wide layout too, in dark mode (the review screenshots of the other test are light).
    b.viewport(1280, 900, false);
    b.color_scheme(true);
    for (name, path) in &pages[1..4] {
        b.goto(&site.url(path));
        assert!(!b.scrolls_sideways(), "{name} scrolls sideways at 1280 px");
        b.screenshot(&format!("{name}-dark"));
    }
}

/// Every text on the page has a WCAG 2 contrast of at least 4.5:1 against the first opaque
/// background behind it, every form field a label, and (`from_the_top`: the focus has not moved since the page loaded)
/// every element the Tab key reaches shows a focus outline.
fn assert_readable(browser: &Browser, page: &str, from_the_top: bool) {
    let low = browser.script(CONTRAST_SCRIPT, json!([]));
    assert_eq!(low, json!([]), "{page}: text below 4.5:1 contrast");
    let unlabelled = browser.script(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]\
           .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))\
           .map(e => e.outerHTML.slice(0, 100));",
        json!([]),
    );
    assert_eq!(unlabelled, json!([]), "{page}: form fields without a label");
    if !from_the_top {
        return;
    }
    let mut missing = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..300 {
        browser.keys(TAB);
        let focus = browser.script(FOCUS_SCRIPT, json!([]));
        let what = focus["what"].as_str().unwrap_or_default().to_string();
        if focus["body"] == true || seen.first() == Some(&what) {
            break;
        }
        if focus["visible"] != true {
            missing.push(what.clone());
        }
        seen.push(what);
    }
    assert!(
        missing.is_empty(),
        "{page}: focus without an outline: {missing:?}"
    );
}

/// The focused element: whether it is the body, shows an outline, and what it is.
const FOCUS_SCRIPT: &str = "const e = document.activeElement; const s = getComputedStyle(e);\
    return {body: e === document.body, visible: s.outlineStyle !== 'none' &&\
            parseFloat(s.outlineWidth) >= 2, what: e.outerHTML.slice(0, 100)};";

/// Texts whose colour is below 4.5:1 against their background: `[text, ratio]`.
const CONTRAST_SCRIPT: &str = r#"
const rgba = c => (c.match(/[\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
const backdrop = e => { for (; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c; }
    return [255, 255, 255]; };
const low = [];
for (const e of document.body.querySelectorAll('*')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || e.getClientRects().length === 0 || e.closest('.skip')) continue;
    const s = getComputedStyle(e);
    if (s.visibility === 'hidden') continue;
    const [a, b] = [lum(rgba(s.color)), lum(backdrop(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push([e.textContent.trim().slice(0, 40), Math.round(ratio * 100) / 100]);
}
return low;"#;

fn background(browser: &Browser) -> String {
    browser
        .script(
            "return getComputedStyle(document.body).backgroundColor;",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Relative luminance (0 black, 1 white) of a computed `rgb(r, g, b)` colour.
fn luminance(rgb: &str) -> f64 {
    let channels: Vec<f64> = rgb
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .filter_map(|c| c.trim().parse::<f64>().ok())
        .map(|c| {
            let c = c / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
        .collect();
    assert_eq!(channels.len(), 3, "{rgb}");
    0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
}

/// Markup that runs script if a page ever emits it unescaped.
const HOSTILE_NAME: &str = "<img src=x onerror=window.__pwned=1;alert(1)>";
const HOSTILE_SUMMARY: &str =
    "<img src=x onerror=\"window.__pwned=2;alert(2)\"> torch hostile summary";
const HOSTILE_DETAILS: &str =
    "<script>window.__pwned=3;alert(3)</script><svg onload=\"window.__pwned=4\"></svg> details";

/// An OSV record for torch whose every text field is markup.
fn hostile_advisory() -> Value {
    json!({
        "id": "PYSEC-2099-1",
        "modified": "2099-01-02T00:00:00Z",
        "published": "2099-01-01T00:00:00Z",
        "aliases": ["CVE-2099-0001\"><script>window.__pwned=5</script>"],
        "summary": HOSTILE_SUMMARY,
        "details": HOSTILE_DETAILS,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "torch"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}]
            },
            {
                "package": {"ecosystem": "PyPI", "name": HOSTILE_NAME},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0<b onmouseover=alert(6)>"}]}]
            }
        ],
        "references": [
            {"type": "WEB", "url": "javascript:window.__pwned=7"},
            {"type": "ADVISORY", "url": "https://advisories.invalid/\"><script>alert(8)</script>"}
        ]
    })
}

/// No script of the page's content ran, no dialog opened, no element came from content.
fn assert_inert(browser: &Browser, page: &str) {
    assert_eq!(browser.alert_text(), None, "{page}: an alert fired");
    let state = browser.script(
        "return {pwned: typeof window.__pwned,\
                 elements: document.querySelectorAll('img, script, svg, iframe, b').length};",
        json!([]),
    );
    assert_eq!(state["pwned"], "undefined", "{page}: script ran");
    assert_eq!(
        state["elements"], 0,
        "{page}: markup from content became elements"
    );
}

#[test]
fn hostile_package_names_and_advisory_text_render_as_inert_text() {
    let Some(site) = Site::open("hostile") else {
        return;
    };
    let b = &site.browser;
    let advisories = site.files.path().join("advisories");
    std::fs::create_dir_all(&advisories).expect("dir");
    std::fs::write(
        advisories.join("PYSEC-2099-1.json"),
        hostile_advisory().to_string(),
    )
    .expect("write advisory");
    mlvet_db::Database::open_or_create(site.server.data.path())
        .expect("advisory db")
        .import_path(&advisories, &mlvet_db::NoProgress)
        .expect("import the hostile advisory");

    site.user("cy@example.com", "green", Role::Member);
    let token = site.server.token("green", Role::Member);
    let project = site.server.create_project(&token, HOSTILE_NAME);
    let lock = format!(
        "{POETRY_LOCK}\n[[package]]\nname = \"{}\"\nversion = \"1.0\"\noptional = false\n",
        HOSTILE_NAME.replace('"', "\\\"")
    );
    site.upload(&token, project, "poetry.lock", &lock);
    let findings = site.findings(&token, project);
    finding_with_advisory(&findings, "PYSEC-2099-1");

    site.sign_in("cy@example.com");
    let shown = [
        ("projects", "/projects".to_string(), vec![HOSTILE_NAME]),
        (
            "project",
            format!("/projects/{project}"),
            vec![HOSTILE_NAME, HOSTILE_SUMMARY],
        ),
        (
            "advisories",
            "/advisories?q=PYSEC-2099-1".to_string(),
            vec![HOSTILE_SUMMARY],
        ),
        (
            "advisory",
            "/advisories/PYSEC-2099-1".to_string(),
            vec![HOSTILE_SUMMARY, HOSTILE_NAME, "javascript:window.__pwned=7"],
        ),
    ];
    for (name, path, texts) in &shown {
        b.goto(&site.url(path));
        assert_inert(b, name);
        let text = body_text(b);
        for expected in texts {
            assert!(
                text.contains(expected),
                "{name} does not show {expected} as text"
            );
        }
        b.screenshot(name);
    }
    // The reference that is not http(s) is text, not a link.
    assert!(b.find_all("a[href^='javascript:']").is_empty());

    // The scan page echoes pasted requirements it cannot parse.
    b.goto(&site.url("/scan"));
    b.type_into(
        &b.find("#scan-requirements"),
        &format!("torch==1.12.0\n{HOSTILE_NAME}\n"),
    );
    b.click(&b.find("form#scan button[type=submit]"));
    b.wait_for("the scan report", Duration::from_secs(60), |b| {
        !b.find_all("#report").is_empty() || !b.find_all("p.error").is_empty()
    });
    assert_inert(b, "scan report");
    b.screenshot("scan");
}

/// A page on another loopback origin whose form posts to the app by itself.
struct Attacker {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Attacker {
    fn serve(page: String) -> Attacker {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    // A thread per connection: Chromium opens speculative connections
                    // that send nothing, which must not hold up the real request.
                    Ok((stream, _)) => {
                        let page = page.clone();
                        std::thread::spawn(move || answer(stream, &page));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Attacker {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

/// Reads (part of) one request, answers `page`, closes.
fn answer(mut stream: std::net::TcpStream, page: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = [0u8; 4096];
    if matches!(stream.read(&mut request), Ok(0) | Err(_)) {
        return;
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An auto-submitting form to `action` with `fields`.
fn forged_form(action: &str, enctype: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!("<input type=hidden name=\"{k}\" value=\"{v}\">"))
        .collect();
    format!(
        "<!doctype html><title>win a prize</title>\
         <form method=post action=\"{action}\" enctype=\"{enctype}\">{inputs}</form>\
         <script>document.forms[0].submit()</script>"
    )
}

#[test]
fn forms_posted_from_another_origin_change_nothing() {
    let Some(site) = Site::open("csrf") else {
        return;
    };
    let b = &site.browser;
    site.user("di@example.com", "gold", Role::Member);
    let token = site.server.token("gold", Role::Member);
    let project = site.server.create_project(&token, "kept");
    site.upload(&token, project, "poetry.lock", POETRY_LOCK);
    let finding = finding_with_advisory(&site.findings(&token, project), TORCH_ADVISORY);
    let before = site.project_names(&token);
    let jobs = |site: &Site| site.server.app.store.jobs(project, 50).expect("jobs").len();
    let jobs_before = jobs(&site);

    site.sign_in("di@example.com");
    // Even with the session's token leaked to the attacker, the origin gives it away.
    let csrf = b
        .attribute(&b.find("#logout input[name=csrf]"), "value")
        .expect("the session's csrf token");
    let forgeries = [
        (
            "new project",
            site.url("/projects"),
            "application/x-www-form-urlencoded",
            vec![("name", "forged"), ("csrf", csrf.as_str())],
        ),
        (
            "triage",
            site.url(&format!("/findings/{}/triage", finding["id"])),
            "application/x-www-form-urlencoded",
            vec![
                ("triage", "false_positive"),
                ("reason", "forged"),
                ("csrf", csrf.as_str()),
            ],
        ),
        (
            "upload",
            site.url(&format!("/projects/{project}/uploads")),
            "multipart/form-data",
            vec![("csrf", csrf.as_str())],
        ),
        (
            "sign out",
            site.url("/logout"),
            "application/x-www-form-urlencoded",
            vec![("csrf", csrf.as_str())],
        ),
    ];
    // 127.0.0.1 on another port is the same site but another origin: the Strict session
    // cookie goes along, and the server's origin check must refuse. `localhost` is another
    // site: the cookie stays home.
    for host in ["127.0.0.1", "localhost"] {
        for (what, action, enctype, fields) in &forgeries {
            let attacker = Attacker::serve(forged_form(action, enctype, fields));
            b.goto(&format!("http://{host}:{}/", attacker.port));
            b.wait_for(
                &format!("the forged {what} form from {host} to land"),
                Duration::from_secs(30),
                |b| b.url().starts_with(&site.server.base),
            );
            let landed = body_text(b);
            let refused_by_origin = landed.contains("The form was not sent from this site");
            // From another site the Strict cookie stays home: the sign-in page, or the same
            // refusal (the sign-out form needs no session to be checked).
            let refused =
                refused_by_origin || (host == "localhost" && b.path().starts_with("/login"));
            assert!(
                refused,
                "forged {what} from {host} was not refused: {landed}"
            );
            b.screenshot(&format!("{what}-{host}").replace(' ', "-"));
        }
    }
    assert_eq!(site.project_names(&token), before);
    let after = finding_with_advisory(&site.findings(&token, project), TORCH_ADVISORY);
    assert_eq!(after["state"], "open", "{after}");
    assert_eq!(jobs(&site), jobs_before);
    // Still signed in: the forged sign-out did nothing either.
    b.goto(&site.url("/projects"));
    assert_eq!(b.path(), "/projects");
    assert!(body_text(b).contains("kept"));
}
