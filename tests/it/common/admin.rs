//! A logged-in moderator for tests: an account made through the library (as the CLI
//! does), a session cookie and its CSRF token, sent by hand so tests see exactly what
//! a browser would send.

use afterword::auth::accounts::{Accounts, Username};
use afterword::auth::password::Password;
use afterword::config::Settings;
use afterword::db::Pool;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

use super::TestApp;

pub const PASSWORD: &str = "correct horse battery";

/// Creates a moderator account in the test's database.
pub fn create_account(app: &TestApp, username: &str, display_name: &str, password: &str) {
    let text = format!("database_url = \"{}\"\n", app.db.url());
    let settings = Settings::from_toml(&text, &|_| None).expect("settings");
    let pool = Pool::connect(&settings.database_url, settings.sqlite_synchronous, 1).expect("pool");
    Accounts::new(pool)
        .create(
            &Username::parse(username).expect("username"),
            display_name,
            &Password::new_choice(password.to_owned()).expect("password"),
        )
        .expect("create account");
}

/// A moderator's browser: its session cookie and CSRF token.
pub struct Admin<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// POSTs a login and returns the raw answer.
    pub async fn login_raw(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/admin/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Creates an account `name` (shown as `display`) and logs it in.
    pub async fn admin_as(&self, name: &str, display: &str) -> Admin<'_> {
        create_account(self, name, display, PASSWORD);
        self.login(name, PASSWORD).await
    }

    /// A moderator "mod" shown as "Site Owner", logged in.
    pub async fn admin(&self) -> Admin<'_> {
        self.admin_as("mod", "Site Owner").await
    }

    pub async fn login(&self, username: &str, password: &str) -> Admin<'_> {
        let r = self.login_raw(username, password).await;
        assert_eq!(r.status(), 200, "login failed");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("afterword_session=") || v.starts_with("__Host-"))
            .expect("a session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let v: Value = r.json().await.unwrap();
        Admin {
            app: self,
            cookie,
            csrf: v["csrf_token"].as_str().expect("csrf_token").to_owned(),
        }
    }
}

impl Admin<'_> {
    /// A request with the session cookie and the CSRF token, as the admin page sends it.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.request(Method::GET, path).send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// POSTs JSON and returns the raw answer.
    pub async fn post_raw(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs JSON, asserts a 2xx and returns the body (`null` for none).
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.post_raw(path, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.request(Method::PATCH, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/v1/admin/comments/{id}/{action}`, asserting 200; the status now.
    pub async fn act(&self, id: i64, action: &str) -> Value {
        self.post(&format!("/api/v1/admin/comments/{id}/{action}"), json!({}))
            .await
    }
}
