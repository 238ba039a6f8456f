//! A minimal browser for the server-rendered pages: keeps cookies, follows nothing by
//! itself (tests look at each redirect), and reads the CSRF token out of forms.

use std::collections::HashMap;

use awc::http::header::{self, HeaderMap};

pub struct Browser {
    base: String,
    client: awc::Client,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The raw `Set-Cookie` line for `name`, if the response set it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the hidden `csrf_token` input.
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).expect("a csrf_token input") + marker.len();
        let end = self.body[start..].find('"').expect("end of value") + start;
        self.body[start..end].to_owned()
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: awc::Client::builder().disable_redirects().finish(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Remembers cookies the response set (an empty value or Max-Age=0 removes one).
    fn remember(&mut self, headers: &HeaderMap) {
        for line in headers
            .get_all(header::SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
        {
            let pair = line.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let removed = value.is_empty() || line.contains("Max-Age=0");
            if removed {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut response = self
            .client
            .get(format!("{}{path}", self.base))
            .insert_header((header::COOKIE, self.cookie_header()))
            .send()
            .await
            .expect("GET");
        let headers = response.headers().clone();
        self.remember(&headers);
        let body = response.body().await.expect("body");
        Page {
            status: response.status().as_u16(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut response = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header((header::COOKIE, self.cookie_header()))
            .send_form(&form)
            .await
            .expect("POST");
        let headers = response.headers().clone();
        self.remember(&headers);
        let body = response.body().await.expect("body");
        Page {
            status: response.status().as_u16(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Fills in the form at `path` (with its CSRF token) and expects a 303 to /home.
    async fn submit_to_home(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let form = self.get(path).await;
        assert_eq!(form.status, 200);
        let token = form.csrf_token();
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        let done = self.post_form(path, &fields).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location(), Some("/home"));
        done
    }

    /// Registers through the form and lands signed in (panics otherwise).
    pub async fn register(&mut self, username: &str, password: &str) {
        let fields = [
            ("username", username),
            ("password", password),
            ("password_confirm", password),
        ];
        self.submit_to_home("/auth/register", &fields).await;
    }

    /// Signs in through the form (panics unless it lands on /home).
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let fields = [("username", username), ("password", password)];
        self.submit_to_home("/auth/login", &fields).await
    }
}
