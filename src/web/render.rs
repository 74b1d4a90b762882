//! Turning askama views into responses.

use askama::Template;
use axum::response::Html;

use crate::web::error::AppError;

/// Renders a template into an HTML response.
pub fn html(view: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(view.render()?))
}
