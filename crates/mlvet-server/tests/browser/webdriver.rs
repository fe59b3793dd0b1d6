//! A small W3C WebDriver client for the browser suite: chromedriver and a headless Chromium
//! started per test, driven over chromedriver's HTTP API with the workspace's `ureq`, plus
//! the Chrome DevTools commands chromedriver forwards (`goog/cdp/execute`) for full-page
//! screenshots, phone viewports and the colour scheme.
//!
//! Binaries come from `MLVET_TEST_CHROMEDRIVER` / `MLVET_TEST_CHROMIUM` (defaults
//! `/usr/bin/chromedriver`, `/usr/bin/chromium`). When `MLVET_TEST_CHROMEDRIVER` is set the
//! browser is mandatory: failing to start it fails the test. Otherwise a missing or broken
//! browser skips the test with a printed note. Every wait is bounded; dropping a [`Browser`]
//! ends its session and kills chromedriver's process group (Chromium included).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key of an element reference in W3C WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Longest wait for chromedriver to listen and for a session to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for one WebDriver command (a page load included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// WebDriver key codes (the spec's private-use code points).
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";

/// A reference to an element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

pub struct Browser {
    driver: Child,
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    /// Chromium's process id, killed by hand if ending the session fails.
    chromium_pid: Option<u32>,
    profile: tempfile::TempDir,
    /// Where [`Browser::screenshot`] writes, with the test's name as the file prefix.
    screenshots: PathBuf,
    prefix: String,
}

/// Where screenshots go: `<target dir>/browser-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("browser-screenshots")
}

