//! The layout every page shares: landmarks, navigation, the logout form.

use maud::{DOCTYPE, Markup, html};

use super::Visitor;

/// A whole page: `title` is the `<h1>` and the document title.
pub fn page(title: &str, visitor: Option<&Visitor>, content: Markup) -> Markup {
    page_with_head(title, visitor, html! {}, content)
}

/// [`page`] with extra `<head>` elements (the job page's refresh).
pub fn page_with_head(
    title: &str,
    visitor: Option<&Visitor>,
    head: Markup,
    content: Markup,
) -> Markup {
    let principal = visitor.and_then(|v| v.principal.as_ref());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · mlvet" }
                link rel="stylesheet" href=(super::assets::stylesheet_path());
                (head)
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/" { "mlvet" }
                        ul {
                            li { a href="/scan" { "Scan" } }
                            li { a href="/projects" { "Projects" } }
                            li { a href="/advisories" { "AI & ML vulnerabilities" } }
                            // Only admins may open the webhooks pages: others are not shown the link.
                            @if principal.is_some_and(|p| p.role >= mlvet_store::Role::Admin) {
                                li { a href="/webhooks" { "Webhooks" } }
                            }
                        }
                        @if let (Some(principal), Some(visitor)) = (principal, visitor) {
                            form #logout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(visitor.csrf);
                                span.who { (principal.actor.trim_start_matches("user:")) " · " (principal.team) " · " (principal.role) }
                                button type="submit" { "Sign out" }
                            }
                        } @else {
                            a.signin href="/login" { "Sign in" }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// The CSS class of a severity (unknown text maps to `info`).
pub fn severity_class(severity: &str) -> &'static str {
    match severity {
        "critical" => "sev-critical",
        "high" => "sev-high",
        "medium" => "sev-medium",
        "low" => "sev-low",
        _ => "sev-info",
    }
}

/// Worst first.
pub fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// What the terminal report says of a finding (the JSON report's fields): message, place,
/// package, advisory (linked to its page), fixed version, remediation.
pub fn finding_details(finding: &serde_json::Value) -> Markup {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let package = &finding["package"];
    let advisory = &finding["advisory"];
    let place = {
        let mut place = text(&finding["path"]).unwrap_or_default();
        if let Some(member) = text(&finding["member"]) {
            place.push_str(" ▸ ");
            place.push_str(&member);
        }
        if let Some(line) = finding["line"].as_u64() {
            place.push_str(&format!(":{line}"));
        }
        place
    };
    html! {
        p.message { (text(&finding["message"]).unwrap_or_default()) }
        dl.facts {
            dt { "rule" } dd { code { (text(&finding["rule"]).unwrap_or_default()) } }
            @if !place.is_empty() { dt { "where" } dd.where { (place) } }
            @if package.is_object() {
                dt { "package" }
                dd.package {
                    (text(&package["name"]).unwrap_or_default())
                    @if let Some(version) = text(&package["version"]) { " " (version) }
                    @else if let Some(requirement) = text(&package["requirement"]) { " (" (requirement) ")" }
                }
            }
            @if let Some(id) = text(&advisory["id"]) {
                dt { "advisory" }
                dd.advisory { a href={ "/advisories/" (super::percent_encode(&id)) } { (id) }
                    @if let Some(summary) = text(&advisory["summary"]) { " — " (summary) } }
                dt { "fixed in" }
                dd.fixed { (text(&advisory["fixed"]).unwrap_or_else(|| "no fix known".to_string())) }
            }
            @if let Some(remediation) = text(&finding["remediation"]) {
                dt { "remediation" } dd.remediation { (remediation) }
            }
            @for evidence in finding["evidence"].as_array().into_iter().flatten().take(20) {
                dt { (text(&evidence["label"]).unwrap_or_default()) }
                dd { code { (text(&evidence["value"]).unwrap_or_default().chars().take(500).collect::<String>()) } }
            }
        }
    }
}
