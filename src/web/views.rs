//! Askama views shared by several areas: the error page and the alert fragment.

use askama::Template;

use crate::web::page::Page;

/// A full error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub page: &'a Page,
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub request_id: String,
}

/// An alert swapped into the page's flash region by htmx.
#[derive(Template)]
#[template(path = "partials/_alert.html")]
pub struct AlertFragment<'a> {
    pub page: &'a Page,
    /// `info`, `success`, `warn` or `error`.
    pub kind: &'static str,
    pub message: String,
    pub request_id: Option<String>,
}
