//! A signed-in user of the web pages for the integration tests: a cookie client that does not follow redirects,
//! with the CSRF token taken from the pages, and the small readers the page tests share.

use reqwest::{Client, Response};

use crate::helpers::TestApp;

/// A browser: its own cookies, redirects not followed.
pub(crate) struct Browser<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) client: Client,
}

impl<'a> Browser<'a> {
    pub(crate) async fn signed_in(app: &'a TestApp, email: &str, password: &str) -> Self {
        let client = Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let browser = Self { app, client };
        let page = browser.get("/login").await.text().await.unwrap();
        let csrf = csrf_of(&page);
        let signed =
            browser.post("/login", &[("email", email), ("password", password), ("csrf", &csrf), ("next", "/")]).await;
        assert_eq!(location(&signed), "/", "{email} signs in");
        browser
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.client.get(self.app.url(path)).send().await.unwrap()
    }

    pub(crate) async fn html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client.post(self.app.url(path)).form(form).send().await.unwrap()
    }

    /// A POST with the session's CSRF token.
    pub(crate) async fn send(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let csrf = csrf_of(&self.html("/").await);
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }
}

/// Where a redirect points.
pub(crate) fn location(response: &Response) -> String {
    response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The value of the first `name="csrf"` hidden field.
pub(crate) fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no csrf field in {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}
