//! Signing in and out. A new session secret at every login (a planted cookie is worthless),
//! attempts rate-limited per client address, the login form protected by a double-submit
//! cookie because there is no session yet.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use maud::html;

use super::{LOGIN_CSRF_COOKIE, PageAccess, SESSION_COOKIE, SESSION_DAYS, Visitor, WebError};
use crate::App;
use crate::api::Caller;
use crate::problem::Problem;

pub async fn root(State(app): State<Arc<App>>, caller: Caller, uri: Uri) -> Response {
    match super::gate(&app, &caller, &uri, PageAccess::Anonymous).await {
        Ok(visitor) if visitor.principal.is_some() => super::see_other("/projects"),
        Ok(_) => super::see_other("/login"),
        Err(response) => response,
    }
}

fn login_page(
    app: &App,
    visitor: &Visitor,
    next: &str,
    error: Option<&str>,
    email: &str,
    status: StatusCode,
) -> Response {
    let token = mlvet_store::secrets::random_alnum(32);
    let body = html! {
        @if let Some(principal) = &visitor.principal {
            p { "You are signed in as " (principal.actor.trim_start_matches("user:")) "." }
        }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form #login method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(next);
            div.field {
                label for="email" { "Email" }
                input #email type="email" name="email" autocomplete="username" required value=(email);
            }
            div.field {
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
            }
            button type="submit" { "Sign in" }
        }
    };
    let mut response = super::html(status, super::layout::page("Sign in", Some(visitor), body));
    response.headers_mut().append(
        header::SET_COOKIE,
        super::set_cookie(app, LOGIN_CSRF_COOKIE, &token, "/login", 3600),
    );
    response
}

pub async fn login_form(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let visitor = match super::gate(&app, &caller, &uri, PageAccess::Anonymous).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let params = crate::api::query_params(query).unwrap_or_default();
    let next = super::safe_next(params.get("next").map(String::as_str));
    login_page(&app, &visitor, &next, None, "", StatusCode::OK)
}

pub async fn login(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let visitor = match super::gate(&app, &caller, &uri, PageAccess::Anonymous).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    match try_login(&app, &caller, &visitor, body).await {
        Ok(response) => response,
        Err(error) => error.render(Some(&visitor)),
    }
}

async fn try_login(
    app: &Arc<App>,
    caller: &Caller,
    visitor: &Visitor,
    body: axum::body::Body,
) -> Result<Response, WebError> {
    let form = super::read_form(&caller.headers, body).await?;
    // Double submit: the form's token must equal the cookie set with the form.
    let cookie = super::cookie(&caller.headers, LOGIN_CSRF_COOKIE);
    let sent = form.get("csrf");
    let matches = match (&cookie, sent) {
        (Some(cookie), Some(sent)) => {
            mlvet_store::secrets::constant_time_eq(cookie.as_bytes(), sent.as_bytes())
        }
        _ => false,
    };
    if !super::same_origin(&caller.headers) || !matches {
        return Err(WebError::csrf());
    }
    app.limiter
        .check(
            &format!("login:{}", caller.peer_key()),
            app.config.limits.auth_failures_per_minute,
        )
        .map_err(|wait| WebError::from(Problem::too_many(wait)))?;
    let next = super::safe_next(form.get("next").map(String::as_str));
    let email = form.get("email").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    if email.len() > 320 || password.len() > 1024 {
        return Err(WebError::bad_request("The email or password is too long."));
    }
    let checked_email = email.clone();
    let user = app
        .blocking(move |store| store.authenticate_user(&checked_email, &password))
        .await?;
    let Some((user_id, _principal)) = user else {
        return Ok(login_page(
            app,
            visitor,
            &next,
            Some("Wrong email or password."),
            &email,
            StatusCode::UNAUTHORIZED,
        ));
    };
    // The session the browser had (if any) ends: a new secret every time.
    let previous = visitor.session.clone();
    let (secret, _csrf) = app
        .blocking(move |store| {
            if let Some(previous) = previous {
                store.delete_session(&previous)?;
            }
            store.create_session(user_id, SESSION_DAYS)
        })
        .await?;
    let mut response = super::see_other(&next);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        super::set_cookie(app, SESSION_COOKIE, &secret, "/", SESSION_DAYS * 86_400),
    );
    headers.append(
        header::SET_COOKIE,
        super::set_cookie(app, LOGIN_CSRF_COOKIE, "", "/login", 0),
    );
    Ok(response)
}

pub async fn logout(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    let visitor = match super::gate(
        &app,
        &caller,
        &uri,
        PageAccess::Role(mlvet_store::Role::Viewer),
    )
    .await
    {
        Ok(v) => v,
        Err(response) => return response,
    };
    let result: Result<Response, WebError> = async {
        let form = super::read_form(&caller.headers, body).await?;
        super::check_csrf(
            &visitor,
            &caller.headers,
            form.get("csrf").map(String::as_str),
        )?;
        if let Some(secret) = visitor.session.clone() {
            app.blocking(move |store| store.delete_session(&secret))
                .await?;
        }
        let mut response = super::see_other("/login");
        response.headers_mut().append(
            header::SET_COOKIE,
            super::set_cookie(&app, SESSION_COOKIE, "", "/", 0),
        );
        Ok(response)
    }
    .await;
    result.unwrap_or_else(|error| error.render(Some(&visitor)))
}