fn binary(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

impl Browser {
    /// A fresh headless Chromium for the test `name`, or `None` (with a note on stderr) when
    /// the browser is optional here and missing or broken.
    #[allow(clippy::print_stderr)]
    pub fn start(name: &str) -> Option<Browser> {
        let required = std::env::var_os("MLVET_TEST_CHROMEDRIVER").is_some_and(|v| !v.is_empty());
        let driver = binary("MLVET_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = binary("MLVET_TEST_CHROMIUM", "/usr/bin/chromium");
        let present = driver.is_file() && chromium.is_file();
        if !required && !present {
            eprintln!(
                "browser test {name} SKIPPED: {} or {} is missing (set MLVET_TEST_CHROMEDRIVER \
                 and MLVET_TEST_CHROMIUM to make it mandatory)",
                driver.display(),
                chromium.display()
            );
            return None;
        }
        match Browser::launch(name, &driver, &chromium) {
            Ok(browser) => Some(browser),
            Err(error) if required => panic!(
                "MLVET_TEST_CHROMEDRIVER is set but the browser cannot start \
                 ({} with {}): {error}",
                driver.display(),
                chromium.display()
            ),
            Err(error) => {
                eprintln!("browser test {name} SKIPPED: the browser cannot start: {error}");
                None
            }
        }
    }

    fn launch(name: &str, driver: &Path, chromium: &Path) -> Result<Browser, String> {
        let port = free_port()?;
        let profile = tempfile::tempdir().map_err(|e| format!("profile dir: {e}"))?;
        let log = profile.path().join("chromedriver.log");
        let mut command = Command::new(driver);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            // Chromium on Linux takes its locale from the environment (`--lang` too, below).
            .env("LANGUAGE", "en_US:en")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that drop can end chromedriver and every Chromium
        // process it started, and nothing else.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", driver.display()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(COMMAND_TIMEOUT))
            .build()
            .into();
        let mut browser = Browser {
            driver: child,
            agent,
            session: String::new(),
            chromium_pid: None,
            profile,
            screenshots: screenshot_dir(),
            prefix: name.to_string(),
        };
        let base = format!("http://127.0.0.1:{port}");
        browser.wait_until_ready(&base)?;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            // An alert stays open, so that a test can see it fired.
            "unhandledPromptBehavior": "ignore",
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 10_000},
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    // The keyboard test types a date in the en-US field order.
                    "--lang=en-US", "--window-size=1280,900",
                    format!("--user-data-dir={}", browser.profile.path().join("profile").display()),
                ],
            },
        }}});
        let created = browser
            .raw("POST", &format!("{base}/session"), Some(capabilities))
            .map_err(|e| format!("{e}; chromedriver log: {}", tail(&log)))?;
        let id = created["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {created}"))?;
        browser.chromium_pid = created["capabilities"]["goog:processID"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok());
        browser.session = format!("{base}/session/{id}");
        std::fs::create_dir_all(&browser.screenshots)
            .map_err(|e| format!("{}: {e}", browser.screenshots.display()))?;
        Ok(browser)
    }

    fn wait_until_ready(&mut self, base: &str) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(format!("chromedriver exited at start: {status}"));
            }
            if let Ok(value) = self.raw("GET", &format!("{base}/status"), None)
                && value["ready"] == true
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("chromedriver not ready within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One WebDriver request: the answer's `value`, or its error and message.
    fn raw(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Content-Type", "application/json");
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut response = self
            .agent
            .run(request.body(bytes).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} {url}: {status} not JSON ({e}): {text:.300}"))?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 {
            Ok(value)
        } else {
            Err(format!(
                "{method} {url}: {status} {}: {}",
                value["error"].as_str().unwrap_or("?"),
                value["message"].as_str().unwrap_or("")
            ))
        }
    }

    /// A command of this session (`path` after `/session/ID`), or its error.
    pub fn try_command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.raw(method, &format!("{}{path}", self.session), body)
    }

    /// A command of this session; panics with chromedriver's message when it fails.
    pub fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver: {e}"))
    }

    /// A Chrome DevTools Protocol command through chromedriver.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
    }

    // ---- navigation and the page ----

    /// Loads `url` and waits for the load event (bounded by the page-load timeout).
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})));
    }

    pub fn url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The path and query of the current URL.
    pub fn path(&self) -> String {
        let url = self.url();
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        after_scheme
            .find('/')
            .map_or_else(|| "/".to_string(), |i| after_scheme[i..].to_string())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page; its result.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Polls `condition` until it holds; panics with `what` after `timeout`.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut(&Browser) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !condition(self) {
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {what}; at {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the current path to start with `prefix`.
    pub fn wait_for_path(&self, prefix: &str) {
        self.wait_for(
            &format!("a page under {prefix}"),
            Duration::from_secs(30),
            |b| b.path().starts_with(prefix),
        );
    }

    /// The text of an open alert, confirm or prompt, if one is open.
    pub fn alert_text(&self) -> Option<String> {
        self.try_command("GET", "/alert/text", None)
            .ok()
            .map(|v| v.as_str().unwrap_or_default().to_string())
    }

    // ---- elements ----

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.command(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e[ELEMENT_KEY].as_str())
        .map(|id| Element(id.to_string()))
        .collect()
    }

    /// The first element matching `css`; panics when there is none.
    pub fn find(&self, css: &str) -> Element {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element {css} at {}", self.url()))
    }

    pub fn click(&self, element: &Element) {
        self.command(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        );
    }

    /// Types `text` into `element` (a file input takes a local path).
    pub fn type_into(&self, element: &Element, text: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        );
    }

    pub fn text(&self, element: &Element) -> String {
        self.command("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.command(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )
        .as_str()
        .map(str::to_string)
    }

    // ---- keyboard ----

    /// Presses each key of `keys` in turn (characters or [`TAB`]/[`ENTER`]) on whatever has the
    /// focus, as a person at the keyboard would.
    pub fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        self.command(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// A description of the focused element: `tag#id.class[name]`.
    pub fn focused(&self) -> String {
        self.script(
            "const e = document.activeElement; if (!e) return '';\
             return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +\
               (e.className ? '.' + String(e.className).split(' ').join('.') : '') +\
               (e.name ? '[' + e.name + ']' : '');",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    // ---- rendering ----

    /// Emulates a viewport of `width` × `height` CSS pixels (`mobile`: a phone's, honouring
    /// the page's `<meta name=viewport>`).
    pub fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
    }

    /// Emulates `prefers-color-scheme: dark` (or light).
    pub fn color_scheme(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
        );
    }

    /// Whether the page scrolls sideways at the current width.
    pub fn scrolls_sideways(&self) -> bool {
        self.script(
            "return document.scrollingElement.scrollWidth > window.innerWidth;",
            json!([]),
        ) == true
    }

    /// Saves a full-page PNG as `<prefix>-<step>.png` under [`screenshot_dir`]; its path.
    #[allow(clippy::print_stderr)]
    pub fn screenshot(&self, step: &str) -> PathBuf {
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64_decode(data).expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        let path = self.screenshots.join(format!("{}-{step}.png", self.prefix));
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let ended = self.session.is_empty() || self.try_command("DELETE", "", None).is_ok();
        if !ended && let Some(pid) = self.chromium_pid {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        // The whole group chromedriver leads: chromedriver and what it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(2000);
    text.get(start..).unwrap_or_default().to_string()
}

/// Standard base64 (with padding) as Chromium sends screenshots.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let padding = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if padding > 2 {
            return None;
        }
        let mut word = 0u32;
        for &c in &chunk[..4 - padding] {
            word = (word << 6) | value(c)?;
        }
        word <<= 6 * padding as u32;
        let decoded = [(word >> 16) as u8, (word >> 8) as u8, word as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

#[test]
fn base64_decodes_what_browsers_send() {
    assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
    assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
    assert_eq!(base64_decode("aGV5").as_deref(), Some(&b"hey"[..]));
    assert_eq!(base64_decode("a$==").as_deref(), None);
    assert_eq!(base64_decode("abc").as_deref(), None);
}
